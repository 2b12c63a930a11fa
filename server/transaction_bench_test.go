package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medbridge/medbridge/server/servertest"
)

// BenchmarkTransaction posts transaction Bundles of 100 new Observations
// (each of one of 20 Patients, heart rates) over HTTP into the embedded
// SQLite store, from 1 and from 2 clients, with the audit trail (one
// AuditEvent per Bundle, committed with it) and without, and reports
// resources/s. The Bundles are made before the clock starts.
//
//	go test ./server -run '^$' -bench BenchmarkTransaction -benchtime 50x
func BenchmarkTransaction(b *testing.B) {
	for _, clients := range []int{1, 2} {
		for _, audited := range []bool{true, false} {
			b.Run(fmt.Sprintf("clients=%d/audit=%v", clients, audited), func(b *testing.B) {
				benchmarkTransaction(b, clients, audited)
			})
		}
	}
}

func benchmarkTransaction(b *testing.B, clients int, audited bool) {
	const size = 100
	var opts []servertest.Option
	if !audited {
		opts = append(opts, servertest.WithoutAudit())
	}
	srv := servertest.StartBackend(b, servertest.SQLite, opts...)
	var seq atomic.Int64
	bundle := func() []byte {
		entries := make([]txEntry, size)
		for i := range entries {
			n := seq.Add(1)
			entries[i] = txPost("", "Observation", txObservation(fmt.Sprintf("Patient/bench-%d", n%20), 50+int(n%60)))
		}
		body, err := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries})
		if err != nil {
			b.Fatal(err)
		}
		return body
	}
	post := func(body []byte) error {
		res, err := http.Post(srv.Base, "application/fhir+json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("transaction: %s", res.Status)
		}
		return nil
	}
	if err := post(bundle()); err != nil { // warm up
		b.Fatal(err)
	}
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i] = bundle()
	}
	elapsed := runClients(b, clients, func(i int) error { return post(bodies[i]) })
	b.ReportMetric(float64(b.N*size)/elapsed.Seconds(), "resources/s")
	b.ReportMetric(0, "ns/op")
}

// runClients runs do(0) … do(b.N-1) from clients goroutines, timed.
func runClients(b *testing.B, clients int, do func(i int) error) time.Duration {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	b.ResetTimer()
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
				if err := do(int(i)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	return time.Since(start)
}
