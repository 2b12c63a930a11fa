package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

// planShapes are the searches TestQueryPlans explains: the four
// (the patient's recent heart rates, a name, a chained identifier, a
// _revinclude), then one or more per parameter type, modifier and prefix,
// chains, _has, sorting and paging.
var planShapes = []string{
	"Observation?patient=p00001&code=http://loinc.org%7C8867-4&date=ge2024-06-01&_sort=-date&_count=50",
	"Patient?name=smi",
	"Observation?subject.identifier=http://hospital.example.org/mrn%7CMRN00002",
	"Observation?subject:Patient.identifier=MRN00002&_sort=-date",
	// token
	"Observation?code=8867-4", "Observation?code=http://loinc.org%7C8867-4,http://loinc.org%7C8310-5",
	"Observation?code=%7C8867-4", "Observation?code=http://loinc.org%7C",
	"Observation?code:text=heart", "Observation?code:not=8867-4", "Observation?status:not=final&code=8867-4",
	"Patient?gender:in=http://hl7.org/fhir/ValueSet/administrative-gender",
	"Patient?gender:not-in=http://hl7.org/fhir/ValueSet/administrative-gender&name=smith",
	"Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203%7CMR%7CMRN00001",
	"Patient?_id=p00001,p00002",
	// string
	"Patient?name:exact=Smith0", "Patient?name:contains=ith", "Patient?family=m%C3%BCl&given=anna",
	// reference
	"Observation?subject=Patient/p00001", "Observation?subject=p00001", "Observation?subject:Patient=p00001",
	"Observation?subject=http://other.example.org/fhir/Patient/1", "Observation?subject:identifier=MRN00001",
	// date
	"Observation?date=2024-06-01", "Observation?date=ne2024-06-01", "Observation?date=gt2025-12-01",
	"Observation?date=lt2024-01-02", "Observation?date=ge2025-12-01", "Observation?date=le2024-01-02",
	"Observation?date=sa2025-12-01", "Observation?date=eb2024-01-02", "Observation?date=ap2024-06-01",
	"Patient?birthdate=1950-02-02",
	// number, quantity
	"RiskAssessment?probability=0.5", "RiskAssessment?probability=gt0.5",
	"Observation?value-quantity=72", "Observation?value-quantity=gt72%7C%7C/min",
	"Observation?value-quantity=70%7Chttp://unitsofmeasure.org%7Ckg", "Observation?value-quantity=le70000%7Chttp://unitsofmeasure.org%7Cg",
	"Observation?value-quantity=ne72",
	// uri
	"ValueSet?url=http://example.org/vs", "ValueSet?url:below=http://example.org/", "ValueSet?url:above=http://example.org/a/b",
	// composite
	"Observation?component-code-value-quantity=http://loinc.org%7C8480-6$gt140",
	"Observation?code-value-quantity=8867-4$gt100",
	// :missing
	"Observation?value-quantity:missing=true", "Observation?value-quantity:missing=false",
	"Patient?gender:missing=true&name=smith",
	// chains, _has
	"Observation?subject:Patient.name=smith", "Observation?subject:Patient.organization.name=hospital",
	"Observation?subject.gender=female&code=8867-4",
	"Patient?_has:Observation:patient:code=85354-9", "Patient?_has:Observation:patient:code=85354-9&name=smith",
	"Organization?_has:Patient:organization:_has:Observation:patient:code=8867-4",
	// several types, all types
	"?_type=Patient,Practitioner&name=smith", "?_id=p00001", "?_type=Patient,Observation",
	// sort and plain type reads
	"Patient?", "Patient?_sort=name", "Patient?_sort=-birthdate,name", "Observation?patient=p00001&_sort=value-quantity",
	"Observation?patient=p00001&_sort=code,-date", "ValueSet?_sort=url",
}

