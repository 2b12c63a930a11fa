package profile

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
)

var shared = sync.OnceValues(func() (*Validator, error) {
	spec, err := conformance.Load()
	if err != nil {
		return nil, err
	}
	return New(spec)
})

func validator(tb testing.TB) *Validator {
	tb.Helper()
	v, err := shared()
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

const examples = "../../testdata/examples/"

func readExample(tb testing.TB, name string) map[string]any {
	tb.Helper()
	b, err := os.ReadFile(examples + name)
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

func validate(tb testing.TB, v *Validator, profile string, res map[string]any) []fhir.Issue {
	tb.Helper()
	b, err := json.Marshal(res)
	if err != nil {
		tb.Fatal(err)
	}
	issues, err := v.Validate(profile, b)
	if err != nil {
		tb.Fatal(err)
	}
	return issues
}

func errorIssues(issues []fhir.Issue) []fhir.Issue {
	var out []fhir.Issue
	for _, is := range issues {
		if is.Severity == fhir.SeverityError {
			out = append(out, is)
		}
	}
	return out
}

const vs = "http://hl7.org/fhir/StructureDefinition/"

// The official R4 examples of each vital-signs profile.
var vitalExamples = map[string][]string{
	"heartrate":   {"Observation-heart-rate.json"},
	"bp":          {"Observation-blood-pressure.json", "Observation-blood-pressure-dar.json", "Observation-blood-pressure-cancel.json"},
	"oxygensat":   {"Observation-satO2.json"},
	"bodytemp":    {"Observation-body-temperature.json"},
	"resprate":    {"Observation-respiratory-rate.json"},
	"bodyweight":  {"Observation-example.json"},
	"bodyheight":  {"Observation-body-height.json", "Observation-body-length.json"},
	"bmi":         {"Observation-bmi.json"},
	"headcircum":  {"Observation-head-circumference.json"},
	"vitalspanel": {"Observation-vitals-panel.json"},
}

func TestVitalSignsExamplesConform(t *testing.T) {
	v := validator(t)
	var all []string
	for profile, files := range vitalExamples {
		all = append(all, files...)
		for _, f := range files {
			if errs := errorIssues(validate(t, v, vs+profile, readExample(t, f))); len(errs) > 0 {
				t.Errorf("%s against %s: %v", f, profile, errs)
			}
		}
	}
	for _, f := range all {
		if errs := errorIssues(validate(t, v, vs+"vitalsigns", readExample(t, f))); len(errs) > 0 {
			t.Errorf("%s against vitalsigns: %v", f, errs)
		}
	}
}

func TestVitalSignsExamplesFailOtherProfiles(t *testing.T) {
	v := validator(t)
	issues := validate(t, v, vs+"bodytemp", readExample(t, "Observation-heart-rate.json"))
	want := []string{"Observation.code.coding", "Observation.valueQuantity.code"}
	for _, w := range want {
		if !hasIssueAt(issues, w) {
			t.Errorf("heart rate against bodytemp: no issue at %s in %v", w, issues)
		}
	}
}

func hasIssueAt(issues []fhir.Issue, expr string) bool {
	return slices.ContainsFunc(issues, func(is fhir.Issue) bool {
		return is.Severity == fhir.SeverityError && slices.Contains(is.Expression, expr)
	})
}

// at walks a decoded resource along keys and array indexes.
func at(m map[string]any, path ...any) map[string]any {
	var cur any = m
	for _, p := range path {
		switch p := p.(type) {
		case string:
			cur = cur.(map[string]any)[p]
		case int:
			cur = cur.([]any)[p]
		}
	}
	return cur.(map[string]any)
}

func TestVitalSignsMutations(t *testing.T) {
	v := validator(t)
	tests := []struct {
		name, profile, file string
		mutate              func(r map[string]any)
		code, expr          string
	}{
		{"missing category", "heartrate", "Observation-heart-rate.json",
			func(r map[string]any) { delete(r, "category") }, fhir.CodeRequired, "Observation.category"},
		{"category not vital-signs", "heartrate", "Observation-heart-rate.json",
			func(r map[string]any) { at(r, "category", 0, "coding", 0)["code"] = "laboratory" }, fhir.CodeRequired, "Observation.category"},
		{"wrong LOINC code", "heartrate", "Observation-heart-rate.json",
			func(r map[string]any) { at(r, "code", "coding", 0)["code"] = "8310-5" }, fhir.CodeRequired, "Observation.code.coding"},
		{"LOINC code without system", "heartrate", "Observation-heart-rate.json",
			func(r map[string]any) { delete(at(r, "code", "coding", 0), "system") }, fhir.CodeRequired, "Observation.code.coding"},
		{"wrong unit code", "heartrate", "Observation-heart-rate.json",
			func(r map[string]any) { at(r, "valueQuantity")["code"] = "{beats}/min" }, fhir.CodeValue, "Observation.valueQuantity.code"},
		{"unit not UCUM", "heartrate", "Observation-heart-rate.json",
			func(r map[string]any) { at(r, "valueQuantity")["system"] = "http://example.org/units" }, fhir.CodeValue, "Observation.valueQuantity.system"},
		{"missing unit", "heartrate", "Observation-heart-rate.json",
			func(r map[string]any) { delete(at(r, "valueQuantity"), "unit") }, fhir.CodeRequired, "Observation.valueQuantity.unit"},
		{"missing value of quantity", "heartrate", "Observation-heart-rate.json",
			func(r map[string]any) { delete(at(r, "valueQuantity"), "value") }, fhir.CodeRequired, "Observation.valueQuantity.value"},
		{"missing subject", "heartrate", "Observation-heart-rate.json",
			func(r map[string]any) { delete(r, "subject") }, fhir.CodeRequired, "Observation.subject"},
		{"missing effective", "heartrate", "Observation-heart-rate.json",
			func(r map[string]any) { delete(r, "effectiveDateTime") }, fhir.CodeRequired, "Observation.effective"},
		{"value of wrong type", "heartrate", "Observation-heart-rate.json",
			func(r map[string]any) { delete(r, "valueQuantity"); r["valueString"] = "44 bpm" }, fhir.CodeStructure, "Observation.valueString"},
		{"status outside its value set", "heartrate", "Observation-heart-rate.json",
			func(r map[string]any) { r["status"] = "done" }, codeCodeInvalid, "Observation.status"},
		{"no value and no reason (vs-2)", "heartrate", "Observation-heart-rate.json",
			func(r map[string]any) { delete(r, "valueQuantity") }, fhir.CodeInvariant, "Observation"},
		{"value and absent reason (obs-6)", "heartrate", "Observation-heart-rate.json",
			func(r map[string]any) {
				r["dataAbsentReason"] = map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "error"}}}
			}, fhir.CodeInvariant, "Observation"},
		{"comparator outside its value set", "heartrate", "Observation-heart-rate.json",
			func(r map[string]any) { at(r, "valueQuantity")["comparator"] = "~" }, codeCodeInvalid, "Observation.valueQuantity.comparator"},
		{"BP missing diastolic component", "bp", "Observation-blood-pressure.json",
			func(r map[string]any) { r["component"] = r["component"].([]any)[:1] }, fhir.CodeRequired, "Observation.component"},
		{"BP diastolic with wrong code", "bp", "Observation-blood-pressure.json",
			func(r map[string]any) { at(r, "component", 1, "code", "coding", 0)["code"] = "8480-6" }, fhir.CodeStructure, "Observation.component"},
		{"BP diastolic unit", "bp", "Observation-blood-pressure.json",
			func(r map[string]any) { at(r, "component", 1, "valueQuantity")["code"] = "mmHg" }, fhir.CodeValue, "Observation.component[1].valueQuantity.code"},
		{"BP component without value (vs-3)", "bp", "Observation-blood-pressure.json",
			func(r map[string]any) { delete(at(r, "component", 1), "valueQuantity") }, fhir.CodeInvariant, "Observation.component[1]"},
		{"BP component value of wrong type", "bp", "Observation-blood-pressure.json",
			func(r map[string]any) {
				c := at(r, "component", 0)
				delete(c, "valueQuantity")
				c["valueString"] = "107"
			}, fhir.CodeStructure, "Observation.component[0].valueString"},
		{"BP with a value of its own", "bp", "Observation-blood-pressure.json",
			func(r map[string]any) { r["valueQuantity"] = at(r, "component", 0, "valueQuantity") }, fhir.CodeStructure, "Observation.value"},
		{"body weight unit outside ucum-bodyweight", "bodyweight", "Observation-example.json",
			func(r map[string]any) { at(r, "valueQuantity")["code"] = "[stone_av]" }, codeCodeInvalid, "Observation.valueQuantity.code"},
		{"head circumference code (trimmed profile)", "headcircum", "Observation-head-circumference.json",
			func(r map[string]any) { at(r, "code", "coding", 0)["code"] = "8302-2" }, fhir.CodeRequired, "Observation.code.coding"},
		{"head circumference unit (trimmed profile)", "headcircum", "Observation-head-circumference.json",
			func(r map[string]any) { at(r, "valueQuantity")["code"] = "mm" }, codeCodeInvalid, "Observation.valueQuantity.code"},
		{"head circumference category (inferred slicing)", "headcircum", "Observation-head-circumference.json",
			func(r map[string]any) { at(r, "category", 0, "coding", 0)["system"] = "http://example.org" }, fhir.CodeRequired, "Observation.category"},
		{"head circumference no value (inherited vs-2)", "headcircum", "Observation-head-circumference.json",
			func(r map[string]any) { delete(r, "valueQuantity") }, fhir.CodeInvariant, "Observation"},
		{"panel without members", "vitalspanel", "Observation-vitals-panel.json",
			func(r map[string]any) { delete(r, "hasMember") }, fhir.CodeRequired, "Observation.hasMember"},
		{"oxygen saturation unit", "oxygensat", "Observation-satO2.json",
			func(r map[string]any) { at(r, "valueQuantity")["code"] = "%{saturation}" }, fhir.CodeValue, "Observation.valueQuantity.code"},
		{"body temperature code", "bodytemp", "Observation-body-temperature.json",
			func(r map[string]any) { at(r, "code", "coding", 0)["code"] = "8867-4" }, fhir.CodeRequired, "Observation.code.coding"},
		{"respiratory rate subject", "resprate", "Observation-respiratory-rate.json",
			func(r map[string]any) { delete(r, "subject") }, fhir.CodeRequired, "Observation.subject"},
		{"BMI unit", "bmi", "Observation-bmi.json",
			func(r map[string]any) { at(r, "valueQuantity")["code"] = "kg/m^2" }, fhir.CodeValue, "Observation.valueQuantity.code"},
		{"body height effective", "bodyheight", "Observation-body-height.json",
			func(r map[string]any) { delete(r, "effectiveDateTime") }, fhir.CodeRequired, "Observation.effective"},
		{"vitalsigns category", "vitalsigns", "Observation-body-height.json",
			func(r map[string]any) { delete(r, "category") }, fhir.CodeRequired, "Observation.category"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := readExample(t, tt.file)
			tt.mutate(r)
			issues := validate(t, v, vs+tt.profile, r)
			i := slices.IndexFunc(issues, func(is fhir.Issue) bool {
				return is.Severity == fhir.SeverityError && is.Code == tt.code && slices.Contains(is.Expression, tt.expr)
			})
			if i < 0 {
				t.Fatalf("no %s error at %s; got %v", tt.code, tt.expr, issues)
			}
			t.Log(issues[i].Diagnostics)
		})
	}
}

