package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medbridge/medbridge/conformance"
)

func decodeForTest(t testing.TB, raw []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func itoa(n int) string { return strconv.Itoa(n) }

func micros(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMicro()
}

func extractExample(t *testing.T, x *Extractor, typ, file string) []IndexEntry {
	t.Helper()
	raw, err := os.ReadFile("../testdata/examples/" + file)
	if err != nil {
		t.Fatal(err)
	}
	es, err := x.Extract(typ, raw)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// requireEntries fails unless every one of want is among got.
func requireEntries(t *testing.T, got []IndexEntry, want ...IndexEntry) {
	t.Helper()
	for _, w := range want {
		if !slices.ContainsFunc(got, func(e IndexEntry) bool { return entriesEqual(e, w) }) {
			var same []string
			for _, e := range got {
				if e.Param == w.Param {
					same = append(same, strings.TrimSpace(strings.ReplaceAll(jsonString(e), "\n", "")))
				}
			}
			t.Errorf("missing %s\n  %s entries: %s", jsonString(w), w.Param, strings.Join(same, "\n    "))
		}
	}
}

func paramEntries(es []IndexEntry, code string) []IndexEntry {
	var out []IndexEntry
	for _, e := range es {
		if e.Param == code {
			out = append(out, e)
		}
	}
	return out
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestExtractObservationExample(t *testing.T) {
	x := testExtractor(t)
	es := extractExample(t, x, "Observation", "Observation-example.json")
	requireEntries(t, es,
		IndexEntry{Param: "_id", Type: "token", Code: "example"},
		IndexEntry{Param: "code", Type: "token", System: "http://loinc.org", Code: "29463-7", Text: "body weight"},
		IndexEntry{Param: "code", Type: "token", System: "http://snomed.info/sct", Code: "27113001", Text: "body weight"},
		IndexEntry{Param: "category", Type: "token", System: "http://terminology.hl7.org/CodeSystem/observation-category", Code: "vital-signs", Text: "vital signs"},
		IndexEntry{Param: "status", Type: "token", System: "http://hl7.org/fhir/observation-status", Code: "final"},
		IndexEntry{Param: "subject", Type: "reference", RefType: "Patient", RefID: "example"},
		IndexEntry{Param: "patient", Type: "reference", RefType: "Patient", RefID: "example"},
		IndexEntry{Param: "encounter", Type: "reference", RefType: "Encounter", RefID: "example"},
		IndexEntry{Param: "date", Type: "date", Start: micros("2016-03-28T00:00:00Z"), End: micros("2016-03-29T00:00:00Z")},
		IndexEntry{Param: "value-quantity", Type: "quantity", Number: 185, Low: 184.5, High: 185.5,
			System: "http://unitsofmeasure.org", Code: "[lb_av]", CanonicalNumber: 83914.58845, CanonicalCode: "g"},
	)
	for _, code := range []string{"value-concept", "value-string", "value-date", "component-code", "performer"} {
		if got := paramEntries(es, code); len(got) != 0 {
			t.Errorf("%s: want no entries, got %v", code, got)
		}
	}
	if n := len(paramEntries(es, "code-value-quantity")); n != 4 {
		t.Errorf("code-value-quantity: %d entries, want 4 (one per coding)", n)
	}
}

func TestExtractPatientExample(t *testing.T) {
	x := testExtractor(t)
	es := extractExample(t, x, "Patient", "Patient-example.json")
	requireEntries(t, es,
		IndexEntry{Param: "name", Type: "string", Norm: "chalmers", Exact: "Chalmers"},
		IndexEntry{Param: "name", Type: "string", Norm: "peter", Exact: "Peter"},
		IndexEntry{Param: "name", Type: "string", Norm: "james", Exact: "James"},
		IndexEntry{Param: "family", Type: "string", Norm: "windsor", Exact: "Windsor"},
		IndexEntry{Param: "given", Type: "string", Norm: "jim", Exact: "Jim"},
		IndexEntry{Param: "birthdate", Type: "date", Start: micros("1974-12-25T00:00:00Z"), End: micros("1974-12-26T00:00:00Z")},
		IndexEntry{Param: "identifier", Type: "token", System: "urn:oid:1.2.36.146.595.217.0.1", Code: "12345",
			TypeSystem: "http://terminology.hl7.org/CodeSystem/v2-0203", TypeCode: "MR"},
		IndexEntry{Param: "gender", Type: "token", System: "http://hl7.org/fhir/administrative-gender", Code: "male"},
		IndexEntry{Param: "active", Type: "token", Code: "true"},
		IndexEntry{Param: "deceased", Type: "token", Code: "false"},
		IndexEntry{Param: "phone", Type: "token", System: "phone", Code: "(03) 5555 6473"},
		IndexEntry{Param: "address-city", Type: "string", Norm: "pleasantville", Exact: "PleasantVille"},
		IndexEntry{Param: "organization", Type: "reference", RefType: "Organization", RefID: "1"},
	)
	if got := paramEntries(es, "email"); len(got) != 0 {
		t.Errorf("email: want none, got %v", got)
	}
}

func TestExtractBloodPressureComposite(t *testing.T) {
	x := testExtractor(t)
	es := extractExample(t, x, "Observation", "Observation-blood-pressure.json")
	systolic := IndexEntry{Param: "component-value-quantity", Type: "quantity", Number: 107, Low: 106.5, High: 107.5,
		System: "http://unitsofmeasure.org", Code: "mm[Hg]", CanonicalNumber: 107, CanonicalCode: "mm[Hg]"}
	diastolic := IndexEntry{Param: "component-value-quantity", Type: "quantity", Number: 60, Low: 59.5, High: 60.5,
		System: "http://unitsofmeasure.org", Code: "mm[Hg]", CanonicalNumber: 60, CanonicalCode: "mm[Hg]"}
	requireEntries(t, es,
		IndexEntry{Param: "component-code-value-quantity", Type: "composite", Components: []IndexEntry{
			{Param: "component-code", Type: "token", System: "http://loinc.org", Code: "8480-6", Text: "systolic blood pressure"}, systolic}},
		IndexEntry{Param: "component-code-value-quantity", Type: "composite", Components: []IndexEntry{
			{Param: "component-code", Type: "token", System: "http://loinc.org", Code: "8462-4", Text: "diastolic blood pressure"}, diastolic}},
		systolic, diastolic,
	)
	// Components pair values of the same component only.
	for _, e := range paramEntries(es, "component-code-value-quantity") {
		if e.Components[0].Code == "8480-6" && e.Components[1].Number != 107 {
			t.Errorf("systolic code paired with %v", e.Components[1].Number)
		}
	}
}

// resource decodes s after replacing ' by " (readable literals).
func extractJSON(t *testing.T, x *Extractor, s string) []IndexEntry {
	t.Helper()
	s = strings.ReplaceAll(s, "'", `"`)
	var probe map[string]any
	if err := json.Unmarshal([]byte(s), &probe); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
	es, err := x.Extract(probe["resourceType"].(string), []byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestExtractValues(t *testing.T) {
	x := testExtractor(t)
	max := math.MaxFloat64
	tests := []struct {
		name     string
		resource string
		want     []IndexEntry
		none     []string // parameters with no entries
	}{
		{"strings without diacritics", `{'resourceType':'Patient','name':[{'family':'Müller-Lüdenscheidt','given':['Zoë','Zoë'],'prefix':['Dr.'],'text':'Zoë Müller'}],
			'address':[{'line':['Straße 1'],'city':'Malmö','district':'D','state':'S','postalCode':'123','country':'SE'}]}`,
			[]IndexEntry{
				{Param: "family", Type: "string", Norm: "muller-ludenscheidt", Exact: "Müller-Lüdenscheidt"},
				{Param: "given", Type: "string", Norm: "zoe", Exact: "Zoë"},
				{Param: "name", Type: "string", Norm: "dr.", Exact: "Dr."},
				{Param: "name", Type: "string", Norm: "zoe muller", Exact: "Zoë Müller"},
				{Param: "address", Type: "string", Norm: "straße 1", Exact: "Straße 1"},
				{Param: "address", Type: "string", Norm: "malmo", Exact: "Malmö"},
				{Param: "address", Type: "string", Norm: "d", Exact: "D"},
				{Param: "address", Type: "string", Norm: "se", Exact: "SE"},
				{Param: "address-country", Type: "string", Norm: "se", Exact: "SE"},
			}, nil},
		{"tokens", `{'resourceType':'Patient','identifier':[{'system':'http://id','value':'7'},{'value':'8','type':{'text':'Local Id','coding':[{'system':'http://t','code':'A'},{'system':'http://t','code':'B'}]}}],
			'telecom':[{'system':'email','value':'a@b.c'},{'system':'phone','value':'1'}],'active':false,
			'maritalStatus':{'coding':[{'code':'M','display':'Married'}],'text':'Verheiratet'},'deceasedDateTime':'2020'}`,
			[]IndexEntry{
				{Param: "identifier", Type: "token", System: "http://id", Code: "7"},
				{Param: "identifier", Type: "token", Code: "8", Text: "local id", TypeSystem: "http://t", TypeCode: "A"},
				{Param: "identifier", Type: "token", Code: "8", Text: "local id", TypeSystem: "http://t", TypeCode: "B"},
				{Param: "email", Type: "token", System: "email", Code: "a@b.c"},
				{Param: "phone", Type: "token", System: "phone", Code: "1"},
				{Param: "telecom", Type: "token", System: "phone", Code: "1"},
				{Param: "active", Type: "token", Code: "false"},
				{Param: "deceased", Type: "token", Code: "true"},
			}, []string{"gender", "birthdate"}},
		{"code outside its required ValueSet", `{'resourceType':'Patient','gender':'robot','language':'de'}`,
			[]IndexEntry{{Param: "gender", Type: "token", Code: "robot"}}, nil},
		{"codeable concept text", `{'resourceType':'Condition','code':{'coding':[{'system':'http://snomed.info/sct','code':'1','display':'Fièvre'}],'text':'Fever'},'subject':{'reference':'Patient/1'}}`,
			[]IndexEntry{
				{Param: "code", Type: "token", System: "http://snomed.info/sct", Code: "1", Text: "fievre"},
				{Param: "code", Type: "token", Text: "fever"},
			}, nil},
		{"references", `{'resourceType':'Observation','subject':{'reference':'Patient/1/_history/3'},
			'performer':[{'reference':'http://other.org/fhir/Practitioner/9'},{'reference':'urn:uuid:0a1b'},{'reference':'#c1'},
			  {'identifier':{'system':'http://npi','value':'42'}},{'display':'only text'},{'reference':'Organization/o1','identifier':{'system':'http://x','value':'o'}}],
			'contained':[{'resourceType':'Practitioner','id':'c1'}],
			'hasMember':[{'reference':'https://x.org/Observation/a/_history/1'}],'focus':[{'reference':'Unknown/1'}]}`,
			[]IndexEntry{
				{Param: "subject", Type: "reference", RefType: "Patient", RefID: "1"},
				{Param: "patient", Type: "reference", RefType: "Patient", RefID: "1"},
				{Param: "performer", Type: "reference", URL: "http://other.org/fhir/Practitioner/9"}, // another server: a URL, never a local Practitioner/9
				{Param: "performer", Type: "reference", URL: "urn:uuid:0a1b"},
				{Param: "performer", Type: "reference", URL: "#c1"},
				{Param: "performer", Type: "reference", System: "http://npi", Code: "42"},
				{Param: "performer", Type: "reference", RefType: "Organization", RefID: "o1", System: "http://x", Code: "o"},
				{Param: "has-member", Type: "reference", URL: "https://x.org/Observation/a/_history/1"},
				{Param: "focus", Type: "reference", URL: "Unknown/1"},
			}, nil},
		{"canonical references", `{'resourceType':'PlanDefinition','status':'draft','library':['http://x.org/Library/l|1.2'],
			'relatedArtifact':[{'type':'depends-on','resource':'http://x.org/Library/dep'},{'type':'citation','resource':'http://x.org/Library/no'}],'url':'http://x.org/pd'}`,
			[]IndexEntry{
				{Param: "depends-on", Type: "reference", URL: "http://x.org/Library/l|1.2"},
				{Param: "depends-on", Type: "reference", URL: "http://x.org/Library/l"},
				{Param: "depends-on", Type: "reference", URL: "http://x.org/Library/dep"},
				{Param: "url", Type: "uri", Exact: "http://x.org/pd"},
			}, nil},
		{"common parameters", `{'resourceType':'Patient','id':'a','meta':{'lastUpdated':'2026-01-02T03:04:05.123456Z','profile':['http://p|2'],
			'tag':[{'system':'http://t','code':'x'}],'security':[{'code':'R'}],'source':'http://src#1'}}`,
			[]IndexEntry{
				{Param: "_id", Type: "token", Code: "a"},
				{Param: "_lastUpdated", Type: "date", Start: micros("2026-01-02T03:04:05.123456Z"), End: micros("2026-01-02T03:04:05.123457Z")},
				{Param: "_profile", Type: "uri", Exact: "http://p|2"},
				{Param: "_profile", Type: "uri", Exact: "http://p"},
				{Param: "_tag", Type: "token", System: "http://t", Code: "x"},
				{Param: "_security", Type: "token", Code: "R"},
				{Param: "_source", Type: "uri", Exact: "http://src#1"},
			}, nil},
		{"dates", `{'resourceType':'AuditEvent','recorded':'2026-03-04T10:20:30.5+01:00','type':{'code':'x'},'agent':[{'requestor':true}],'source':{'observer':{'display':'x'}}}`,
			[]IndexEntry{{Param: "date", Type: "date", Start: micros("2026-03-04T09:20:30.5Z"), End: micros("2026-03-04T09:20:30.6Z")}}, nil},
		{"periods", `{'resourceType':'Encounter','status':'planned','class':{'code':'x'},'period':{'start':'2026-02'}}`,
			[]IndexEntry{{Param: "date", Type: "date", Start: micros("2026-02-01T00:00:00Z"), End: MaxTime}}, nil},
		{"open start", `{'resourceType':'Encounter','status':'planned','class':{'code':'x'},'period':{'end':'2026-02-03T10:00'}}`,
			[]IndexEntry{{Param: "date", Type: "date", Start: MinTime, End: micros("2026-02-03T10:01:00Z")}}, nil},
		{"timing", `{'resourceType':'ServiceRequest','status':'active','intent':'order','subject':{'reference':'Patient/1'},
			'occurrenceTiming':{'event':['2026-01-01','2026-01-08'],'repeat':{'boundsPeriod':{'start':'2026-01-01','end':'2026-01-31'}}}}`,
			[]IndexEntry{
				{Param: "occurrence", Type: "date", Start: micros("2026-01-01T00:00:00Z"), End: micros("2026-01-02T00:00:00Z")},
				{Param: "occurrence", Type: "date", Start: micros("2026-01-08T00:00:00Z"), End: micros("2026-01-09T00:00:00Z")},
				{Param: "occurrence", Type: "date", Start: micros("2026-01-01T00:00:00Z"), End: micros("2026-02-01T00:00:00Z")},
			}, nil},
		{"numbers", `{'resourceType':'RiskAssessment','status':'final','subject':{'reference':'Patient/1'},
			'prediction':[{'probabilityDecimal':100},{'probabilityDecimal':100.0},{'probabilityDecimal':1e2},{'probabilityRange':{'low':{'value':0.2}}}]}`,
			[]IndexEntry{
				{Param: "probability", Type: "number", Number: 100, Low: 99.5, High: 100.5},
				{Param: "probability", Type: "number", Number: 100, Low: 99.95, High: 100.05},
				{Param: "probability", Type: "number", Number: 100, Low: 50, High: 150},
				{Param: "probability", Type: "number", Number: 0.2, Low: 0.2, High: max},
			}, nil},
		{"quantities", `{'resourceType':'Condition','subject':{'reference':'Patient/1'},'onsetAge':{'value':4,'unit':'years','system':'http://unitsofmeasure.org','code':'a'}}`,
			[]IndexEntry{{Param: "onset-age", Type: "quantity", Number: 4, Low: 3.5, High: 4.5, System: "http://unitsofmeasure.org", Code: "a", CanonicalNumber: 4 * 31557600, CanonicalCode: "s"}},
			[]string{"onset-date", "onset-info"}},
		{"quantity unit text, range", `{'resourceType':'Library','status':'draft','type':{'text':'x'},'useContext':[
			{'code':{'code':'age'},'valueRange':{'low':{'value':18,'unit':'yr'},'high':{'value':65,'unit':'yr'}}},
			{'code':{'code':'x'},'valueQuantity':{'value':2.50,'unit':'tablets'}}]}`,
			[]IndexEntry{
				{Param: "context-quantity", Type: "quantity", Number: 18, Low: 18, High: 65, Code: "yr"},
				{Param: "context-quantity", Type: "quantity", Number: 2.5, Low: 2.495, High: 2.505, Code: "tablets"},
				{Param: "context-type-quantity", Type: "composite", Components: []IndexEntry{
					{Param: "context-type", Type: "token", Code: "x"},
					{Param: "context-quantity", Type: "quantity", Number: 2.5, Low: 2.495, High: 2.505, Code: "tablets"}}},
			}, nil},
		{"money", `{'resourceType':'ChargeItem','status':'billed','code':{'text':'x'},'subject':{'reference':'Patient/1'},'priceOverride':{'value':40,'currency':'EUR'}}`,
			[]IndexEntry{{Param: "price-override", Type: "quantity", Number: 40, Low: 39.5, High: 40.5, System: "urn:iso:std:iso:4217", Code: "EUR"}}, nil},
		{"extensions", `{'resourceType':'Patient','extension':[{'url':'http://hl7.org/fhir/StructureDefinition/patient-extensions-Patient-mothersMaidenName','valueString':'Ölund'},
			{'url':'http://example.org/other','valueString':'no'}]}`,
			[]IndexEntry{{Param: "mothersMaidenName", Type: "string", Norm: "olund", Exact: "Ölund"}}, []string{"part-agree"}},
		{"extension with a complex value", `{'resourceType':'Observation','status':'final','code':{'text':'x'},
			'extension':[{'url':'http://hl7.org/fhir/StructureDefinition/observation-geneticsGene','valueCodeableConcept':{'coding':[{'system':'http://www.genenames.org','code':'3236'}]}}]}`,
			[]IndexEntry{{Param: "gene-identifier", Type: "token", System: "http://www.genenames.org", Code: "3236"}}, nil},
		{"bundle's first resource", `{'resourceType':'Bundle','type':'document','entry':[{'resource':{'resourceType':'Composition','id':'c'}},{'resource':{'resourceType':'Patient','id':'p'}}]}`,
			[]IndexEntry{
				{Param: "composition", Type: "reference", RefType: "Composition", RefID: "c"},
				{Param: "message", Type: "reference", RefType: "Composition", RefID: "c"},
				{Param: "type", Type: "token", System: "http://hl7.org/fhir/bundle-type", Code: "document"},
			}, nil},
		{"composite with %resource", `{'resourceType':'MolecularSequence','coordinateSystem':0,'referenceSeq':{'chromosome':{'coding':[{'code':'1'}]}},
			'variant':[{'start':10,'end':12},{'start':20}]}`,
			[]IndexEntry{
				{Param: "chromosome-variant-coordinate", Type: "composite", Components: []IndexEntry{
					{Param: "chromosome", Type: "token", Code: "1"},
					{Param: "variant-start", Type: "number", Number: 10, Low: 9.5, High: 10.5},
					{Param: "variant-end", Type: "number", Number: 12, Low: 11.5, High: 12.5}}},
			}, nil},
		{"observation value variants", `{'resourceType':'Observation','status':'final','code':{'text':'x'},'valueCodeableConcept':{'coding':[{'system':'http://s','code':'pos'}]},
			'component':[{'code':{'coding':[{'code':'c1'}]},'valueString':'Hoch'}]}`,
			[]IndexEntry{
				{Param: "value-concept", Type: "token", System: "http://s", Code: "pos"},
				{Param: "combo-value-concept", Type: "token", System: "http://s", Code: "pos"},
				{Param: "code-value-concept", Type: "composite", Components: []IndexEntry{
					{Param: "code", Type: "token", Text: "x"},
					{Param: "value-concept", Type: "token", System: "http://s", Code: "pos"}}},
			}, []string{"value-quantity", "value-string", "component-value-concept", "component-code-value-concept"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			es := extractJSON(t, x, tc.resource)
			requireEntries(t, es, tc.want...)
			for _, code := range tc.none {
				if got := paramEntries(es, code); len(got) != 0 {
					t.Errorf("%s: want no entries, got %s", code, jsonString(got))
				}
			}
		})
	}
}

func TestExtractDeduplicates(t *testing.T) {
	x := testExtractor(t)
	es := extractJSON(t, x, `{'resourceType':'Patient','name':[{'given':['Ann','Ann']},{'given':['Ann'],'family':'Ann'}]}`)
	if got := paramEntries(es, "given"); len(got) != 1 {
		t.Errorf("given: %s, want one entry", jsonString(got))
	}
	if got := paramEntries(es, "name"); len(got) != 1 {
		t.Errorf("name: %s, want one entry", jsonString(got))
	}
	// Many codes take the keyed path.
	var codes []string
	for i := range 100 {
		codes = append(codes, `{'code':'c`+itoa(i%40)+`'}`)
	}
	es = extractJSON(t, x, `{'resourceType':'CodeSystem','status':'draft','content':'complete','concept':[`+strings.Join(codes, ",")+`]}`)
	if got := paramEntries(es, "code"); len(got) != 40 {
		t.Errorf("code: %d entries, want 40", len(got))
	}
}

func TestExtractOrderedByParameter(t *testing.T) {
	x := testExtractor(t)
	es := extractExample(t, x, "Patient", "Patient-example.json")
	if !slices.IsSortedFunc(es, func(a, b IndexEntry) int { return strings.Compare(a.Param, b.Param) }) {
		t.Error("entries are not ordered by parameter code")
	}
	again := extractExample(t, x, "Patient", "Patient-example.json")
	if !reflect.DeepEqual(es, again) {
		t.Error("two extractions differ")
	}
}

func TestExtractErrors(t *testing.T) {
	x := testExtractor(t)
	for _, c := range []struct{ typ, json string }{
		{"Patient", `not json`},
		{"Patient", `[1,2]`},
		{"Patient", `null`},
		{"Patient", `{"resourceType":"Patient"} {}`},
		{"Patient", `{"resourceType":"Observation"}`},
		{"Nothing", `{"resourceType":"Nothing"}`},
		{"Patient", `{"resourceType":"Patient","name":[{"family":"unterminated}]}`},
	} {
		if _, err := x.Extract(c.typ, []byte(c.json)); !errors.Is(err, ErrNotResource) {
			t.Errorf("%s %s: got %v, want ErrNotResource", c.typ, c.json, err)
		}
	}
	es, err := x.Extract("Basic", []byte(`{"resourceType":"Basic"}`))
	if err != nil || es != nil {
		t.Errorf("empty Basic: %v, %v", es, err)
	}
}

func TestExtractPackageFunc(t *testing.T) {
	spec, err := conformance.Load()
	if err != nil {
		t.Fatal(err)
	}
	es, err := Extract(spec, "Patient", []byte(`{"resourceType":"Patient","id":"x","gender":"other"}`))
	if err != nil {
		t.Fatal(err)
	}
	requireEntries(t, es, IndexEntry{Param: "_id", Type: "token", Code: "x"}, IndexEntry{Param: "gender", Type: "token", System: "http://hl7.org/fhir/administrative-gender", Code: "other"})
}

func TestDecimalRange(t *testing.T) {
	for _, c := range []struct {
		in           string
		n, low, high float64
	}{
		{"100", 100, 99.5, 100.5},
		{"100.0", 100, 99.95, 100.05},
		{"100.00", 100, 99.995, 100.005},
		{"1e2", 100, 50, 150},
		{"1.0e2", 100, 95, 105},
		{"1E-2", 0.01, 0.005, 0.015},
		{"0.1", 0.1, 0.05, 0.15},
		{"-5", -5, -5.5, -4.5},
		{"-0.25", -0.25, -0.255, -0.245},
		{"0", 0, -0.5, 0.5},
		{"123456789012345678901234567890", 1.2345678901234568e29, 1.2345678901234568e29, 1.2345678901234568e29},
	} {
		n, low, high, ok := decimalRange(c.in)
		if !ok || n != c.n || low != c.low || high != c.high {
			t.Errorf("decimalRange(%s) = %v [%v, %v) %v, want %v [%v, %v)", c.in, n, low, high, ok, c.n, c.low, c.high)
		}
	}
	for _, bad := range []string{"", "x", "1e", "--1"} {
		if _, _, _, ok := decimalRange(bad); ok {
			t.Errorf("decimalRange(%q) ok", bad)
		}
	}
}

func TestNormalizeString(t *testing.T) {
	for in, want := range map[string]string{
		"Chalmers": "chalmers", "": "", "ZOË": "zoe", "Müller": "muller", "Ångström": "angstrom",
		"Crème Brûlée": "creme brulee", "Straße": "straße", "Ñandú": "nandu", "ÉCOLE": "ecole",
		"Łódź": "łodz", "İstanbul": "istanbul", "日本": "日本",
	} {
		if got := NormalizeString(in); got != want {
			t.Errorf("NormalizeString(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCanonicalUCUM(t *testing.T) {
	for _, c := range []struct {
		v    float64
		code string
		want float64
		unit string
	}{
		{1, "kg", 1000, "g"}, {250, "mg", 0.25, "g"}, {2, "[lb_av]", 907.18474, "g"},
		{500, "mL", 0.5, "L"}, {180, "cm", 1.8, "m"}, {98.6, "[degF]", 37, "Cel"},
		{310.15, "K", 37, "Cel"}, {2, "h", 7200, "s"}, {72, "{beats}/min", 72, "/min"},
	} {
		got, unit, ok := CanonicalUCUM(c.v, c.code)
		if !ok || unit != c.unit || math.Abs(got-c.want) > 1e-9*math.Max(1, math.Abs(c.want)) {
			t.Errorf("CanonicalUCUM(%v %s) = %v %s %v, want %v %s", c.v, c.code, got, unit, ok, c.want, c.unit)
		}
	}
	if _, _, ok := CanonicalUCUM(1, "furlong"); ok {
		t.Error("unknown unit converted")
	}
}

func TestExtractConcurrent(t *testing.T) {
	x := testExtractor(t)
	files := []struct{ typ, file string }{
		{"Observation", "Observation-blood-pressure.json"}, {"Patient", "Patient-example.json"},
		{"Observation", "Observation-example.json"}, {"Bundle", "Bundle-bundle-transaction.json"},
	}
	raws := make([][]byte, len(files))
	wants := make([][]IndexEntry, len(files))
	for i, f := range files {
		raw, err := os.ReadFile("../testdata/examples/" + f.file)
		if err != nil {
			t.Fatal(err)
		}
		raws[i] = raw
		if wants[i], err = x.Extract(f.typ, raw); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				k := (g + i) % len(files)
				got, err := x.Extract(files[k].typ, raws[k])
				if err != nil || !reflect.DeepEqual(got, wants[k]) {
					t.Errorf("%s: concurrent extraction differs (%v)", files[k].file, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestExtractReferencesUnderBase: an absolute reference under the server's
// own base is local, one anywhere else is a URL only.
func TestExtractReferencesUnderBase(t *testing.T) {
	x := testExtractor(t).WithBase("https://fhir.example/fhir/")
	entries, err := x.Extract("Observation", []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"},
		"subject":{"reference":"https://fhir.example/fhir/Patient/7/_history/2"},
		"performer":[{"reference":"https://other.example/fhir/Practitioner/9"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var subject, performer *IndexEntry
	for i, e := range entries {
		switch e.Param {
		case "subject":
			subject = &entries[i]
		case "performer":
			performer = &entries[i]
		}
	}
	if subject == nil || subject.RefType != "Patient" || subject.RefID != "7" {
		t.Errorf("subject under the base: %+v, want Patient/7", subject)
	}
	if performer == nil || performer.RefType != "" || performer.URL != "https://other.example/fhir/Practitioner/9" {
		t.Errorf("performer on another server: %+v, want its URL only", performer)
	}
}
