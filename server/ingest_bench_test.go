package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medbridge/medbridge/mappers"
	"github.com/medbridge/medbridge/server/servertest"
)

// BenchmarkIngest posts batches of 1,000 Open mHealth heart-rate readings
// (NDJSON, 20 patients with a wearable each, every reading new) over HTTP
// into the embedded SQLite store, from 2 clients, and reports readings/s.
// After the run it measures the time from an ingest answer to the reading
// appearing in $lastn.
//
//	go test ./server -run '^$' -bench BenchmarkIngest -benchtime 20x
func BenchmarkIngest(b *testing.B) {
	srv := servertest.StartBackend(b, servertest.SQLite, servertest.WithIngest(b, ""))
	const batchSize = 1000
	var next atomic.Int64
	batch := func() []byte {
		n := next.Add(1)
		lines := make([][]byte, batchSize)
		for i := range lines {
			seq := n*batchSize + int64(i)
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(seq) * time.Second)
			lines[i] = fmt.Appendf(nil, `{"header":{"uuid":"00000000-0000-4000-8000-%012d","schema_id":{"namespace":"omh","name":"heart-rate","version":"2.0"},"external_datasheets":[{"datasheet_type":"manufacturer","datasheet_reference":"Pulseband 4"}],"user_id":"bench-%d"},"body":{"heart_rate":{"value":%d,"unit":"beats/min"},"effective_time_frame":{"date_time":%q}}}`,
				seq, seq%20, 50+seq%60, at.Format(time.RFC3339))
		}
		return bytes.Join(lines, []byte("\n"))
	}
	post := func(body []byte) error {
		res, err := http.Post(srv.Root+"/ingest/omh", "application/x-ndjson", bytes.NewReader(body))
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("ingest: %s", res.Status)
		}
		return nil
	}
	// Warm up: the first readings create the Patients and Devices.
	if err := post(batch()); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(1) // GOMAXPROCS (2 here) clients
	start := time.Now()
	var batches atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := batch()
			if err := post(body); err != nil {
				b.Error(err)
				return
			}
			batches.Add(1)
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(batches.Load()*batchSize)/time.Since(start).Seconds(), "readings/s")
	b.ReportMetric(0, "ns/op")

	// Ingest answer → visible in $lastn: one reading, then $lastn at once.
	at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	reading := fmt.Appendf(nil, `{"header":{"uuid":"00000000-0000-4000-8000-999999999999","schema_id":{"namespace":"omh","name":"heart-rate","version":"2.0"},"user_id":"bench-0"},"body":{"heart_rate":{"value":123,"unit":"beats/min"},"effective_time_frame":{"date_time":%q}}}`, at.Format(time.RFC3339))
	t0 := time.Now()
	if err := post(reading); err != nil {
		b.Fatal(err)
	}
	answered := time.Now()
	patient := mappers.IdentifierID(mappers.Identifier{Value: "bench-0"})
	set := search(b, srv, "/fhir/Observation/$lastn?patient=Patient/"+patient+"&code=http://loinc.org|8867-4")
	visible := time.Since(answered)
	found := false
	for _, e := range set.Entry {
		found = found || bytes.Contains(e.Resource, []byte(`"value":123`))
	}
	if !found {
		b.Fatal("the reading is not in $lastn right after ingest answered")
	}
	b.ReportMetric(float64(answered.Sub(t0).Microseconds())/1000, "ingest-one-ms")
	b.ReportMetric(float64(visible.Microseconds())/1000, "to-lastn-ms")
}
