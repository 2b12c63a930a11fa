package search

import "testing"

func TestChain(t *testing.T) {
	sys := strp("http://hospital.org/mrn")
	runValueCases(t, []valueCase{
		{observation, "subject:Patient.name=peter", "subject@Observation:Patient->Patient.name@Patient", []Value{{String: "peter"}}},
		{observation, "subject:Patient.name:exact=Peter", "subject@Observation:Patient->Patient.name@Patient:exact", []Value{{String: "Peter"}}},
		{observation, "subject:Patient.name:missing=true", "subject@Observation:Patient->Patient.name@Patient:missing=true", nil},
		{observation, "subject:Patient.birthdate=ge2000", "subject@Observation:Patient->Patient.birthdate@Patient", []Value{{Prefix: Ge, Date: mustRange(t, "2000")}}},
		{observation, "subject:Patient._id=p1,p2", "subject@Observation:Patient->Patient._id@Resource", []Value{{Code: "p1"}, {Code: "p2"}}},
		// Only Patient of patient's targets (Patient, Group) has name: no ambiguity.
		{observation, "patient.name=peter", "patient@Observation->Patient.name@Patient", []Value{{String: "peter"}}},
		// Both have identifier: one alternative per target type.
		{observation, "patient.identifier=http://hospital.org/mrn|42", "or(patient@Observation->Patient.identifier@Patient | patient@Observation->Group.identifier@Group)",
			[]Value{{System: sys, Code: "42"}}},
		{observation, "subject.name=x", "or(subject@Observation->Patient.name@Patient | subject@Observation->Location.name@Location)", []Value{{String: "x"}}},
		// Three links; Group has no organization.
		{observation, "subject.organization.name=acme",
			"or(subject@Observation->Device.organization@Device->Organization.name@Organization" +
				" | subject@Observation->Patient.organization@Patient->Organization.name@Organization" +
				" | subject@Observation->Location.organization@Location->Organization.name@Organization)",
			[]Value{{String: "acme"}}},
		{observation, "subject:Patient.organization.name=acme", "subject@Observation:Patient->Patient.organization@Patient->Organization.name@Organization", []Value{{String: "acme"}}},
		{observation, "subject:Patient.organization:Organization.name=acme", "subject@Observation:Patient->Patient.organization@Patient:Organization->Organization.name@Organization", []Value{{String: "acme"}}},
		// An ambiguous second link.
		{observation, "subject:Patient.general-practitioner.name=smith",
			"subject@Observation:Patient->Patient.or(general-practitioner@Patient->Practitioner.name@Practitioner | general-practitioner@Patient->Organization.name@Organization)",
			[]Value{{String: "smith"}}},
		{observation, "subject:Patient.general-practitioner:Practitioner.identifier=" + "http://hospital.org/mrn|7",
			"subject@Observation:Patient->Patient.general-practitioner@Patient:Practitioner->Practitioner.identifier@Practitioner",
			[]Value{{System: sys, Code: "7"}}},
		// A chain ending in a reverse chain.
		{observation, "subject:Patient._has:Encounter:patient:status=planned",
			"subject@Observation:Patient->Patient._has(Encounter.patient){status@Encounter}", []Value{{Code: "planned"}}},
	})
	runUnknownCases(t, []unknownCase{
		{observation, "subject.foo=x"},
		{observation, "subject:Patient.foo=x"},
		{observation, "code.name=x"},                // not a reference
		{observation, "subject:Medication.name=x"},  // not a target
		{observation, "subject:Foo.name=x"},         // not a type
		{observation, "subject.=x"},                 // empty chain
		{observation, "subject:Patient.name:foo=x"}, // bad modifier at the end
		{observation, "subject:identifier.name=x"},  // modifier on a link
		{observation, "subject.organization.foo=x"}, // nowhere at the end
	})
	runErrorCases(t, []errorCase{
		{observation, "subject:Patient.birthdate=xx2000", "subject:Patient.birthdate"},
		{observation, "patient.identifier=a|b|c", "patient.identifier"},
		{observation, "subject.organization.name=a&subject:Patient.birthdate=2000-13", "subject:Patient.birthdate"},
	})
	// An empty value is ignored once the name is known.
	q := mustParse(t, observation, "subject:Patient.name=&patient.identifier=", Options{Strict: true})
	if len(q.Filters) != 0 || len(q.Unknown) != 0 {
		t.Errorf("empty chained values: %+v", q)
	}
}

