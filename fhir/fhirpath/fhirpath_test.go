package fhirpath_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir/fhirpath"
)

func model(t testing.TB) fhirpath.Model {
	t.Helper()
	spec, err := conformance.Load()
	if err != nil {
		t.Fatal(err)
	}
	m, err := spec.FHIRPathModel()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("%v in %s", err, s)
	}
	return m
}

// show renders a result as "Type:value" items, complex values as JSON.
func show(ns []fhirpath.Node) string {
	var parts []string
	for _, n := range ns {
		v := ""
		switch x := n.Value.(type) {
		case nil:
			v = "<unresolved>"
		case string:
			v = x
		case map[string]any, []any:
			var b bytes.Buffer
			e := json.NewEncoder(&b)
			e.SetEscapeHTML(false)
			_ = e.Encode(x)
			v = strings.TrimSpace(b.String())
		default:
			v = fmt.Sprint(x)
		}
		parts = append(parts, n.Type+":"+v)
	}
	return strings.Join(parts, " ")
}

const observation = `{"resourceType":"Observation","id":"o1","status":"final",
 "code":{"coding":[{"system":"http://loinc.org","code":"85354-9"},{"system":"http://snomed.info/sct","code":"75367002"}],"text":"BP"},
 "subject":{"reference":"Patient/p1"},
 "performer":[{"reference":"http://example.org/fhir/Practitioner/dr1/_history/2"},{"reference":"Group/g1"},{"reference":"#pat"},{"reference":"urn:uuid:123"},{"display":"someone"}],
 "contained":[{"resourceType":"Patient","id":"pat"}],
 "effectivePeriod":{"start":"2026-01-01"},
 "valueString":"high",
 "component":[
   {"code":{"coding":[{"code":"8480-6"}]},"valueQuantity":{"value":120.0,"unit":"mmHg"}},
   {"code":{"coding":[{"code":"8462-4"}]},"valueQuantity":{"value":80}},
   {"code":{"coding":[{"code":"x"}]},"valueCodeableConcept":{"text":"n/a"}}],
 "extension":[{"url":"http://x/a","valueCode":"aa"},{"url":"http://x/b","valueReference":{"reference":"Patient/p2"}}]}`

const patient = `{"resourceType":"Patient","id":"p1",
 "name":[{"family":"Chalmers","given":["Peter","James"]},{"given":["Jim"]}],
 "deceasedBoolean":false, "birthDate":"1974-12-25",
 "telecom":[{"system":"phone","value":"555"},{"system":"email","value":"p@x.org"}]}`

