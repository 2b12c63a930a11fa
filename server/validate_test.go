package server_test

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/medbridge/medbridge/server/servertest"
)

const vitalSignsBase = "http://hl7.org/fhir/StructureDefinition/"

// vitalExamples are the official R4 examples of each vital-signs profile.
var vitalExamples = map[string]string{
	"heartrate":   "Observation-heart-rate.json",
	"bp":          "Observation-blood-pressure.json",
	"oxygensat":   "Observation-satO2.json",
	"bodytemp":    "Observation-body-temperature.json",
	"resprate":    "Observation-respiratory-rate.json",
	"bodyweight":  "Observation-example.json",
	"bodyheight":  "Observation-body-height.json",
	"bmi":         "Observation-bmi.json",
	"headcircum":  "Observation-head-circumference.json",
	"vitalspanel": "Observation-vitals-panel.json",
	"vitalsigns":  "Observation-heart-rate.json",
}

func readExample(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("../testdata/examples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// outcomeErrors returns the expressions of the error issues of an
// OperationOutcome answer (each "" when it has none).
func outcomeErrors(t *testing.T, res *servertest.Response) []string {
	t.Helper()
	if res.Status != http.StatusOK {
		t.Fatalf("$validate: %d %s", res.Status, res.Body)
	}
	var out []string
	for _, is := range res.JSON(t)["issue"].([]any) {
		is := is.(map[string]any)
		if is["severity"] != "error" {
			continue
		}
		expr := ""
		if list, ok := is["expression"].([]any); ok && len(list) > 0 {
			expr, _ = list[0].(string)
		}
		out = append(out, expr)
	}
	return out
}

// TestValidateVitalSigns: every R4 vital-signs profile accepts its
// example and refuses mutations of it (missing component, wrong unit,
// wrong code).
func TestValidateVitalSigns(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite)
	for name, file := range vitalExamples {
		url := "/fhir/Observation/$validate?profile=" + vitalSignsBase + name
		res := srv.Do(t, "POST", url, mustJSON(t, readExample(t, file)))
		if errs := outcomeErrors(t, res); len(errs) > 0 || !strings.Contains(string(res.Body), "no errors") {
			t.Errorf("%s against %s: %s", file, name, res.Body)
		}
	}
	mutations := []struct {
		name, profile, file string
		mutate              func(m map[string]any)
	}{
		{"missing component", "bp", "Observation-blood-pressure.json", func(m map[string]any) { delete(m, "component") }},
		{"wrong unit", "heartrate", "Observation-heart-rate.json", func(m map[string]any) {
			m["valueQuantity"].(map[string]any)["code"] = "kg"
		}},
		{"wrong code", "bodytemp", "Observation-body-temperature.json", func(m map[string]any) {
			m["code"] = map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "1234-5"}}}
		}},
		{"wrong unit", "bodyweight", "Observation-example.json", func(m map[string]any) {
			m["valueQuantity"].(map[string]any)["code"] = "m"
		}},
	}
	for _, mt := range mutations {
		m := readExample(t, mt.file)
		mt.mutate(m)
		res := srv.Do(t, "POST", "/fhir/Observation/$validate?profile="+vitalSignsBase+mt.profile, mustJSON(t, m))
		if errs := outcomeErrors(t, res); len(errs) == 0 {
			t.Errorf("%s against %s: no error: %s", mt.name, mt.profile, res.Body)
		}
	}
}

