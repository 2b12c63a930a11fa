package sqlite

import (
	"context"
	"math/rand/v2"
	"net/url"
	"testing"
	"time"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/search"
)

// aggregateBench is a store with generated data (gen_test.go) for the
// LastN and Stats benchmarks: MEDBRIDGE_BENCH_PATIENTS patients (default
// 10) with MEDBRIDGE_BENCH_OBSERVATIONS observations each (default 2000),
// of the generator's eight vital signs, and a parser of Observation
// searches.
func aggregateBench(b *testing.B) (s *Store, patients, perPatient int, parse func(string) *search.Query) {
	patients = envInt(b, "MEDBRIDGE_BENCH_PATIENTS", 10)
	perPatient = envInt(b, "MEDBRIDGE_BENCH_OBSERVATIONS", 2000)
	s, err := Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	start := time.Now()
	n := genLoad(b, s, patients, perPatient)
	b.Logf("loaded %d resources in %v", n, time.Since(start).Round(time.Millisecond))
	spec, err := conformance.Load()
	if err != nil {
		b.Fatal(err)
	}
	parse = func(raw string) *search.Query {
		values, err := url.ParseQuery(raw)
		if err != nil {
			b.Fatal(err)
		}
		q, err := search.ParseQuery(spec, []string{"Observation"}, values, search.Options{Strict: true})
		if err != nil {
			b.Fatal(err)
		}
		return q
	}
	return s, patients, perPatient, parse
}

// BenchmarkLastN measures $lastn shapes: one patient's vital signs (max 1
// and 3), one patient's code, and every Observation. It reports p50 and
// p95 latency and the resources returned.
//
//	go test ./storage/sqlite -run '^$' -bench BenchmarkLastN -benchtime 100x
func BenchmarkLastN(b *testing.B) {
	s, patients, _, parse := aggregateBench(b)
	patient := func() string { return genPatientID(rand.IntN(patients)) }
	shapes := []struct {
		name  string
		query func() string
		max   int
	}{
		{"patient-category-max1", func() string { return "patient=" + patient() + "&category=vital-signs" }, 1},
		{"patient-category-max3", func() string { return "patient=" + patient() + "&category=vital-signs" }, 3},
		{"patient-code-max3", func() string { return "patient=" + patient() + "&code=http://loinc.org%7C8867-4" }, 3},
		{"all-max1", func() string { return "" }, 1},
	}
	for _, shape := range shapes {
		b.Run(shape.name, func(b *testing.B) {
			var latencies []time.Duration
			results := 0
			for b.Loop() {
				q := parse(shape.query())
				start := time.Now()
				got, err := s.LastN(context.Background(), q, shape.max)
				latencies = append(latencies, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				results += len(got)
			}
			reportLatency(b, latencies)
			b.ReportMetric(float64(results)/float64(len(latencies)), "results/op")
		})
	}
}

// BenchmarkStats measures $stats shapes with the median and the 20% and
// 80% quantiles: one patient's heart rates, one patient's blood pressure
// components, every heart rate, and every value-quantity. It reports p50
// and p95 latency and the values summarized.
//
//	go test ./storage/sqlite -run '^$' -bench BenchmarkStats -benchtime 100x
func BenchmarkStats(b *testing.B) {
	s, patients, _, parse := aggregateBench(b)
	patient := func() string { return genPatientID(rand.IntN(patients)) }
	shapes := []struct {
		name, param string
		query       func() string
	}{
		{"patient-code", "value-quantity", func() string { return "patient=" + patient() + "&code=8867-4" }},
		{"patient-components", "component-value-quantity", func() string { return "patient=" + patient() + "&code=85354-9" }},
		{"code", "value-quantity", func() string { return "code=8867-4" }},
		{"all", "value-quantity", func() string { return "" }},
	}
	for _, shape := range shapes {
		b.Run(shape.name, func(b *testing.B) {
			var latencies []time.Duration
			values := 0
			for b.Loop() {
				q := parse(shape.query())
				start := time.Now()
				got, err := s.Stats(context.Background(), q, shape.param, []float64{0.5, 0.2, 0.8})
				latencies = append(latencies, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				for _, st := range got {
					values += st.Count
				}
			}
			reportLatency(b, latencies)
			b.ReportMetric(float64(values)/float64(len(latencies)), "values/op")
		})
	}
}
