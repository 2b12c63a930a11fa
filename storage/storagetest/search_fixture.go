package storagetest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

// searchWorld is the small data set the search tests run on. Ids are unique
// across types, so results read as lists of bare ids.
//
// The Observations' dates as UTC ranges [start, end), from which the date
// cases follow:
//
//	obs-1  2026-03-04T10:00:00+01:00  [03-04T09:00:00, 09:00:01)
//	obs-2  2026-03-04                 [03-04T00:00, 03-05T00:00)
//	obs-3  Period 03-01T00:00Z..03-10T00:00:00Z  [03-01T00:00, 03-10T00:00:01)
//	obs-4  Period from 2026-02-01, open          [02-01T00:00, ∞)
//	obs-5  2025-12-31T23:30:00Z       [23:30:00, 23:30:01)
//	obs-6  2024                       [2024-01-01, 2025-01-01)
//	obs-7  none
//	obs-8  2026-03-04T23:30:00-05:00  [03-05T04:30:00, 04:30:01)
//	obs-9  2026-03                    [03-01T00:00, 04-01T00:00)
//
// Quantities (UCUM unless said): obs-1 72 /min, obs-2 100 /min, obs-5 70.0
// kg, obs-6 5.5 mmol/L without a system, obs-8 55 /min, obs-9 70500 g
// (70.5 kg); obs-3 and obs-4 are blood pressure panels with components
// only: obs-3 systolic 150 and diastolic 90, obs-4 systolic 120 and
// diastolic 145 mm[Hg].
var searchWorld = []string{
	`{"resourceType":"Organization","id":"org-1","name":"Acme Health",
	  "identifier":[{"system":"http://example.org/org","value":"acme"}]}`,
	`{"resourceType":"Organization","id":"org-2","name":"Bürgerspital","partOf":{"reference":"Organization/org-1"}}`,
	`{"resourceType":"Practitioner","id":"prac-1","name":[{"family":"Smith","given":["Anna"]}]}`,
	`{"resourceType":"Group","id":"grp-1","type":"person","actual":true,"name":"Ward 3"}`,

	`{"resourceType":"Patient","id":"pat-1","active":true,"gender":"female","birthDate":"1980-05-17",
	  "name":[{"family":"Müller","given":["Anna"]}],
	  "identifier":[{"system":"http://example.org/mrn","value":"A1",
	    "type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]}}],
	  "address":[{"city":"Zürich"}],
	  "managingOrganization":{"reference":"Organization/org-1"}}`,
	`{"resourceType":"Patient","id":"pat-2","active":false,"gender":"male","birthDate":"1975",
	  "name":[{"family":"Mueller","given":["Bob"]}],
	  "identifier":[{"system":"http://example.org/mrn","value":"B2"}],
	  "managingOrganization":{"reference":"Organization/org-2"}}`,
	`{"resourceType":"Patient","id":"pat-3","birthDate":"1990-01-01","name":[{"family":"Smithson","given":["Carla"]}]}`,
	`{"resourceType":"Patient","id":"pat-4","gender":"female","birthDate":"2026-03-04",
	  "name":[{"family":"Ångström","given":["Dana","Marie"]}],
	  "identifier":[{"value":"X9"}],
	  "link":[{"other":{"reference":"Patient/pat-1"},"type":"seealso"}]}`,

	`{"resourceType":"Encounter","id":"enc-1","status":"finished",
	  "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
	  "subject":{"reference":"Patient/pat-1"},
	  "period":{"start":"2026-03-04T08:00:00Z","end":"2026-03-04T12:00:00Z"}}`,

	`{"resourceType":"Observation","id":"obs-1","status":"final",
	  "code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},
	  "subject":{"reference":"Patient/pat-1"},"encounter":{"reference":"Encounter/enc-1"},
	  "performer":[{"reference":"Practitioner/prac-1"}],
	  "effectiveDateTime":"2026-03-04T10:00:00+01:00",
	  "valueQuantity":{"value":72,"system":"http://unitsofmeasure.org","code":"/min"}}`,
	`{"resourceType":"Observation","id":"obs-2","status":"preliminary",
	  "code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},
	  "subject":{"reference":"Patient/pat-2"},
	  "effectiveDateTime":"2026-03-04",
	  "valueQuantity":{"value":100,"system":"http://unitsofmeasure.org","code":"/min"}}`,
	`{"resourceType":"Observation","id":"obs-3","status":"final",
	  "code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},
	  "subject":{"reference":"Patient/pat-1"},
	  "effectivePeriod":{"start":"2026-03-01T00:00:00Z","end":"2026-03-10T00:00:00Z"},
	  "component":[
	    {"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":150,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}},
	    {"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":90,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}`,
	`{"resourceType":"Observation","id":"obs-4","status":"final",
	  "code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},
	  "subject":{"reference":"Patient/pat-2"},
	  "effectivePeriod":{"start":"2026-02-01"},
	  "component":[
	    {"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":120,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}},
	    {"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":145,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}`,
	`{"resourceType":"Observation","id":"obs-5","status":"final",
	  "code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},
	  "subject":{"reference":"Patient/pat-3"},
	  "effectiveDateTime":"2025-12-31T23:30:00Z",
	  "valueQuantity":{"value":70.0,"system":"http://unitsofmeasure.org","code":"kg"}}`,
	`{"resourceType":"Observation","id":"obs-6","status":"amended",
	  "code":{"coding":[{"system":"http://loinc.org","code":"15074-8"}]},
	  "subject":{"reference":"Patient/pat-4","identifier":{"system":"http://example.org/mrn","value":"D4"}},
	  "effectiveDateTime":"2024",
	  "valueQuantity":{"value":5.5,"code":"mmol/L"}}`,
	`{"resourceType":"Observation","id":"obs-7","status":"final",
	  "code":{"text":"Free text only"},
	  "subject":{"reference":"http://other.example.org/fhir/Patient/ext-1"},
	  "valueString":"fine"}`,
	`{"resourceType":"Observation","id":"obs-8","status":"final",
	  "code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},
	  "subject":{"reference":"Group/grp-1"},
	  "effectiveDateTime":"2026-03-04T23:30:00-05:00",
	  "valueQuantity":{"value":55,"system":"http://unitsofmeasure.org","code":"/min"}}`,
	`{"resourceType":"Observation","id":"obs-9","status":"final",
	  "code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},
	  "subject":{"reference":"Patient/pat-3"},
	  "effectiveDateTime":"2026-03",
	  "valueQuantity":{"value":70500,"system":"http://unitsofmeasure.org","code":"g"}}`,

	`{"resourceType":"RiskAssessment","id":"ra-1","status":"final","subject":{"reference":"Patient/pat-1"},"prediction":[{"probabilityDecimal":0.02}]}`,
	`{"resourceType":"RiskAssessment","id":"ra-2","status":"final","subject":{"reference":"Patient/pat-2"},"prediction":[{"probabilityDecimal":0.25}]}`,
	`{"resourceType":"RiskAssessment","id":"ra-3","status":"final","subject":{"reference":"Patient/pat-3"}}`,

	`{"resourceType":"ValueSet","id":"vs-1","status":"active","url":"http://example.org/fhir/ValueSet/a"}`,
	`{"resourceType":"ValueSet","id":"vs-2","status":"active","url":"http://example.org/fhir/terminology/ValueSet/b"}`,
	`{"resourceType":"ValueSet","id":"vs-3","status":"active","url":"http://other.org/ValueSet/c"}`,
}