func TestUnknownProfile(t *testing.T) {
	v := validator(t)
	b, _ := os.ReadFile(examples + "Observation-heart-rate.json")
	for _, url := range []string{"http://example.org/StructureDefinition/x", vs + "Quantity"} {
		if _, err := v.Validate(url, b); !errors.Is(err, ErrUnknownProfile) {
			t.Errorf("Validate(%q): err = %v, want ErrUnknownProfile", url, err)
		}
	}
	if _, err := v.Validate(vs+"heartrate|4.0.1", b); err != nil {
		t.Errorf("versioned URL: %v", err)
	}
	issues, err := v.Validate(vs+"Patient", b)
	if err != nil || !hasIssueAt(issues, "Observation") {
		t.Errorf("Observation against Patient: %v, %v", issues, err)
	}
	if _, err := v.Validate("", []byte(`{"id": "x"}`)); err == nil {
		t.Error("no resourceType: no error")
	}
}

func TestProfiles(t *testing.T) {
	ps := validator(t).Profiles()
	for _, name := range []string{"vitalsigns", "heartrate", "bp", "oxygensat", "bodytemp", "resprate", "bodyweight", "bodyheight", "bmi", "headcircum", "vitalspanel", "Observation", "Patient"} {
		if !slices.Contains(ps, vs+name) {
			t.Errorf("Profiles() lacks %s", name)
		}
	}
	if slices.Contains(ps, vs+"Quantity") || !slices.IsSorted(ps) {
		t.Errorf("Profiles() lists datatypes or is not sorted")
	}
	t.Logf("%d profiles", len(ps))
}