// TestValidateParameters: the Parameters form, modes, instance level and
// unknown profiles.
func TestValidateParameters(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite)
	hr := readExample(t, "Observation-heart-rate.json")
	params := func(mode string, resource any) []byte {
		ps := []any{map[string]any{"name": "mode", "valueCode": mode},
			map[string]any{"name": "profile", "valueUri": vitalSignsBase + "heartrate"}}
		if resource != nil {
			ps = append(ps, map[string]any{"name": "resource", "resource": resource})
		}
		return mustJSON(t, map[string]any{"resourceType": "Parameters", "parameter": ps})
	}
	if errs := outcomeErrors(t, srv.Do(t, "POST", "/fhir/Observation/$validate", params("create", hr))); len(errs) > 0 {
		t.Errorf("create mode: %v", errs)
	}
	noID := readExample(t, "Observation-heart-rate.json")
	delete(noID, "id")
	if errs := outcomeErrors(t, srv.Do(t, "POST", "/fhir/Observation/$validate", params("update", noID))); len(errs) != 1 || errs[0] != "Observation.id" {
		t.Errorf("update mode without id: %v", errs)
	}
	if res := srv.Do(t, "POST", "/fhir/Observation/$validate?profile=http://example.org/unknown", mustJSON(t, hr)); res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), "http://example.org/unknown") {
		t.Errorf("unknown profile: %d %s", res.Status, res.Body)
	}
	if res := srv.Do(t, "POST", "/fhir/Observation/$validate", []byte(`{"resourceType":"Observation","status":"bogus","code":{}}`)); len(outcomeErrors(t, res)) == 0 {
		t.Errorf("structure errors: %s", res.Body)
	}

	if res := srv.Do(t, "PUT", "/fhir/Observation/heart-rate", mustJSON(t, hr)); res.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	if errs := outcomeErrors(t, srv.Do(t, "GET", "/fhir/Observation/heart-rate/$validate?profile="+vitalSignsBase+"heartrate", nil)); len(errs) > 0 {
		t.Errorf("stored resource: %v", errs)
	}
	if errs := outcomeErrors(t, srv.Do(t, "POST", "/fhir/Observation/heart-rate/$validate", params("update", hr))); len(errs) > 0 {
		t.Errorf("instance update mode: %v", errs)
	}
	if errs := outcomeErrors(t, srv.Do(t, "GET", "/fhir/Observation/heart-rate/$validate?mode=delete", nil)); len(errs) > 0 {
		t.Errorf("delete mode on a resource: %v", errs)
	}
	if res := srv.Do(t, "GET", "/fhir/Observation/none/$validate?mode=delete", nil); !strings.Contains(string(res.Body), "not-found") {
		t.Errorf("delete mode on nothing: %s", res.Body)
	}
	if res := srv.Do(t, "GET", "/fhir/Observation/none/$validate", nil); res.Status != http.StatusNotFound {
		t.Errorf("instance that does not exist: %d", res.Status)
	}
}

// TestProfileClaims: a write claiming a profile it does not conform to is
// refused with 422; an unknown profile claim is accepted.
func TestProfileClaims(t *testing.T) {
	servertest.EachBackend(t, func(t *testing.T, b servertest.Backend) {
		srv := servertest.StartBackend(t, b)
		hr := readExample(t, "Observation-heart-rate.json")
		hr["meta"] = map[string]any{"profile": []any{vitalSignsBase + "heartrate"}}
		hr["code"].(map[string]any)["coding"] = []any{map[string]any{"system": "http://loinc.org", "code": "8310-5"}}
		res := srv.Do(t, "POST", "/fhir/Observation", mustJSON(t, hr))
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "Observation.code") {
			t.Errorf("wrong code: %d %s", res.Status, res.Body)
		}
		if res := srv.Do(t, "PUT", "/fhir/Observation/heart-rate", mustJSON(t, hr)); res.Status != http.StatusUnprocessableEntity {
			t.Errorf("update with the wrong code: %d %s", res.Status, res.Body)
		}
		hr["meta"] = map[string]any{"profile": []any{"http://example.org/StructureDefinition/unknown"}}
		if res := srv.Do(t, "POST", "/fhir/Observation", mustJSON(t, hr)); res.Status != http.StatusCreated {
			t.Errorf("unknown profile: %d %s", res.Status, res.Body)
		}
	})
}