// searchWorldGone are resources of searchWorld's kinds that are written
// and deleted again: no search may find them.
var searchWorldGone = []string{
	`{"resourceType":"Patient","id":"gone-1","gender":"male","name":[{"family":"Müller"}],
	  "managingOrganization":{"reference":"Organization/org-1"}}`,
	`{"resourceType":"Observation","id":"gone-2","status":"final",
	  "code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},
	  "subject":{"reference":"Patient/pat-3"},"effectiveDateTime":"2026-03-04"}`,
}

// spec and extractor are the R4 definitions and index extraction, loaded once.
var specAndExtractor = sync.OnceValues(func() (*specData, error) {
	spec, err := conformance.Load()
	if err != nil {
		return nil, err
	}
	x, err := storage.NewExtractor(spec)
	if err != nil {
		return nil, err
	}
	return &specData{spec: spec, x: x}, nil
})

type specData struct {
	spec *conformance.Spec
	x    *storage.Extractor
}

func loadSpec(t testing.TB) *specData {
	t.Helper()
	d, err := specAndExtractor()
	if err != nil {
		t.Fatalf("loading the R4 spec: %v", err)
	}
	return d
}

// save writes raw as the next version of its resource (a create when the
// model has none), with the index entries the real Extractor computes, at
// the model's next instant.
func (f *fixture) save(t testing.TB, raw string) fhir.Resource {
	t.Helper()
	var head struct{ ResourceType, ID string }
	if err := json.Unmarshal([]byte(raw), &head); err != nil || head.ResourceType == "" || head.ID == "" {
		t.Fatalf("fixture resource without resourceType and id (%v): %s", err, raw)
	}
	entries, err := loadSpec(t).x.Extract(head.ResourceType, []byte(raw))
	if err != nil {
		t.Fatalf("Extract %s/%s: %v", head.ResourceType, head.ID, err)
	}
	cur, _ := f.m.current(head.ResourceType, head.ID)
	r := version(head.ResourceType, head.ID, cur.Version+1, at(len(f.m.versions)))
	r.JSON = compact(t, raw)
	f.write(t, storage.Write{Resource: r, Expected: cur.Version, Index: entries})
	return r
}