func mustRange(t *testing.T, s string) DateRange {
	t.Helper()
	r, err := ParseDateRange(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReverseChain(t *testing.T) {
	runValueCases(t, []valueCase{
		{patient, "_has:Observation:patient:code=1234-5", "_has(Observation.patient){code@Observation}", []Value{{Code: "1234-5"}}},
		{patient, "_has:Observation:subject:code=http://loinc.org|1234-5", "_has(Observation.subject){code@Observation}", []Value{{System: strp("http://loinc.org"), Code: "1234-5"}}},
		{patient, "_has:Observation:patient:code:text=heart", "_has(Observation.patient){code@Observation:text}", []Value{{String: "heart"}}},
		{patient, "_has:Observation:patient:date=ge2026", "_has(Observation.patient){date@Observation}", []Value{{Prefix: Ge, Date: mustRange(t, "2026")}}},
		{patient, "_has:Observation:patient:_has:AuditEvent:entity:agent=Practitioner/1",
			"_has(Observation.patient){_has(AuditEvent.entity){agent@AuditEvent}}", []Value{{RefType: "Practitioner", RefID: "1"}}},
		{patient, "_has:Observation:patient:performer:Practitioner.name=smith",
			"_has(Observation.patient){performer@Observation:Practitioner->Practitioner.name@Practitioner}", []Value{{String: "smith"}}},
		{patient, "_has:Observation:patient:code:missing=false", "_has(Observation.patient){code@Observation:missing=false}", nil},
		{nil, "_has:Observation:patient:code=x", "_has(Observation.patient){code@Observation}", []Value{{Code: "x"}}},
	})
	runUnknownCases(t, []unknownCase{
		{patient, "_has:Observation:patient=x"},
		{patient, "_has:Observation=x"},
		{patient, "_has=x"},
		{patient, "_has:Observation::code=x"},
		{patient, "_has:Foo:patient:code=x"},
		{patient, "_has:Observation:foo:code=x"},
		{patient, "_has:Observation:code:code=x"},      // not a reference
		{patient, "_has:Observation:encounter:code=x"}, // does not refer to Patient
		{patient, "_has:Observation:patient:foo=x"},
		{patient, "_has:Observation:patient:code:foo=x"},
		{patient, "_has:Observation:patient:_has:Encounter:subject:status=x"}, // Encounter.subject does not refer to Observation
	})
	runErrorCases(t, []errorCase{
		{patient, "_has:Observation:patient:date=xx", "_has:Observation:patient:date"},
		{patient, "_has:Observation:patient:_has:AuditEvent:entity:date=2026-13", "_has:Observation:patient:_has:AuditEvent:entity:date"},
	})
}

// A chain through a reference to any type keeps every type that has the
// chained parameter.
func TestChainManyTargets(t *testing.T) {
	q := mustParse(t, []string{"Provenance"}, "target.name=x", Options{Strict: true})
	if len(q.Filters) != 1 {
		t.Fatalf("filters %+v", q.Filters)
	}
	seen := map[string]bool{}
	for _, alt := range q.Filters[0].Or {
		if alt.Param != q.Filters[0].Param || alt.Chain == nil || alt.Chain.Param.Code != "name" || seen[alt.ChainType] {
			t.Errorf("alternative %s", dump(alt))
		}
		seen[alt.ChainType] = true
	}
	for _, typ := range []string{"Patient", "Organization", "Practitioner", "Location", "HealthcareService"} {
		if !seen[typ] {
			t.Errorf("no alternative for %s", typ)
		}
	}
	if seen["Observation"] || seen["Group"] {
		t.Errorf("alternatives for types without name: %v", seen)
	}
}
