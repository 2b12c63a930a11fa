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
	storagetest.Run(t, func(t *testing.T, dir string) storage.Store {
		s, err := Open(context.Background(), dir)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// benchJSON is a resource of a typical size (about 1 KiB).
var benchJSON = []byte(`{"resourceType":"Patient","id":"x","meta":{"versionId":"1","lastUpdated":"2026-03-01T12:00:00.000000Z"},` +
	`"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">` + string(bytes.Repeat([]byte("x"), 700)) + `</div>"},` +
	`"name":[{"family":"Chalmers","given":["Peter","James"]}],"gender":"male","birthDate":"1974-12-25"}`)

func benchStore(b *testing.B, writerConns int) *Store {
	b.Helper()
	s, err := open(context.Background(), b.TempDir(), writerConns)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkWrite measures concurrent creates, each its own durable
// transaction, with one writer connection (what Open does) and with a pool
// of writers contending for SQLite's write lock.
func BenchmarkWrite(b *testing.B) {
	for _, writers := range []int{1, 4} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s := benchStore(b, writers)
			var n atomic.Int64
			b.SetParallelism(8)
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
	s := benchStore(b, 1)
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
	s := benchStore(b, 1)
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