// TestQueryPlans runs EXPLAIN QUERY PLAN for every statement the
// planShapes' searches run (first page, next page, previous page, with
// totals) and fails on a SCAN of resources or an index table: every
// access must be an index SEARCH. Temporary tables (the materialized
// matches m, the walk's bounded list w, a page p, VALUES lists) may be
// scanned.
func TestQueryPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	genLoad(t, s, 6, 5)
	// Resources with the parameters the generated data lacks.
	for i, js := range []string{
		`{"resourceType":"ValueSet","id":"vs1","status":"active","url":"http://example.org/vs"}`,
		`{"resourceType":"RiskAssessment","id":"ra1","status":"final","subject":{"reference":"Patient/p00001"},"prediction":[{"probabilityDecimal":0.6}]}`,
		`{"resourceType":"Practitioner","id":"pr1","name":[{"family":"Smith"}]}`,
		`{"resourceType":"Patient","id":"typed","identifier":[{"system":"http://x","value":"1",` +
			`"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]}}]}`,
		`{"resourceType":"Observation","id":"refs","status":"final","code":{"text":"x"},` +
			`"subject":{"reference":"http://other.example.org/fhir/Patient/1","identifier":{"system":"http://x","value":"MRN00001"}}}`,
	} {
		writeJSON(t, s, js, int64(i))
	}
	spec, err := conformance.Load()
	if err != nil {
		t.Fatal(err)
	}
	var traced []expr
	s.searches.trace = func(q expr) { traced = append(traced, q) }

	// A SCAN may read a temporary table: the materialized matches m, the
	// walk's w (also under the alias of resources it stands in for), a
	// page p, a subquery or a VALUES or JSON list.
	scan := regexp.MustCompile(`^SCAN (\S+)`)
	temporary := regexp.MustCompile(`^(m|p|w|\(subquery-\d+\)|json_each|CONSTANT|\d+|\d+-ROW)$`)
	cteAlias := regexp.MustCompile(`FROM [mw] (\w+)`)
	scans := func(t *testing.T, q expr) (plan []string, bad bool) {
		t.Helper()
		allowed := map[string]bool{}
		for _, m := range cteAlias.FindAllStringSubmatch(q.sql, -1) {
			allowed[m[1]] = true
		}
		rows, err := s.reader.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q.sql, q.args...)
		if err != nil {
			t.Fatalf("EXPLAIN: %v\n%s", err, q.sql)
		}
		defer rows.Close()
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
			if m := scan.FindStringSubmatch(detail); m != nil && !temporary.MatchString(m[1]) && !allowed[m[1]] {
				bad = true
			}
		}
		return plan, bad
	}
	if _, bad := scans(t, expr{sql: "SELECT count(*) FROM idx_token x1 WHERE x1.code = 'a'"}); !bad {
		t.Fatal("the check misses a scan of an index table")
	}
	explain := func(t *testing.T, q expr) {
		t.Helper()
		plan, bad := scans(t, q)
		if bad {
			t.Errorf("a table is scanned:\n%s\n  %s", q.sql, strings.Join(plan, "\n  "))
		} else if testing.Verbose() {
			t.Logf("%s\n  %s", q.sql, strings.Join(plan, "\n  "))
		}
	}
	// Each shape also with thresholds so small that the walk (and its
	// fallback) read the pages.
	defer func(p, f, w int) { probeMax, walkFactor, walkRows = p, f, w }(probeMax, walkFactor, walkRows)
	for _, small := range []bool{false, true} {
		if small {
			probeMax, walkFactor, walkRows = 2, 1, 1000
		}
		for _, shape := range planShapes {
			t.Run(fmt.Sprintf("%s small=%t", shape, small), func(t *testing.T) {
				path, raw, _ := strings.Cut(shape, "?")
				params, err := url.ParseQuery(raw)
				if err != nil {
					t.Fatal(err)
				}
				var types []string
				if path != "" {
					types = []string{path}
				}
				q, err := search.ParseQuery(spec, types, params, search.Options{Strict: true})
				if err != nil {
					t.Fatal(err)
				}
				q.Total, q.Count = "accurate", 2
				traced = traced[:0]
				page, err := s.Search(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if page.Next != "" {
					q.After = page.Next
					if page, err = s.Search(ctx, q); err != nil {
						t.Fatal(err)
					}
					if page.Prev != "" {
						q.After, q.Before = "", page.Prev
						if _, err := s.Search(ctx, q); err != nil {
							t.Fatal(err)
						}
					}
				}
				if len(traced) == 0 {
					t.Fatal("no statement ran: the shape needs data that has its parameters")
				}
				for _, stmt := range traced {
					explain(t, stmt)
				}
			})
		}
	}
	probeMax, walkFactor, walkRows = 4096, 20, 5000
	// _revinclude=Observation:* of a page of patients: every reference
	// parameter of Observation, ORed; a page of 1000 passes its values as
	// JSON.
	for _, n := range []int{20, 1000} {
		t.Run(fmt.Sprintf("revinclude of %d", n), func(t *testing.T) {
			params, err := spec.SearchParams("Observation")
			if err != nil {
				t.Fatal(err)
			}
			var values []search.Value
			for i := range n {
				values = append(values, search.Value{RefType: "Patient", RefID: genPatientID(i)})
			}
			var f search.Filter
			for _, code := range spec.SearchParamCodes("Observation") {
				if p := params[code]; p.Type == conformance.ParamReference {
					f.Or = append(f.Or, search.Filter{Param: p, Values: values})
				}
			}
			traced = traced[:0]
			page, err := s.Search(ctx, &search.Query{Types: []string{"Observation"}, Filters: []search.Filter{f}, Count: 1000, Total: "none"})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Resources) != 30 {
				t.Errorf("%d resources, want the 30 observations", len(page.Resources))
			}
			for _, stmt := range traced {
				explain(t, stmt)
			}
		})
	}
	t.Run("ReadCurrent", func(t *testing.T) {
		for _, n := range []int{3, 700} {
			var refs []storage.Ref
			for i := range n {
				refs = append(refs, storage.Ref{Type: "Patient", ID: genPatientID(i)})
			}
			traced = traced[:0]
			got, err := s.ReadCurrent(ctx, refs)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != min(n, 6) {
				t.Errorf("ReadCurrent of %d patients: %d, want %d", n, len(got), min(n, 6))
			}
			for _, stmt := range traced {
				explain(t, stmt)
			}
		}
	})
	// $lastn and $stats: the matches through the search's driver (or the
	// type's live index), then each match's index values by rid.
	for _, shape := range aggregateShapes {
		t.Run("LastN and Stats "+shape, func(t *testing.T) {
			params, err := url.ParseQuery(shape)
			if err != nil {
				t.Fatal(err)
			}
			q, err := search.ParseQuery(spec, []string{"Observation"}, params, search.Options{Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			traced = traced[:0]
			if _, err := s.LastN(ctx, q, 3); err != nil {
				t.Fatal(err)
			}
			for _, param := range []string{"value-quantity", "component-value-quantity"} {
				if _, err := s.Stats(ctx, q, param, []float64{0.5, 0.9}); err != nil {
					t.Fatal(err)
				}
			}
			for _, stmt := range traced {
				explain(t, stmt)
			}
		})
	}
}

// aggregateShapes are the Observation searches TestQueryPlans runs LastN
// and Stats on.
var aggregateShapes = []string{
	"", "patient=p00001", "patient=p00001&category=vital-signs", "code=8867-4&date=ge2024-01-02",
	"subject:Patient.name=smith", "code:not=8867-4",
}

// writeJSON creates the resource js with its index entries.
func writeJSON(t *testing.T, s *Store, js string, k int64) {
	t.Helper()
	x, err := genExtractor()
	if err != nil {
		t.Fatal(err)
	}
	var head struct{ ResourceType, ID string }
	if err := json.Unmarshal([]byte(js), &head); err != nil {
		t.Fatal(err)
	}
	entries, err := x.Extract(head.ResourceType, []byte(js))
	if err != nil {
		t.Fatal(err)
	}
	r := fhir.Resource{Type: head.ResourceType, ID: head.ID, Version: 1, Method: "POST",
		LastUpdated: genEpoch.Add(time.Duration(k) * time.Second), JSON: []byte(js)}
	if err := s.Write(context.Background(), storage.Write{Resource: r, Index: entries}); err != nil {
		t.Fatal(err)
	}
}