// remove deletes typ/id, which the model must have.
func (f *fixture) remove(t testing.TB, typ, id string) {
	t.Helper()
	cur, ok := f.m.current(typ, id)
	if !ok {
		t.Fatalf("remove %s/%s: not in the model", typ, id)
	}
	f.write(t, storage.Write{Resource: deletion(typ, id, cur.Version+1, at(len(f.m.versions))), Expected: cur.Version})
}

func (f *fixture) write(t testing.TB, w storage.Write) {
	t.Helper()
	if err := f.s.Write(context.Background(), w); err != nil {
		r := w.Resource
		t.Fatalf("Write %s/%s version %d: %v", r.Type, r.ID, r.Version, err)
	}
	f.m.add(w.Resource)
}

func compact(t testing.TB, raw string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(raw)); err != nil {
		t.Fatalf("fixture JSON: %v", err)
	}
	return b.Bytes()
}

// loadSearchWorld opens a fresh store holding searchWorld, with the
// resources of searchWorldGone created and deleted again.
func (s suite) loadSearchWorld(t *testing.T) *fixture {
	t.Helper()
	f := s.fresh(t)
	for _, raw := range searchWorldGone {
		f.save(t, raw)
	}
	for _, raw := range searchWorld {
		f.save(t, raw)
	}
	f.remove(t, "Patient", "gone-1")
	f.remove(t, "Observation", "gone-2")
	return f
}

// parseQuery parses "Type?params" (or "?params" for a system search) as
// the server would, strictly, so that a typo in a case fails it.
func parseQuery(t testing.TB, request string) *search.Query {
	t.Helper()
	path, rawQuery, _ := strings.Cut(request, "?")
	params, err := url.ParseQuery(rawQuery)
	if err != nil {
		t.Fatalf("%s: %v", request, err)
	}
	var types []string
	if path != "" {
		types = strings.Split(path, ",")
	}
	q, err := search.ParseQuery(loadSpec(t).spec, types, params, search.Options{Strict: true})
	if err != nil {
		t.Fatalf("ParseQuery %s: %v", request, err)
	}
	return q
}
