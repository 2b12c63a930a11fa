package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/medbridge/medbridge/server"
	"github.com/medbridge/medbridge/server/servertest"
)

// TestInvalidRequests sends bad bodies and requests; each must get its
// status and an OperationOutcome naming the offending element (or at least
// a diagnostic), and none may write anything.
func TestInvalidRequests(t *testing.T) {
	patient := `{"resourceType":"Patient","id":"p1","name":[{"family":"Chalmers"}]}`
	obs := func(extra string) string {
		return `{"resourceType":"Observation","status":"final","code":{"text":"x"}` + extra + `}`
	}
	tests := []struct {
		name, method, path, body string
		header                   []string
		status                   int
		expression               string // "" = no expression required
		diagnostic               string // substring of the diagnostics
	}{
		{"unknown element", "POST", "/fhir/Patient", `{"resourceType":"Patient","foo":1}`, nil, 400, "Patient.foo", "unknown field"},
		{"unknown nested element", "POST", "/fhir/Patient", `{"resourceType":"Patient","name":[{"famly":"x"}]}`, nil, 400, "Patient.name[0].famly", "unknown field"},
		{"wrong primitive type", "POST", "/fhir/Patient", `{"resourceType":"Patient","active":"yes"}`, nil, 400, "Patient.active", "boolean"},
		{"bad date", "POST", "/fhir/Patient", `{"resourceType":"Patient","birthDate":"2020-13-01"}`, nil, 400, "Patient.birthDate", "date"},
		{"bad dateTime", "POST", "/fhir/Observation", obs(`,"effectiveDateTime":"2020-01-01T25:00:00Z"`), nil, 400, "Observation.effectiveDateTime", ""},
		{"invalid enum", "POST", "/fhir/Patient", `{"resourceType":"Patient","gender":"x"}`, nil, 400, "Patient.gender", "code"},
		{"string for array", "POST", "/fhir/Patient", `{"resourceType":"Patient","name":{"family":"x"}}`, nil, 400, "Patient.name", ""},
		{"number for string", "POST", "/fhir/Patient", `{"resourceType":"Patient","name":[{"given":[1]}]}`, nil, 400, "Patient.name[0].given[0]", "string"},
		{"decimal as string", "POST", "/fhir/Observation", obs(`,"valueQuantity":{"value":"12"}`), nil, 400, "Observation.valueQuantity.value", ""},
		{"unknown element in contained", "POST", "/fhir/Patient", `{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","bogus":true}]}`, nil, 400, "bogus", ""},
		{"wrong reference target", "POST", "/fhir/Observation", obs(`,"subject":{"reference":"Medication/1"}`), nil, 422, "Observation.subject", "Medication"},
		{"missing required element", "POST", "/fhir/Observation", `{"resourceType":"Observation","status":"final"}`, nil, 422, "Observation.code", "code"},
		{"missing required nested element", "POST", "/fhir/Patient", `{"resourceType":"Patient","link":[{"type":"seealso"}]}`, nil, 422, "Patient.link[0].other", ""},
		{"malformed JSON", "POST", "/fhir/Patient", "{\n  \"resourceType\": \"Patient\",\n  \"active\": tru\n}", nil, 400, "", "line 3"},
		{"truncated JSON", "POST", "/fhir/Patient", `{"resourceType":`, nil, 400, "", "line 1"},
		{"trailing data", "POST", "/fhir/Patient", `{"resourceType":"Patient"} {}`, nil, 400, "", "after the top-level value"},
		{"array body", "POST", "/fhir/Patient", `[{"resourceType":"Patient"}]`, nil, 400, "", ""},
		{"empty body", "POST", "/fhir/Patient", ` `, nil, 400, "", "empty"},
		{"no resourceType", "POST", "/fhir/Patient", `{"id":"x"}`, nil, 400, "", ""},
		{"body type differs from URL", "POST", "/fhir/Patient", obs(""), nil, 400, "resourceType", "Observation"},
		{"unknown type in body", "POST", "/fhir/Patient", `{"resourceType":"Foo"}`, nil, 400, "", "unknown resource type"},
		{"unknown type in URL", "POST", "/fhir/Foo", `{"resourceType":"Foo"}`, nil, 404, "", `"Foo"`},
		{"update id differs", "PUT", "/fhir/Patient/p2", patient, nil, 400, "Patient.id", "differs"},
		{"update without id", "PUT", "/fhir/Patient/p2", `{"resourceType":"Patient"}`, nil, 400, "Patient.id", "no id"},
		{"invalid id in URL", "PUT", "/fhir/Patient/a_b", `{"resourceType":"Patient","id":"a_b"}`, nil, 400, "Patient.id", "valid"},
		{"missing content type", "POST", "/fhir/Patient", patient, []string{"Content-Type", ""}, 415, "", "Content-Type"},
		{"XML content type", "POST", "/fhir/Patient", `<Patient xmlns="http://hl7.org/fhir"/>`, []string{"Content-Type", "application/fhir+xml"}, 415, "", "application/fhir+json"},
		{"form content type", "POST", "/fhir/Patient", patient, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "", ""},
		{"XML only accepted", "GET", "/fhir/Patient/p1", "", []string{"Accept", "application/fhir+xml"}, 406, "", "application/fhir+json"},
		{"_format xml", "GET", "/fhir/Patient/p1?_format=xml", "", nil, 406, "_format", ""},
		{"body too large", "POST", "/fhir/Patient", `{"resourceType":"Patient","name":[{"family":"` + strings.Repeat("x", 2048) + `"}]}`, nil, 413, "", "limit"},
		{"wrong method on instance", "POST", "/fhir/Patient/p1", patient, nil, 405, "", "POST"},
		{"wrong method on type", "TRACE", "/fhir/Patient", "", nil, 405, "", "TRACE"},
		{"unknown id", "GET", "/fhir/Patient/nope", "", nil, 404, "", "Patient/nope"},
		{"deleted", "GET", "/fhir/Patient/gone", "", nil, 410, "", "deleted"},
		{"stale If-Match", "PUT", "/fhir/Patient/p1", patient, []string{"If-Match", `W/"7"`}, 412, "", "version 7"},
		{"garbage If-Match", "PUT", "/fhir/Patient/p1", patient, []string{"If-Match", "yesterday"}, 400, "", "If-Match"},
		{"If-Match on missing resource", "PUT", "/fhir/Patient/p9", `{"resourceType":"Patient","id":"p9"}`, []string{"If-Match", `W/"1"`}, 412, "", "does not exist"},
		{"stale If-Match on delete", "DELETE", "/fhir/Patient/p1", "", []string{"If-Match", `W/"3"`}, 412, "", ""},
		{"delete unknown", "DELETE", "/fhir/Patient/nope", "", nil, 404, "", ""},
		{"unknown version", "GET", "/fhir/Patient/p1/_history/9", "", nil, 404, "", "version 9"},
		{"bad _since", "GET", "/fhir/Patient/_history?_since=yesterday", "", nil, 400, "_since", ""},
		{"bad _count", "GET", "/fhir/_history?_count=abc", "", nil, 400, "_count", ""},
		{"bad _at", "GET", "/fhir/Patient/p1/_history?_at=2026-13", "", nil, 400, "_at", ""},
		{"bad _summary", "GET", "/fhir/Patient/p1?_summary=bogus", "", nil, 400, "_summary", ""},
		{"bad page token", "GET", "/fhir/_history?_page_token=%21%21", "", nil, 400, "_page_token", ""},
		{"unknown endpoint", "GET", "/nowhere", "", nil, 404, "", ""},
	}
	servertest.EachBackend(t, func(t *testing.T, b servertest.Backend) {
		srv := servertest.StartBackend(t, b, func(c *server.Config) { c.MaxBody = 1024 })
		for _, r := range []struct{ method, path, body string }{
			{"PUT", "/fhir/Patient/p1", patient},
			{"PUT", "/fhir/Patient/gone", `{"resourceType":"Patient","id":"gone"}`},
			{"DELETE", "/fhir/Patient/gone", ""},
		} {
			if res := srv.Do(t, r.method, r.path, bodyOf(r.body)); res.Status >= 300 {
				t.Fatalf("seed %s %s: %d %s", r.method, r.path, res.Status, res.Body)
			}
		}
		before := versions(t, srv)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := srv.Do(t, tt.method, tt.path, bodyOf(tt.body), tt.header...)
				if res.Status != tt.status {
					t.Fatalf("status %d, want %d: %s", res.Status, tt.status, res.Body)
				}
				issue := firstIssue(t, res)
				if issue.Severity != "error" || issue.Code == "" {
					t.Errorf("issue lacks severity error or a code: %+v", issue)
				}
				if tt.expression != "" && !containsSub(issue.Expression, tt.expression) {
					t.Errorf("expression %v does not name %q; body %s", issue.Expression, tt.expression, res.Body)
				}
				if !strings.Contains(issue.Diagnostics, tt.diagnostic) {
					t.Errorf("diagnostics %q lack %q", issue.Diagnostics, tt.diagnostic)
				}
				if after := versions(t, srv); after != before {
					t.Errorf("the refused request wrote: %d versions before, %d after", before, after)
				}
			})
		}
	})
}

func bodyOf(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

type issue struct {
	Severity, Code, Diagnostics string
	Expression                  []string
}

// firstIssue checks that res carries an OperationOutcome and returns its first issue.
func firstIssue(t *testing.T, res *servertest.Response) issue {
	t.Helper()
	var oo struct {
		ResourceType string
		Issue        []issue
	}
	if err := json.Unmarshal(res.Body, &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
		t.Fatalf("want an OperationOutcome, got %q (%v)", res.Body, err)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
		t.Errorf("Content-Type %q, want application/fhir+json", ct)
	}
	return oo.Issue[0]
}

func containsSub(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
