package sqlite

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
	"github.com/medbridge/medbridge/storage/storagetest"
)

func TestStore(t *testing.T) {
	storagetest.Run(t, openForSuite)
}

// TestStoreSmallThresholds runs the suite with thresholds small enough
// for its data to take every way of reading a page: lookups probed past
// probeMax, pages found by a walk and by its fallback.
func TestStoreSmallThresholds(t *testing.T) {
	defer func(p, f, w int) { probeMax, walkFactor, walkRows = p, f, w }(probeMax, walkFactor, walkRows)
	probeMax, walkFactor, walkRows = 2, 1, 1000
	storagetest.Run(t, openForSuite)
}

func openForSuite(t *testing.T, dir string) storage.Store {
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// benchJSON is a resource of a typical size (about 1 KiB).
var benchJSON = []byte(`{"resourceType":"Patient","id":"x","meta":{"versionId":"1","lastUpdated":"2026-03-01T12:00:00.000000Z"},` +
	`"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">` + string(bytes.Repeat([]byte("x"), 700)) + `</div>"},` +
	`"name":[{"family":"Chalmers","given":["Peter","James"]}],"gender":"male","birthDate":"1974-12-25"}`)

func benchStore(b *testing.B) *Store {
	b.Helper()
	s, err := Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkWrite measures creates, each a durable write, from 1, 8 and 32
// goroutines per CPU; the more writers wait, the more share a commit.
func BenchmarkWrite(b *testing.B) {
	for _, parallelism := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("goroutines=%dxCPU", parallelism), func(b *testing.B) {
			s := benchStore(b)
			var n atomic.Int64
			b.SetParallelism(parallelism)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := fhir.Resource{
						Type: "Patient", ID: fmt.Sprintf("p%d", n.Add(1)), Version: 1,
						LastUpdated: time.Now(), Method: "POST", JSON: benchJSON,
					}
					if err := s.Write(context.Background(), storage.Write{Resource: r}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
		})
	}
}

// BenchmarkUpdate measures concurrent updates, each goroutine updating
// resources of its own so that none conflict.
func BenchmarkUpdate(b *testing.B) {
	s := benchStore(b)
	var goroutines atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		g := goroutines.Add(1)
		const own = 10
		var versions [own]int64
		for i := 0; pb.Next(); i = (i + 1) % own {
			r := fhir.Resource{
				Type: "Patient", ID: fmt.Sprintf("g%d-%d", g, i), Version: versions[i] + 1,
				LastUpdated: time.Now(), Method: "PUT", JSON: benchJSON,
			}
			if err := s.Write(context.Background(), storage.Write{Resource: r, Expected: versions[i]}); err != nil {
				b.Error(err)
				return
			}
			versions[i]++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
}

// BenchmarkRead measures concurrent reads of current versions.
func BenchmarkRead(b *testing.B) {
	const resources = 1000
	s := benchStore(b)
	for i := range resources {
		r := fhir.Resource{
			Type: "Patient", ID: fmt.Sprintf("p%d", i), Version: 1,
			LastUpdated: time.Now(), Method: "POST", JSON: benchJSON,
		}
		if err := s.Write(context.Background(), storage.Write{Resource: r}); err != nil {
			b.Fatal(err)
		}
	}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("p%d", rand.IntN(resources))
			if _, err := s.Read(context.Background(), "Patient", id); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}

// BenchmarkHistory measures history pages of 50. The data has 100 Patients
// written once, then 50 Observations updated 40 times each, so that "at
// now" must pass 2000 superseded versions to reach the Patients.
func BenchmarkHistory(b *testing.B) {
	s := benchStore(b)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	write := func(typ, id string, v int64) {
		clock = clock.Add(time.Millisecond)
		r := fhir.Resource{Type: typ, ID: id, Version: v, LastUpdated: clock, Method: "PUT", JSON: benchJSON}
		if err := s.Write(context.Background(), storage.Write{Resource: r, Expected: v - 1}); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 100 {
		write("Patient", fmt.Sprintf("p%d", i), 1)
	}
	for v := range int64(40) {
		for i := range 50 {
			write("Observation", fmt.Sprintf("o%d", i), v+1)
		}
	}
	now := clock.Add(time.Millisecond)
	for _, bb := range []struct {
		name  string
		q     storage.HistoryQuery
		pages bool // read every page, not just the first
	}{
		{"system", storage.HistoryQuery{}, false},
		{"type", storage.HistoryQuery{Type: "Observation"}, false},
		{"instance", storage.HistoryQuery{Type: "Observation", ID: "o7"}, false},
		{"since", storage.HistoryQuery{Since: now.Add(-100 * time.Millisecond)}, false},
		{"at now, all pages", storage.HistoryQuery{AtStart: now, AtEnd: now.Add(time.Millisecond)}, true},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					q := bb.q
					q.Count = 50
					for {
						page, err := s.History(context.Background(), q)
						if err != nil {
							b.Error(err)
							return
						}
						if !bb.pages || page.Next == nil {
							break
						}
						q.After = page.Next
					}
				}
			})
		})
	}
}