// invalidExamples are official R4 examples that break their own base
// definition.
var invalidExamples = map[string]string{
	"Questionnaire-qs1.json": "Questionnaire.item.linkId (1..1) is missing in 32 nested items",
}

func TestBaseDefinitionsAcceptExamples(t *testing.T) {
	v := validator(t)
	files, err := filepath.Glob(examples + "*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	var passed, warned int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		issues, err := v.Validate("", b)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		errs := errorIssues(issues)
		if _, known := invalidExamples[filepath.Base(f)]; known {
			if len(errs) == 0 {
				t.Errorf("%s: passes now; remove it from invalidExamples", f)
			}
			continue
		}
		for _, is := range errs {
			t.Errorf("%s: %s", filepath.Base(f), is.Diagnostics)
		}
		if len(errs) == 0 {
			passed++
		}
		if len(issues) > len(errs) {
			warned++
		}
	}
	t.Logf("%d examples: %d pass (%d with warnings), %d known invalid", len(files), passed, warned, len(invalidExamples))
}

// TestUnchecked keeps the validator's gaps visible: each is something it
// skips rather than guesses.
func TestUnchecked(t *testing.T) {
	gaps := validator(t).Unchecked()
	count := map[string][]string{}
	for _, g := range gaps {
		kind, _, _ := strings.Cut(g, " ")
		count[kind] = append(count[kind], g)
		t.Log(g)
	}
	wantInvariants := []string{"dom-3", "ele-1", "obs-7", "vs-1"}
	if len(count["invariant"]) != len(wantInvariants) {
		t.Errorf("%d invariants skipped, want %d (%v)", len(count["invariant"]), len(wantInvariants), wantInvariants)
	}
	for i, key := range wantInvariants {
		if i < len(count["invariant"]) && !strings.HasPrefix(count["invariant"][i], "invariant "+key+":") {
			t.Errorf("skipped invariant %d = %q, want %s", i, count["invariant"][i], key)
		}
	}
	wantValueSets := []string{"currencies", "mimetypes", "ucum-units", "LL379-9"}
	if len(count["value"]) != len(wantValueSets) {
		t.Errorf("%d value sets not expanded, want %d (%v)", len(count["value"]), len(wantValueSets), wantValueSets)
	}
	for i, name := range wantValueSets {
		if i < len(count["value"]) && !strings.Contains(count["value"][i], name) {
			t.Errorf("unexpanded value set %d = %q, want %s", i, count["value"][i], name)
		}
	}
	if len(count["slicing"]) != 1 || !strings.Contains(count["slicing"][0], "lipidprofile") {
		t.Errorf("unsorted slicings = %v, want lipidprofile's DiagnosticReport.result", count["slicing"])
	}
	t.Logf("%d invariants, %d value sets, %d slicings unchecked", len(count["invariant"]), len(count["value"]), len(count["slicing"]))
}

func BenchmarkValidateHeartRate(b *testing.B) {
	v := validator(b)
	res, err := os.ReadFile(examples + "Observation-heart-rate.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		issues, err := v.Validate(vs+"heartrate", res)
		if err != nil || len(issues) > 0 {
			b.Fatal(issues, err)
		}
	}
}
