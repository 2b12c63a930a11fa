package sqlite

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// benchBatchSize is the batch device ingest sends.
const benchBatchSize = 1000

// benchObservations are benchBatchSize generated vital signs (gen_test.go)
// with their index entries, keeping only the parameters in keep (all when
// keep is nil).
func benchObservations(b *testing.B, keep []string) ([][]byte, [][]storage.IndexEntry) {
	b.Helper()
	x, err := genExtractor()
	if err != nil {
		b.Fatal(err)
	}
	jsons := make([][]byte, benchBatchSize)
	entries := make([][]storage.IndexEntry, benchBatchSize)
	for k := range benchBatchSize {
		typ, _, js := genObservation(k%100, k/100)
		all, err := x.Extract(typ, []byte(js))
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range all {
			if keep == nil || slices.Contains(keep, e.Param) {
				entries[k] = append(entries[k], e)
			}
		}
		jsons[k] = []byte(js)
	}
	return jsons, entries
}

// BenchmarkWriteBatch measures WriteBatch of 1,000 Observations, each batch
// one transaction: creates, and updates of the same 1,000 (which also
// delete the previous index rows). "entries=10" keeps ten index entries
// per Observation (status, category, code ×2, subject, patient,
// performer, date, value-quantity, _lastUpdated); "entries=all" has every
// entry the extractor gives a vital sign (18 to 24, composites included).
//
//	go test ./storage/sqlite -run '^$' -bench BenchmarkWriteBatch -benchtime 20x
func BenchmarkWriteBatch(b *testing.B) {
	ten := []string{"status", "category", "code", "subject", "patient", "performer", "date", "value-quantity", "_lastUpdated"}
	for _, entries := range []struct {
		name string
		keep []string
	}{{"entries=10", ten}, {"entries=all", nil}} {
		jsons, index := benchObservations(b, entries.keep)
		var n int
		for _, e := range index {
			n += len(e)
		}
		for _, update := range []bool{false, true} {
			name := entries.name + "/create"
			if update {
				name = entries.name + "/update"
			}
			b.Run(name, func(b *testing.B) {
				s := benchStore(b)
				ctx := context.Background()
				batch := func(round int) {
					ws := make([]storage.Write, benchBatchSize)
					for k := range ws {
						id := fmt.Sprintf("o%d-%d", round, k)
						v := int64(1)
						if update {
							id, v = fmt.Sprintf("o%d", k), int64(round+1)
						}
						ws[k] = storage.Write{
							Resource: fhir.Resource{Type: "Observation", ID: id, Version: v, Method: "PUT",
								LastUpdated: genEpoch.Add(time.Duration(round*benchBatchSize+k) * time.Microsecond), JSON: jsons[k]},
							Expected: v - 1,
							Index:    index[k],
						}
					}
					for k, err := range s.WriteBatch(ctx, ws) {
						if err != nil {
							b.Fatalf("write %d: %v", k, err)
						}
					}
				}
				round := 0
				if update {
					batch(round) // the creates
					round++
				}
				b.ResetTimer()
				for b.Loop() {
					batch(round)
					round++
				}
				b.ReportMetric(float64(b.N*benchBatchSize)/b.Elapsed().Seconds(), "resources/s")
				b.ReportMetric(float64(n)/benchBatchSize, "entries/resource")
			})
		}
	}
}
