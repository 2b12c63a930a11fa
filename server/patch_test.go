package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/medbridge/medbridge/server/servertest"
)

const jsonPatchType = "application/json-patch+json"

// TestJSONPatch: RFC 6902 operations, If-Match, validation of the result
// and no new version for a patch that changes nothing.
func TestJSONPatch(t *testing.T) {
	servertest.EachBackend(t, func(t *testing.T, b servertest.Backend) {
		srv := servertest.StartBackend(t, b)
		srv.Do(t, "PUT", "/fhir/Patient/p", []byte(`{"resourceType":"Patient","id":"p","gender":"male","name":[{"family":"Doe","given":["Jo"]}]}`))
		ops := `[{"op":"test","path":"/gender","value":"male"},{"op":"replace","path":"/gender","value":"female"},
			{"op":"add","path":"/name/0/given/-","value":"Ann"},{"op":"copy","from":"/name/0","path":"/name/1"},
			{"op":"move","from":"/name/1/family","path":"/name/1/text"},{"op":"remove","path":"/name/1/given/0"}]`
		res := srv.Do(t, "PATCH", "/fhir/Patient/p", []byte(ops), "Content-Type", jsonPatchType, "If-Match", `W/"1"`)
		if res.Status != http.StatusOK || res.Header.Get("ETag") != `W/"2"` {
			t.Fatalf("patch: %d %s", res.Status, res.Body)
		}
		got := res.JSON(t)
		if got["gender"] != "female" || fmt.Sprint(got["name"]) != "[map[family:Doe given:[Jo Ann]] map[given:[Ann] text:Doe]]" {
			t.Errorf("patched: %s", res.Body)
		}
		tests := []struct {
			name, ops, ifMatch string
			status             int
		}{
			{"stale If-Match", `[{"op":"replace","path":"/gender","value":"other"}]`, `W/"1"`, http.StatusPreconditionFailed},
			{"failed test", `[{"op":"test","path":"/gender","value":"male"}]`, "", http.StatusUnprocessableEntity},
			{"missing path", `[{"op":"remove","path":"/birthDate"}]`, "", http.StatusUnprocessableEntity},
			{"invalid result", `[{"op":"replace","path":"/gender","value":"robot"}]`, "", http.StatusBadRequest},
			{"changed id", `[{"op":"replace","path":"/id","value":"q"}]`, "", http.StatusUnprocessableEntity},
			{"unknown op", `[{"op":"frobnicate","path":"/gender"}]`, "", http.StatusBadRequest},
		}
		for _, tt := range tests {
			res := srv.Do(t, "PATCH", "/fhir/Patient/p", []byte(tt.ops), "Content-Type", jsonPatchType, "If-Match", tt.ifMatch)
			if res.Status != tt.status {
				t.Errorf("%s: %d %s, want %d", tt.name, res.Status, res.Body, tt.status)
			}
		}
		invalid := srv.Do(t, "PATCH", "/fhir/Patient/p", []byte(`[{"op":"replace","path":"/gender","value":"robot"}]`), "Content-Type", jsonPatchType)
		if !strings.Contains(string(invalid.Body), "Patient.gender") {
			t.Errorf("an invalid result must name the element: %s", invalid.Body)
		}
		same := srv.Do(t, "PATCH", "/fhir/Patient/p", []byte(`[{"op":"replace","path":"/gender","value":"female"}]`), "Content-Type", jsonPatchType)
		if same.Status != http.StatusOK || same.Header.Get("ETag") != `W/"2"` {
			t.Errorf("a patch that changes nothing: %d %s", same.Status, same.Header.Get("ETag"))
		}
		if res := srv.Do(t, "PATCH", "/fhir/Patient/none", []byte(`[]`), "Content-Type", jsonPatchType); res.Status != http.StatusNotFound {
			t.Errorf("unknown resource: %d", res.Status)
		}
		if res := srv.Do(t, "PATCH", "/fhir/Patient/p", []byte(`[]`), "Content-Type", "text/plain"); res.Status != http.StatusUnsupportedMediaType {
			t.Errorf("text/plain: %d", res.Status)
		}
	})
}

