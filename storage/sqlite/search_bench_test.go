package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/search"
)

// BenchmarkSearch measures the searches of the performance issue on
// generated data (gen_test.go): MEDBRIDGE_BENCH_PATIENTS patients (default
// 100) with MEDBRIDGE_BENCH_OBSERVATIONS observations each (default 100).
// It reports the load's duration and the database's size per resource,
// then each search's p50 and p95 latency. With MEDBRIDGE_BENCH_DIR the
// database is kept there and reused by later runs, so that a large data
// set is loaded once:
//
//	MEDBRIDGE_BENCH_PATIENTS=1000 MEDBRIDGE_BENCH_OBSERVATIONS=1000 MEDBRIDGE_BENCH_DIR=/tmp/bench \
//	  go test ./storage/sqlite -run '^$' -bench BenchmarkSearch -benchtime 200x -timeout 2h
func BenchmarkSearch(b *testing.B) {
	patients := envInt(b, "MEDBRIDGE_BENCH_PATIENTS", 100)
	perPatient := envInt(b, "MEDBRIDGE_BENCH_OBSERVATIONS", 100)
	dir := os.Getenv("MEDBRIDGE_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	ctx := context.Background()
	s, err := Open(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()

	var n int
	if err := s.reader.QueryRow("SELECT count(*) FROM resources").Scan(&n); err != nil {
		b.Fatal(err)
	}
	if n == 0 {
		start := time.Now()
		n = genLoad(b, s, patients, perPatient)
		elapsed := time.Since(start)
		b.Logf("loaded %d resources in %v (%.0f/s)", n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
	} else {
		b.Logf("reusing %d resources in %s", n, dir)
	}
	logSize(b, s, n)

	spec, err := conformance.Load()
	if err != nil {
		b.Fatal(err)
	}
	parse := func(request string) *search.Query {
		typ, rawQuery, _ := strings.Cut(request, "?")
		values, err := url.ParseQuery(rawQuery)
		if err != nil {
			b.Fatal(err)
		}
		q, err := search.ParseQuery(spec, []string{typ}, values, search.Options{})
		if err != nil {
			b.Fatal(err)
		}
		q.Total = "accurate" // as the server asks by default
		return q
	}
	patient := func() int { return rand.IntN(patients) }
	shapes := []struct {
		name  string
		query func() *search.Query
	}{
		{"patient-code-date-sort", func() *search.Query {
			return parse(fmt.Sprintf("Observation?patient=%s&code=http://loinc.org%%7C8867-4&date=ge%s&_sort=-date&_count=50",
				genPatientID(patient()), genObservationTime(perPatient/4).Format("2006-01-02")))
		}},
		{"name", func() *search.Query {
			i := patient()
			return parse(fmt.Sprintf("Patient?name=%s%d", genFamilies[i%len(genFamilies)], i))
		}},
		{"name-prefix", func() *search.Query {
			return parse("Patient?name=" + genFamilies[patient()%len(genFamilies)][:4])
		}},
		{"subject-identifier", func() *search.Query {
			return parse(fmt.Sprintf("Observation?subject.identifier=MRN%05d", patient()))
		}},
		{"revinclude-1-patient", func() *search.Query {
			q := parse("Observation?patient=" + genPatientID(patient()))
			q.Count, q.Total = 1000, "none" // as the server's _revinclude
			return q
		}},
		{"revinclude-page-of-20", func() *search.Query {
			ids := ""
			for i := range 20 {
				ids += "," + genPatientID((patient()+i)%patients)
			}
			q := parse("Observation?patient=" + ids[1:])
			q.Count, q.Total = 1000, "none"
			return q
		}},
		{"patient-everything-page", func() *search.Query {
			return parse("Observation?patient=" + genPatientID(patient()) + "&_count=50")
		}},
		{"code-recent", func() *search.Query {
			return parse("Observation?code=8867-4&date=gt" + genObservationTime(perPatient-3).Format("2006-01-02") + "&_count=50")
		}},
	}
	for _, shape := range shapes {
		b.Run(shape.name, func(b *testing.B) {
			var latencies []time.Duration
			results := 0
			for b.Loop() {
				q := shape.query()
				start := time.Now()
				page, err := s.Search(ctx, q)
				latencies = append(latencies, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				results += len(page.Resources)
			}
			reportLatency(b, latencies)
			b.ReportMetric(float64(results)/float64(len(latencies)), "results/op")
		})
	}
}

// reportLatency reports the p50 and p95 of latencies in milliseconds.
func reportLatency(b *testing.B, latencies []time.Duration) {
	if len(latencies) == 0 {
		return
	}
	slices.Sort(latencies)
	at := func(p float64) float64 {
		return float64(latencies[min(len(latencies)-1, int(p*float64(len(latencies))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.95), "p95-ms")
}

// logSize logs the database's size per resource, in total and for the
// resources table, the history and the search indexes.
func logSize(b *testing.B, s *Store, resources int) {
	var pages, pageSize int64
	if err := s.reader.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		b.Fatal(err)
	}
	if err := s.reader.QueryRow("PRAGMA page_size").Scan(&pageSize); err != nil {
		b.Fatal(err)
	}
	b.Logf("database: %.1f MB, %d bytes per resource", float64(pages*pageSize)/1e6, pages*pageSize/int64(max(resources, 1)))
	rows, err := s.reader.Query(`SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY sum(pgsize) DESC`)
	if err != nil {
		b.Logf("no per-table sizes (%v)", err)
		return
	}
	defer rows.Close()
	var index int64
	for rows.Next() {
		var name string
		var size int64
		if err := rows.Scan(&name, &size); err != nil {
			b.Fatal(err)
		}
		if strings.HasPrefix(name, "idx_") {
			index += size
		}
		b.Logf("  %-28s %8.1f MB %6d bytes/resource", name, float64(size)/1e6, size/int64(max(resources, 1)))
	}
	b.Logf("  search indexes together: %d bytes per resource", index/int64(max(resources, 1)))
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}
