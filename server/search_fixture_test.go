package server_test

import (
	"testing"

	"github.com/medbridge/medbridge/server/servertest"
)

// searchFixture is the small world the parameter-type tests search. Ids
// are unique across types, so a search result is a list of bare ids.
//
// Dates of the Observations as UTC ranges [start, end) — the expected
// results of the date tests follow from these:
//
//	obs-1  2026-03-04T10:00:00+01:00   [03-04T09:00:00, 09:00:01)
//	obs-2  2026-03-04                  [03-04T00:00, 03-05T00:00)
//	obs-3  Period 03-01T00:00Z..03-10T00:00:00Z  [03-01T00:00, 03-10T00:00:01)
//	obs-4  Period start 2026-02-01, no end       [02-01T00:00, ∞)
//	obs-5  2025-12-31T23:30:00Z        [23:30:00, 23:30:01)
//	obs-6  2024                        [2024-01-01, 2025-01-01)
//	obs-7  no effective[x]
//	obs-8  2026-03-04T23:30:00-05:00   [03-05T04:30:00, 04:30:01)
//
// Quantities: obs-1 72 /min, obs-2 100 /min, obs-5 70.0 kg, obs-6 5.5
// mmol/L without a system, obs-8 55 /min (UCUM unless said); obs-3 and obs-4
// are blood pressure panels with components only: obs-3 systolic 150 and
// diastolic 90, obs-4 systolic 120 and diastolic 145 mm[Hg].
var searchFixture = []string{
	`{"resourceType":"Organization","id":"org-1","name":"Acme Health","identifier":[{"system":"http://example.org/org","value":"acme"}]}`,
	`{"resourceType":"Organization","id":"org-2","name":"Bürgerspital"}`,
	`{"resourceType":"Organization","id":"org-3","name":"Smith, Jones and Partners"}`,
	`{"resourceType":"Practitioner","id":"prac-1","name":[{"family":"Smith","given":["Anna"]}],"identifier":[{"system":"http://example.org/npi","value":"111"}]}`,
	`{"resourceType":"Group","id":"grp-1","type":"person","actual":true,"name":"Ward 3"}`,

	`{"resourceType":"Patient","id":"pat-a","active":true,"gender":"female","birthDate":"1980-05-17",
	  "name":[{"family":"Müller","given":["Anna"]}],
	  "identifier":[{"system":"http://example.org/mrn","value":"A1","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]}}],
	  "address":[{"city":"Zürich","country":"CH"}],
	  "communication":[{"language":{"text":"German"}}],
	  "managingOrganization":{"reference":"Organization/org-1"},
	  "generalPractitioner":[{"reference":"Practitioner/prac-1"}]}`,
	`{"resourceType":"Patient","id":"pat-b","active":false,"gender":"male","birthDate":"1975",
	  "name":[{"family":"Mueller","given":["Bob"]}],
	  "identifier":[{"system":"http://example.org/mrn","value":"B2"}],
	  "managingOrganization":{"reference":"Organization/org-2"}}`,
	`{"resourceType":"Patient","id":"pat-c","birthDate":"1990-01-01",
	  "name":[{"family":"Smithson","given":["Carla"]}]}`,
	`{"resourceType":"Patient","id":"pat-d","gender":"female","birthDate":"2026-03-04",
	  "name":[{"family":"Ångström","given":["Dana","Marie"]}],
	  "identifier":[{"value":"X9"}],
	  "link":[{"other":{"reference":"Patient/pat-a"},"type":"seealso"}]}`,

	`{"resourceType":"Encounter","id":"enc-1","status":"finished",
	  "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
	  "subject":{"reference":"Patient/pat-a"},
	  "participant":[{"individual":{"reference":"Practitioner/prac-1"}}],
	  "period":{"start":"2026-03-04T08:00:00Z","end":"2026-03-04T12:00:00Z"},
	  "serviceProvider":{"reference":"Organization/org-1"}}`,
	`{"resourceType":"Encounter","id":"enc-2","status":"in-progress",
	  "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMP"},
	  "subject":{"reference":"Patient/pat-b"},
	  "period":{"start":"2026-03-05T09:00:00Z"}}`,
	`{"resourceType":"Encounter","id":"enc-3","status":"finished",
	  "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
	  "subject":{"reference":"Patient/pat-a"},
	  "period":{"start":"2025-01-01","end":"2025-01-02"}}`,

	`{"resourceType":"Device","id":"dev-1","patient":{"reference":"Patient/pat-a"},"type":{"text":"pulse oximeter"}}`,

	`{"resourceType":"Observation","id":"obs-1","status":"final",
	  "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
	  "code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}],"text":"Heart rate"},
	  "subject":{"reference":"Patient/pat-a"},"encounter":{"reference":"Encounter/enc-1"},
	  "performer":[{"reference":"Practitioner/prac-1"}],
	  "effectiveDateTime":"2026-03-04T10:00:00+01:00",
	  "valueQuantity":{"value":72,"unit":"beats/minute","system":"http://unitsofmeasure.org","code":"/min"}}`,
	`{"resourceType":"Observation","id":"obs-2","status":"preliminary",
	  "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
	  "code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},
	  "subject":{"reference":"Patient/pat-b"},
	  "effectiveDateTime":"2026-03-04",
	  "valueQuantity":{"value":100,"unit":"beats/minute","system":"http://unitsofmeasure.org","code":"/min"}}`,
	`{"resourceType":"Observation","id":"obs-3","status":"final",
	  "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
	  "code":{"coding":[{"system":"http://loinc.org","code":"85354-9","display":"Blood pressure panel"}]},
	  "subject":{"reference":"Patient/pat-a"},
	  "effectivePeriod":{"start":"2026-03-01T00:00:00Z","end":"2026-03-10T00:00:00Z"},
	  "component":[
	    {"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":150,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}},
	    {"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":90,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}`,
	`{"resourceType":"Observation","id":"obs-4","status":"final",
	  "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
	  "code":{"coding":[{"system":"http://loinc.org","code":"85354-9","display":"Blood pressure panel"}]},
	  "subject":{"reference":"Patient/pat-b"},
	  "effectivePeriod":{"start":"2026-02-01"},
	  "component":[
	    {"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":120,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}},
	    {"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":145,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}`,
	`{"resourceType":"Observation","id":"obs-5","status":"final",
	  "category":[{"coding":[{"system":"http://example.org/category","code":"custom"}]}],
	  "code":{"coding":[{"system":"http://loinc.org","code":"29463-7","display":"Body weight"}]},
	  "subject":{"reference":"Patient/pat-c"},
	  "effectiveDateTime":"2025-12-31T23:30:00Z",
	  "valueQuantity":{"value":70.0,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}`,
	`{"resourceType":"Observation","id":"obs-6","status":"amended",
	  "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],
	  "code":{"coding":[{"system":"http://loinc.org","code":"15074-8","display":"Glucose"}]},
	  "subject":{"reference":"Patient/pat-d","identifier":{"system":"http://example.org/mrn","value":"D4"}},
	  "effectiveDateTime":"2024",
	  "valueQuantity":{"value":5.5,"unit":"mmol/L","code":"mmol/L"}}`,
	`{"resourceType":"Observation","id":"obs-7","status":"final",
	  "code":{"text":"Free text only"},
	  "subject":{"reference":"http://other.example.org/fhir/Patient/ext-1"},
	  "device":{"reference":"Device/dev-1"},
	  "valueString":"fine"}`,
	`{"resourceType":"Observation","id":"obs-8","status":"final",
	  "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
	  "code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},
	  "subject":{"reference":"Group/grp-1"},
	  "effectiveDateTime":"2026-03-04T23:30:00-05:00",
	  "valueQuantity":{"value":55,"system":"http://unitsofmeasure.org","code":"/min"}}`,

	`{"resourceType":"Condition","id":"cond-1","subject":{"reference":"Patient/pat-a"},
	  "clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},
	  "code":{"coding":[{"system":"http://snomed.info/sct","code":"38341003"}],"text":"Hypertension"}}`,
	`{"resourceType":"Condition","id":"cond-2","subject":{"reference":"Patient/pat-b"},
	  "clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"resolved"}]},
	  "code":{"coding":[{"system":"http://snomed.info/sct","code":"44054006"}],"text":"Diabetes"}}`,
	`{"resourceType":"Condition","id":"cond-3","subject":{"reference":"Patient/pat-c"},
	  "clinicalStatus":{"coding":[{"system":"http://example.org/status","code":"active"}]},
	  "code":{"text":"Headache"}}`,

	`{"resourceType":"RiskAssessment","id":"ra-1","status":"final","subject":{"reference":"Patient/pat-a"},"prediction":[{"probabilityDecimal":0.02}]}`,
	`{"resourceType":"RiskAssessment","id":"ra-2","status":"final","subject":{"reference":"Patient/pat-b"},"prediction":[{"probabilityDecimal":0.25}]}`,
	`{"resourceType":"RiskAssessment","id":"ra-3","status":"final","subject":{"reference":"Patient/pat-c"}}`,

	`{"resourceType":"ValueSet","id":"vs-1","status":"active","url":"http://example.org/fhir/ValueSet/a"}`,
	`{"resourceType":"ValueSet","id":"vs-2","status":"active","url":"http://example.org/fhir/terminology/ValueSet/b"}`,
	`{"resourceType":"ValueSet","id":"vs-3","status":"active","url":"http://other.org/ValueSet/c"}`,
}

// startSearchFixture serves b with searchFixture loaded.
func startSearchFixture(t *testing.T, b servertest.Backend) *servertest.Server {
	t.Helper()
	srv := servertest.StartBackend(t, b)
	put(t, srv, searchFixture...)
	return srv
}