// fhirPathPatch builds a FHIRPath Patch Parameters from operations, each
// a list of parts (name → valueX object or parts).
func fhirPathPatch(t *testing.T, ops ...[]map[string]any) []byte {
	t.Helper()
	var params []any
	for _, op := range ops {
		params = append(params, map[string]any{"name": "operation", "part": op})
	}
	b, err := json.Marshal(map[string]any{"resourceType": "Parameters", "parameter": params})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func part(name, valueType string, value any) map[string]any {
	return map[string]any{"name": name, "value" + valueType: value}
}

const bloodPressure = `{"resourceType":"Observation","id":"bp","status":"final",
	"code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},
	"component":[
		{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":120,"unit":"mmHg"}},
		{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":80,"unit":"mmHg"}}]}`

// TestFHIRPathPatch: add, insert, delete, replace and move on paths with
// indexers and where(), and refusals of paths outside the subset.
func TestFHIRPathPatch(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite)
	srv.Do(t, "PUT", "/fhir/Patient/p", []byte(`{"resourceType":"Patient","id":"p","name":[{"family":"Doe","given":["Jo"]}],"identifier":[{"system":"a","value":"1"},{"system":"b","value":"2"}]}`))
	res := srv.Do(t, "PATCH", "/fhir/Patient/p", fhirPathPatch(t,
		[]map[string]any{part("type", "Code", "add"), part("path", "String", "Patient.name[0]"), part("name", "String", "given"), part("value", "String", "Ann")},
		[]map[string]any{part("type", "Code", "insert"), part("path", "String", "Patient.name[0].given"), part("index", "Integer", 0), part("value", "String", "Al")},
		[]map[string]any{part("type", "Code", "move"), part("path", "String", "Patient.name[0].given"), part("source", "Integer", 2), part("destination", "Integer", 0)},
		[]map[string]any{part("type", "Code", "delete"), part("path", "String", "Patient.identifier.where(system='a')")},
		[]map[string]any{part("type", "Code", "replace"), part("path", "String", "Patient.name[0].family"), part("value", "String", "Roe")},
		[]map[string]any{part("type", "Code", "add"), part("path", "String", "Patient"), part("name", "String", "birthDate"), part("value", "Date", "1970-01-02")},
		[]map[string]any{part("type", "Code", "add"), part("path", "String", "Patient"), part("name", "String", "deceased"), part("value", "Boolean", false)},
		[]map[string]any{part("type", "Code", "add"), part("path", "String", "Patient"), part("name", "String", "telecom"),
			map[string]any{"name": "value", "part": []any{part("system", "Code", "phone"), part("value", "String", "555")}}},
	), "If-Match", `W/"1"`)
	if res.Status != http.StatusOK {
		t.Fatalf("patch: %d %s", res.Status, res.Body)
	}
	got := res.JSON(t)
	if fmt.Sprint(got["name"]) != "[map[family:Roe given:[Ann Al Jo]]]" || fmt.Sprint(got["identifier"]) != "[map[system:b value:2]]" ||
		got["birthDate"] != "1970-01-02" || got["deceasedBoolean"] != false || fmt.Sprint(got["telecom"]) != "[map[system:phone value:555]]" {
		t.Errorf("patched: %s", res.Body)
	}

	srv.Do(t, "PUT", "/fhir/Observation/bp", []byte(bloodPressure))
	res = srv.Do(t, "PATCH", "/fhir/Observation/bp", fhirPathPatch(t,
		[]map[string]any{part("type", "Code", "replace"), part("path", "String", "Observation.component.where(code.coding.code='8480-6').valueQuantity"),
			part("value", "Quantity", map[string]any{"value": 135, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"})},
	))
	if res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"value":135`) || !strings.Contains(string(res.Body), `"value":80`) {
		t.Errorf("replace in a component: %d %s", res.Status, res.Body)
	}

	tests := []struct {
		name   string
		op     []map[string]any
		status int
		want   string
	}{
		{"unsupported function", []map[string]any{part("type", "Code", "delete"), part("path", "String", "Patient.name.select(given)")}, http.StatusUnprocessableEntity, "not-supported"},
		{"no element", []map[string]any{part("type", "Code", "delete"), part("path", "String", "Patient")}, http.StatusUnprocessableEntity, "not-supported"},
		{"replace of nothing", []map[string]any{part("type", "Code", "replace"), part("path", "String", "Patient.gender"), part("value", "Code", "male")}, http.StatusUnprocessableEntity, "matches 0"},
		{"invalid result", []map[string]any{part("type", "Code", "add"), part("path", "String", "Patient"), part("name", "String", "gender"), part("value", "Code", "robot")}, http.StatusBadRequest, "Patient.gender"},
		{"missing part", []map[string]any{part("type", "Code", "insert"), part("path", "String", "Patient.name")}, http.StatusBadRequest, "needs a value"},
	}
	for _, tt := range tests {
		res := srv.Do(t, "PATCH", "/fhir/Patient/p", fhirPathPatch(t, tt.op))
		if res.Status != tt.status || !strings.Contains(string(res.Body), tt.want) {
			t.Errorf("%s: %d %s, want %d with %q", tt.name, res.Status, res.Body, tt.status, tt.want)
		}
	}
	if res := srv.Do(t, "PATCH", "/fhir/Patient/p", fhirPathPatch(t, tests[0].op), "If-Match", `W/"1"`); res.Status != http.StatusPreconditionFailed {
		t.Errorf("stale If-Match: %d", res.Status)
	}
}

// TestConditionalPatch: PATCH /Patient?criteria patches the one match.
func TestConditionalPatch(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite)
	srv.Do(t, "POST", "/fhir/Patient", patientWith("cp"))
	ops := []byte(`[{"op":"add","path":"/active","value":true}]`)
	res := srv.Do(t, "PATCH", "/fhir/Patient?identifier=urn:mrn|cp", ops, "Content-Type", jsonPatchType)
	if res.Status != http.StatusOK || res.JSON(t)["active"] != true {
		t.Errorf("one match: %d %s", res.Status, res.Body)
	}
	if res := srv.Do(t, "PATCH", "/fhir/Patient?identifier=urn:mrn|none", ops, "Content-Type", jsonPatchType); res.Status != http.StatusNotFound {
		t.Errorf("no match: %d %s", res.Status, res.Body)
	}
}