func TestEval(t *testing.T) {
	m := model(t)
	resources := map[string]map[string]any{
		"Observation":       decode(t, observation),
		"Patient":           decode(t, patient),
		"PatientDead":       decode(t, `{"resourceType":"Patient","deceasedDateTime":"2020-01-01"}`),
		"PatientDeadTrue":   decode(t, `{"resourceType":"Patient","deceasedBoolean":true}`),
		"PatientAlive":      decode(t, `{"resourceType":"Patient"}`),
		"NutritionOrder":    decode(t, `{"resourceType":"NutritionOrder","instantiates":["http://a"],"instantiatesCanonical":["http://c|1"],"instantiatesUri":["http://u"]}`),
		"Condition":         decode(t, `{"resourceType":"Condition","onsetAge":{"value":40,"unit":"a"},"abatementString":"later"}`),
		"Bundle":            decode(t, `{"resourceType":"Bundle","type":"document","entry":[{"resource":{"resourceType":"Composition","id":"c1"}},{"resource":{"resourceType":"Patient","id":"p9"}}]}`),
		"Questionnaire":     decode(t, `{"resourceType":"Questionnaire","item":[{"linkId":"1","item":[{"linkId":"1.1","item":[{"linkId":"1.1.1"}]}]}]}`),
		"MedicationRequest": decode(t, `{"resourceType":"MedicationRequest","dosageInstruction":[{"timing":{"repeat":{"boundsPeriod":{"start":"2026-02-01"}}}}]}`),
		"QuestionnaireResponse": decode(t, `{"resourceType":"QuestionnaireResponse","item":[
			{"linkId":"a","extension":[{"url":"http://hl7.org/fhir/StructureDefinition/questionnaireresponse-isSubject","valueBoolean":true}],"answer":[{"valueReference":{"reference":"Patient/s"}},{"valueString":"x"}]},
			{"linkId":"b","answer":[{"valueReference":{"reference":"Patient/t"}}]}]}`),
	}
	tests := []struct {
		resource, expr, want string
	}{
		// Paths, type-name roots, relative expressions.
		{"Observation", "Observation.code.coding.code", "code:85354-9 code:75367002"},
		{"Observation", "Observation.code.text", "string:BP"},
		{"Observation", "code.coding[1].system", "uri:http://snomed.info/sct"},
		{"Observation", "Resource.id", "string:o1"},
		{"Observation", "DomainResource.id", "string:o1"},
		{"Observation", "id", "string:o1"},
		{"Observation", "Patient.id", ""},
		{"Observation", "Observation.nothing", ""},
		// Choice elements: value finds valueString; as/is/ofType pick a variant.
		{"Observation", "Observation.value", "string:high"},
		{"Observation", "Observation.value as string", "string:high"},
		{"Observation", "Observation.value as Quantity", ""},
		{"Observation", "Observation.value.as(String)", "string:high"},
		{"Observation", "Observation.value is string", "boolean:true"},
		{"Observation", "Observation.effective", `Period:{"start":"2026-01-01"}`},
		{"Observation", "(Observation.effective as dateTime) | (Observation.effective as Period)", `Period:{"start":"2026-01-01"}`},
		{"Observation", "Observation.effective.as(DateTime)", ""},
		{"Observation", "Observation.component.value as Quantity", `Quantity:{"unit":"mmHg","value":120.0} Quantity:{"value":80}`},
		{"Observation", "(Observation.component.value as CodeableConcept).text", "string:n/a"},
		{"Observation", "Observation.component.value.ofType(CodeableConcept).text", "string:n/a"},
		{"Observation", "Observation.component[0].code.coding.code", "code:8480-6"},
		{"Observation", "Observation.component.first().value", `Quantity:{"unit":"mmHg","value":120.0}`},
		{"Observation", "Observation.component.last().code.coding.code", "code:x"},
		{"Observation", "Observation.component.count()", "integer:3"},
		// Not a choice: instantiates is its own element beside instantiatesCanonical.
		{"NutritionOrder", "NutritionOrder.instantiates", "uri:http://a"},
		{"NutritionOrder", "NutritionOrder.instantiatesCanonical", "canonical:http://c|1"},
		// Subtypes: Age is a Quantity.
		{"Condition", "Condition.onset.as(Age) | Condition.onset.as(Range)", `Age:{"unit":"a","value":40}`},
		{"Condition", "Condition.onset is Quantity", "boolean:true"},
		{"Condition", "Condition.abatement.as(string)", "string:later"},
		{"Condition", "Condition.onset.as(dateTime) | Condition.onset.as(Period)", ""},
		// resolve(): by the reference's type, or the contained resource.
		{"Observation", "Observation.subject.where(resolve() is Patient)", `Reference:{"reference":"Patient/p1"}`},
		{"Observation", "Observation.performer.where(resolve() is Practitioner)", `Reference:{"reference":"http://example.org/fhir/Practitioner/dr1/_history/2"}`},
		{"Observation", "Observation.performer.where(resolve() is Patient)", `Reference:{"reference":"#pat"}`},
		{"Observation", "Observation.performer.where(resolve() is Group)", `Reference:{"reference":"Group/g1"}`},
		{"Observation", "Observation.performer.resolve()", "Practitioner:<unresolved> Group:<unresolved> " + `Patient:{"id":"pat","resourceType":"Patient"}`},
		// Extensions.
		{"Observation", "Observation.extension('http://x/b').value", `Reference:{"reference":"Patient/p2"}`},
		{"Observation", "Observation.extension('http://x/a').value", "code:aa"},
		{"Observation", "Observation.extension('http://x/none')", ""},
		{"QuestionnaireResponse", "QuestionnaireResponse.item.where(hasExtension('http://hl7.org/fhir/StructureDefinition/questionnaireresponse-isSubject')).answer.value.ofType(Reference)", `Reference:{"reference":"Patient/s"}`},
		// where() with = and !=, union without duplicates.
		{"Patient", "Patient.telecom.where(system='email').value", "string:p@x.org"},
		{"Patient", "Patient.telecom.where(system!='email').value", "string:555"},
		{"Patient", "Patient.telecom.where(system='fax')", ""},
		{"Patient", "Patient.name.given | Patient.name.given", "string:Peter string:James string:Jim"},
		{"Patient", "Patient.name.family | Patient.name.given", "string:Chalmers string:Peter string:James string:Jim"},
		{"Patient", "Patient.name.where(family.exists()).given", "string:Peter string:James"},
		{"Patient", "Patient.name.where(family.empty()).given", "string:Jim"},
		{"Patient", "Patient.name.exists(given = 'Jim')", "boolean:true"},
		{"Patient", "Patient.name.given.where($this = 'James')", "string:James"},
		{"Patient", "Patient.name.family.exists().not()", "boolean:false"},
		// Boolean logic as in the deceased parameter.
		{"Patient", "Patient.deceased.exists() and Patient.deceased != false", "boolean:false"},
		{"PatientDead", "Patient.deceased.exists() and Patient.deceased != false", "boolean:true"},
		{"PatientDeadTrue", "Patient.deceased.exists() and Patient.deceased != false", "boolean:true"},
		{"PatientAlive", "Patient.deceased.exists() and Patient.deceased != false", "boolean:false"},
		{"PatientAlive", "Patient.deceased = true", ""},
		{"PatientAlive", "Patient.deceased.exists() or true", "boolean:true"},
		{"PatientAlive", "{} ", "ERROR"},
		{"Patient", "Patient.active.exists() implies false", "boolean:true"},
		{"Patient", "Patient.deceased xor true", "boolean:true"},
		// Resources inside resources; indexers.
		{"Bundle", "Bundle.entry[0].resource", `Composition:{"id":"c1","resourceType":"Composition"}`},
		{"Bundle", "Bundle.entry[1].resource.id", "string:p9"},
		{"Bundle", "Bundle.entry[5].resource", ""},
		{"Bundle", "Bundle.entry.resource.ofType(Patient).id", "string:p9"},
		// Recursive (contentReference) and datatype backbone elements.
		{"Questionnaire", "Questionnaire.item.item.item.linkId", "string:1.1.1"},
		{"MedicationRequest", "MedicationRequest.dosageInstruction.timing.repeat.bounds", `Period:{"start":"2026-02-01"}`},
		// %resource.
		{"Observation", "Observation.component.select(code)", "ERROR"},
		{"Observation", "%resource.id", "string:o1"},
		{"Observation", "%unknown", "ERROR"},
	}
	for _, tc := range tests {
		t.Run(tc.resource+"/"+tc.expr, func(t *testing.T) {
			e, err := fhirpath.Compile(tc.expr)
			if tc.want == "ERROR" {
				if err == nil {
					t.Fatalf("compiled, want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ns, err := e.Evaluate(m, resources[tc.resource])
			if err != nil {
				t.Fatal(err)
			}
			if got := show(ns); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestEvalRelative evaluates a component expression on an element, with
// %resource the whole resource, as composite parameters do.
func TestEvalRelative(t *testing.T) {
	m := model(t)
	r := decode(t, observation)
	root := fhirpath.ResourceNode(r)
	env := &fhirpath.Env{Model: m, Resource: root}
	comps, err := fhirpath.MustCompile("Observation.component").Eval(env, root)
	if err != nil || len(comps) != 3 {
		t.Fatalf("components: %v, %v", comps, err)
	}
	for _, c := range []struct{ expr, want string }{
		{"code.coding.code", "code:8462-4"},
		{"value.as(Quantity)", `Quantity:{"value":80}`},
		{"%resource.id", "string:o1"},
		{"$this.code.coding.code", "code:8462-4"},
	} {
		ns, err := fhirpath.MustCompile(c.expr).Eval(env, comps[1])
		if err != nil {
			t.Fatal(err)
		}
		if got := show(ns); got != c.want {
			t.Errorf("%s: got %s, want %s", c.expr, got, c.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, src := range []string{
		"", "Patient.", "Patient.name.given(", "Patient.name.substring(1)", "a + b", "-1",
		"'unterminated", "Patient.name[0", "where()", "first(1)", "as()", "a is", "Patient.(name)",
		"a = ", "(a", "a)", "`x", "a ~ b", "a in b",
	} {
		if _, err := fhirpath.Compile(src); err == nil {
			t.Errorf("%q compiled, want an error", src)
		}
	}
}

func TestLiterals(t *testing.T) {
	m := model(t)
	r := decode(t, patient)
	for _, c := range []struct{ expr, want string }{
		{`'it\'s'`, "string:it's"},
		{`'a\nb' = 'a
b'`, "boolean:true"},
		{"5", "integer:5"},
		{"1.50", "decimal:1.50"},
		{"1.5 = 1.50", "boolean:true"},
		{"true", "boolean:true"},
		{"`id`", "string:p1"},
		{"Patient.name.given.first() // a comment", "string:Peter"},
	} {
		ns, err := fhirpath.MustCompile(c.expr).Evaluate(m, r)
		if err != nil {
			t.Fatal(err)
		}
		if got := show(ns); got != c.want {
			t.Errorf("%s: got %s, want %s", c.expr, got, c.want)
		}
	}
}

// TestCompileSearchParameters compiles every expression of the R4
// SearchParameters, components included.
func TestCompileSearchParameters(t *testing.T) {
	raw, err := conformance.ReadFile("search-parameters.json")
	if err != nil {
		t.Fatal(err)
	}
	var bundle struct {
		Entry []struct {
			Resource struct {
				Expression string `json:"expression"`
				Component  []struct {
					Expression string `json:"expression"`
				} `json:"component"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(raw, &bundle); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range bundle.Entry {
		exprs := []string{e.Resource.Expression}
		for _, c := range e.Resource.Component {
			exprs = append(exprs, c.Expression)
		}
		for _, x := range exprs {
			if x == "" {
				continue
			}
			n++
			if _, err := fhirpath.Compile(x); err != nil {
				t.Error(err)
			}
		}
	}
	t.Logf("compiled %d expressions", n)
}

func TestCompileCachesAndIsConcurrent(t *testing.T) {
	m := model(t)
	r := decode(t, patient)
	a := fhirpath.MustCompile("Patient.name.given")
	if b := fhirpath.MustCompile("Patient.name.given"); a != b {
		t.Error("the same source compiled twice")
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				ns, err := fhirpath.MustCompile("Patient.name.where(family.exists()).given | Patient.telecom.value").Evaluate(m, r)
				if err != nil || len(ns) != 4 {
					t.Errorf("got %v, %v", ns, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestEnvReset(t *testing.T) {
	m := model(t)
	e := fhirpath.MustCompile("Patient.name.given")
	env := &fhirpath.Env{Model: m}
	for _, s := range []string{patient, `{"resourceType":"Patient","name":[{"given":["Ann"]}]}`} {
		root := fhirpath.ResourceNode(decode(t, s))
		env.Reset(root)
		ns, err := e.Eval(env, root)
		if err != nil {
			t.Fatal(err)
		}
		t.Log(show(ns))
	}
	if got := show(mustEval(t, env, e)); got != "string:Ann" {
		t.Errorf("after Reset: got %s", got)
	}
}

func mustEval(t *testing.T, env *fhirpath.Env, e *fhirpath.Expression) []fhirpath.Node {
	t.Helper()
	ns, err := e.Eval(env, env.Resource)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}
