package storagetest

import "net/url"

// searchCases are the parameter searches of searchWorld, by parameter
// type. The expected ids follow from the comment on searchWorld and the R4
// rules in /work/shared/notes/search-semantics.md.
var searchCases = []struct {
	name  string
	cases []searchCase
}{
	{"date", []searchCase{
		// eq: the resource's range lies inside the search range.
		{"Observation?date=2026-03-04", []string{"obs-1", "obs-2"}},
		{"Observation?date=eq2026-03-04", []string{"obs-1", "obs-2"}},
		// A year holds the instants, the March period and the month, not
		// the period from February, which is open.
		{"Observation?date=2026", []string{"obs-1", "obs-2", "obs-3", "obs-8", "obs-9"}},
		{"Observation?date=2026-03", []string{"obs-1", "obs-2", "obs-3", "obs-8", "obs-9"}},
		// Second precision with a zone: obs-1's instant, 09:00:00Z.
		{"Observation?date=" + url.QueryEscape("2026-03-04T10:00:00+01:00"), []string{"obs-1"}},
		{"Observation?date=2026-03-04T09:00:00Z", []string{"obs-1"}},
		{"Observation?date=2026-03-04T09:00", []string{"obs-1"}},
		{"Observation?date=2026-03-04T09:00:01Z", nil},
		// obs-8 is the evening of 03-04 in New York, 03-05 in UTC, the
		// zone of values without one.
		{"Observation?date=2026-03-05", []string{"obs-8"}},
		{"Observation?date=ne2026-03", []string{"obs-4", "obs-5", "obs-6"}},
		// gt: the range reaches past 03-05T00:00 (obs-2 ends exactly there).
		{"Observation?date=gt2026-03-04", []string{"obs-3", "obs-4", "obs-8", "obs-9"}},
		// lt: the range starts before 03-04T00:00.
		{"Observation?date=lt2026-03-04", []string{"obs-3", "obs-4", "obs-5", "obs-6", "obs-9"}},
		{"Observation?date=ge2026-03-04", []string{"obs-1", "obs-2", "obs-3", "obs-4", "obs-8", "obs-9"}},
		{"Observation?date=le2026-03-04", []string{"obs-1", "obs-2", "obs-3", "obs-4", "obs-5", "obs-6", "obs-9"}},
		// sa: starts at or after the end of the search range; eb: ends at
		// or before its start.
		{"Observation?date=sa2026-03-04", []string{"obs-8"}},
		{"Observation?date=eb2026-03-04", []string{"obs-5", "obs-6"}},
		// ap: 2024 widened by a tenth of the time to now on either side.
		{"Observation?date=ap2024", []string{"obs-6"}},
		// Precision: obs-1's own second does not reach past itself.
		{"Observation?date=gt2026-03-04T09:00:00Z", []string{"obs-2", "obs-3", "obs-4", "obs-8", "obs-9"}},
		{"Observation?date=sa2026-03-04T09:00:00Z", []string{"obs-8"}},
		// Open period: obs-4 reaches past everything; obs-9 past 03-11.
		{"Observation?date=ge2026-03-10", []string{"obs-4", "obs-9"}},
		{"Observation?date=gt2030", []string{"obs-4"}},
		// obs-4 starts exactly at 02-01: not before it.
		{"Observation?date=lt2026-02-01", []string{"obs-5", "obs-6"}},
		// OR within a parameter, AND between repeats.
		{"Observation?date=2026-03-04,2026-03-05", []string{"obs-1", "obs-2", "obs-8"}},
		{"Observation?date=ge2026-03-01&date=lt2026-03-05", []string{"obs-1", "obs-2", "obs-3", "obs-4", "obs-9"}},
		{"Encounter?date=2026-03-04", []string{"enc-1"}},
		{"Encounter?date=2026-03-04T11:00", nil},
		{"Encounter?date=ge2026-03-04T11:00", []string{"enc-1"}},
		{"Patient?birthdate=1975", []string{"pat-2"}},
		{"Patient?birthdate=1975-06-01", nil},
		{"Patient?birthdate=lt1975-06-01", []string{"pat-2"}},
		{"Patient?birthdate=eq1980-05", []string{"pat-1"}},
		{"Patient?birthdate=ge1980", []string{"pat-1", "pat-3", "pat-4"}},
		{"Patient?birthdate=le1980-05-17", []string{"pat-1", "pat-2"}},
		{"Patient?birthdate=sa1990-01-01", []string{"pat-4"}},
	}},
	{"number", []searchCase{
		{"RiskAssessment?probability=0.02", []string{"ra-1"}},
		// 0.3 is [0.25, 0.35): 0.25 is its lower bound, included.
		{"RiskAssessment?probability=0.3", []string{"ra-2"}},
		// 0.2 is [0.15, 0.25): 0.25 is its upper bound, excluded.
		{"RiskAssessment?probability=0.2", nil},
		{"RiskAssessment?probability=2e-2", []string{"ra-1"}},
		{"RiskAssessment?probability=gt0.02", []string{"ra-2"}},
		{"RiskAssessment?probability=ge0.02", []string{"ra-1", "ra-2"}},
		{"RiskAssessment?probability=lt0.25", []string{"ra-1"}},
		{"RiskAssessment?probability=le0.25", []string{"ra-1", "ra-2"}},
		// ne: ra-3 has no value, so it is not a different one.
		{"RiskAssessment?probability=ne0.02", []string{"ra-2"}},
		{"RiskAssessment?probability=ap0.25", []string{"ra-2"}},
		{"RiskAssessment?probability=0.02,0.25", []string{"ra-1", "ra-2"}},
	}},
	{"string", []searchCase{
		// Starts-with on any name part, case- and accent-insensitive.
		{"Patient?name=muller", []string{"pat-1"}},
		{"Patient?name=M%C3%9CL", []string{"pat-1"}}, // MÜL
		{"Patient?name=mue", []string{"pat-2"}},
		{"Patient?name=angst", []string{"pat-4"}},
		{"Patient?name=smith", []string{"pat-3"}},
		{"Patient?name=marie", []string{"pat-4"}},
		{"Patient?family=anna", nil},
		{"Patient?given=anna", []string{"pat-1"}},
		{"Patient?name=nna", nil},
		// :exact is case- and accent-sensitive whole-string equality.
		{"Patient?name:exact=M%C3%BCller", []string{"pat-1"}}, // Müller
		{"Patient?name:exact=m%C3%BCller", nil},
		{"Patient?name:exact=Muller", nil},
		{"Patient?name:exact=M%C3%BCl", nil},
		{"Patient?name:exact=Anna", []string{"pat-1"}},
		// :contains anywhere: "ll" in Müller and Mueller; TRÖ in Ångström.
		{"Patient?name:contains=ll", []string{"pat-1", "pat-2"}},
		{"Patient?name:contains=TR%C3%96", []string{"pat-4"}},
		{"Patient?name:contains=nna", []string{"pat-1"}},
		{"Patient?name=anna,bob", []string{"pat-1", "pat-2"}},
		{"Patient?name=m&name=anna", []string{"pat-1"}},
		{"Patient?address-city=zurich", []string{"pat-1"}},
		{"Organization?name=burger", []string{"org-2"}},
		{"Practitioner?name=smith", []string{"prac-1"}},
	}},
	{"token", []searchCase{
		{"Patient?gender=female", []string{"pat-1", "pat-4"}},
		{"Patient?gender=http://hl7.org/fhir/administrative-gender%7Cmale", []string{"pat-2"}},
		{"Patient?gender=http://hl7.org/fhir/administrative-gender%7C", []string{"pat-1", "pat-2", "pat-4"}},
		// :not includes pat-3, who has no gender.
		{"Patient?gender:not=male", []string{"pat-1", "pat-3", "pat-4"}},
		{"Patient?gender:not=male,female", []string{"pat-3"}},
		{"Patient?gender:in=http://hl7.org/fhir/ValueSet/administrative-gender", []string{"pat-1", "pat-2", "pat-4"}},
		{"Patient?gender:not-in=http://hl7.org/fhir/ValueSet/administrative-gender", []string{"pat-3"}},
		{"Patient?identifier=http://example.org/mrn%7CA1", []string{"pat-1"}},
		{"Patient?identifier=A1", []string{"pat-1"}},
		{"Patient?identifier=http://example.org/mrn%7C", []string{"pat-1", "pat-2"}},
		// |code: an identifier without a system.
		{"Patient?identifier=%7CX9", []string{"pat-4"}},
		{"Patient?identifier=%7CA1", nil},
		{"Patient?identifier=http://example.org/other%7CA1", nil},
		{"Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203%7CMR%7CA1", []string{"pat-1"}},
		{"Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203%7CMR%7CB2", nil},
		{"Patient?active=true", []string{"pat-1"}},
		{"Patient?active=false", []string{"pat-2"}},
		{"Patient?_id=pat-1,pat-3,obs-1", []string{"pat-1", "pat-3"}},
		{"Observation?code=8867-4", []string{"obs-1", "obs-2", "obs-8"}},
		{"Observation?code=http://loinc.org%7C8867-4", []string{"obs-1", "obs-2", "obs-8"}},
		{"Observation?code=http://snomed.info/sct%7C8867-4", nil},
		{"Observation?code=http://loinc.org%7C8867-4,http://loinc.org%7C29463-7", []string{"obs-1", "obs-2", "obs-5", "obs-8", "obs-9"}},
		// :text matches a coding's display or the concept's text, starts-with.
		{"Observation?code:text=heart", []string{"obs-1", "obs-2", "obs-8"}},
		{"Observation?code:text=free%20text", []string{"obs-7"}},
		{"Observation?code:text=text", nil},
		// :not keeps obs-7, whose code has no coding at all.
		{"Observation?code:not=8867-4", []string{"obs-3", "obs-4", "obs-5", "obs-6", "obs-7", "obs-9"}},
		{"Observation?code=85354-9,8867-4&code:not=http://loinc.org%7C85354-9", []string{"obs-1", "obs-2", "obs-8"}},
		{"Observation?status=final,amended", []string{"obs-1", "obs-3", "obs-4", "obs-5", "obs-6", "obs-7", "obs-8", "obs-9"}},
		{"Encounter?class=AMB", []string{"enc-1"}},
	}},
	{"reference", []searchCase{
		{"Observation?subject=Patient/pat-1", []string{"obs-1", "obs-3"}},
		{"Observation?subject=pat-1", []string{"obs-1", "obs-3"}},
		{"Observation?subject:Patient=pat-1", []string{"obs-1", "obs-3"}},
		{"Observation?subject=grp-1", []string{"obs-8"}},
		{"Observation?subject=Group/grp-1", []string{"obs-8"}},
		{"Observation?subject:Patient=grp-1", nil},
		{"Observation?subject=" + url.QueryEscape("http://other.example.org/fhir/Patient/ext-1"), []string{"obs-7"}},
		{"Observation?subject=pat-1,pat-2", []string{"obs-1", "obs-2", "obs-3", "obs-4"}},
		{"Observation?patient=pat-4", []string{"obs-6"}},
		{"Observation?subject:identifier=http://example.org/mrn%7CD4", []string{"obs-6"}},
		{"Observation?subject:identifier=D4", []string{"obs-6"}},
		{"Observation?performer=Practitioner/prac-1", []string{"obs-1"}},
		{"Patient?organization=org-1", []string{"pat-1"}},
		{"Patient?link=pat-1", []string{"pat-4"}},
		{"Organization?partof=Organization/org-1", []string{"org-2"}},
	}},
	{"quantity", []searchCase{
		// 72 is [71.5, 72.5); 72.4 is [72.35, 72.45); 7.2e1 two figures.
		{"Observation?value-quantity=72", []string{"obs-1"}},
		{"Observation?value-quantity=72.4", nil},
		{"Observation?value-quantity=7.2e1", []string{"obs-1"}},
		{"Observation?value-quantity=70", []string{"obs-5"}},
		{"Observation?value-quantity=70.00", []string{"obs-5"}},
		// gt/lt are strict on the exact value; without a unit the numbers
		// compare as written, whatever their units.
		{"Observation?value-quantity=gt72", []string{"obs-2", "obs-9"}},
		{"Observation?value-quantity=ge72", []string{"obs-1", "obs-2", "obs-9"}},
		{"Observation?value-quantity=lt70", []string{"obs-6", "obs-8"}},
		{"Observation?value-quantity=le70", []string{"obs-5", "obs-6", "obs-8"}},
		{"Observation?value-quantity=ne72", []string{"obs-2", "obs-5", "obs-6", "obs-8", "obs-9"}},
		{"Observation?value-quantity=ap100", []string{"obs-2"}},
		{"Observation?value-quantity=72%7Chttp://unitsofmeasure.org%7C/min", []string{"obs-1"}},
		{"Observation?value-quantity=70%7Chttp://unitsofmeasure.org%7C/min", nil},
		{"Observation?value-quantity=5.5%7C%7Cmmol/L", []string{"obs-6"}},
		{"Observation?value-quantity=5.5%7Chttp://unitsofmeasure.org%7Cmmol/L", nil},
		{"Observation?value-quantity=gt50%7Chttp://unitsofmeasure.org%7C/min", []string{"obs-1", "obs-2", "obs-8"}},
		// UCUM units compare in their canonical unit: 70 kg is
		// [69.5, 70.5) kg, which holds obs-5's 70.0 kg but not obs-9's
		// 70500 g; 70500 g is [70499.5, 70500.5) g.
		{"Observation?value-quantity=70%7Chttp://unitsofmeasure.org%7Ckg", []string{"obs-5"}},
		{"Observation?value-quantity=70.5%7Chttp://unitsofmeasure.org%7Ckg", []string{"obs-9"}},
		{"Observation?value-quantity=70000%7Chttp://unitsofmeasure.org%7Cg", []string{"obs-5"}},
		{"Observation?value-quantity=gt69000%7Chttp://unitsofmeasure.org%7Cg", []string{"obs-5", "obs-9"}},
		{"Observation?value-quantity=lt70.2%7Chttp://unitsofmeasure.org%7Ckg", []string{"obs-5"}},
		{"Observation?value-quantity=ge70%7C%7Ckg", []string{"obs-5"}},
		{"Observation?component-value-quantity=gt140", []string{"obs-3", "obs-4"}},
	}},
	{"composite", []searchCase{
		// Both parts must match the same component: obs-4's 145 is its
		// diastolic, its systolic is 120.
		{"Observation?component-code-value-quantity=http://loinc.org%7C8480-6$gt140", []string{"obs-3"}},
		{"Observation?component-code-value-quantity=http://loinc.org%7C8462-4$gt140", []string{"obs-4"}},
		{"Observation?component-code-value-quantity=8480-6$lt130", []string{"obs-4"}},
		{"Observation?component-code-value-quantity=http://loinc.org%7C8480-6$gt140,http://loinc.org%7C8462-4$gt140", []string{"obs-3", "obs-4"}},
		{"Observation?code-value-quantity=http://loinc.org%7C8867-4$gt80", []string{"obs-2"}},
		{"Observation?code-value-quantity=8867-4$72%7Chttp://unitsofmeasure.org%7C/min", []string{"obs-1"}},
		{"Observation?code-value-quantity=29463-7$gt69%7Chttp://unitsofmeasure.org%7Ckg", []string{"obs-5", "obs-9"}},
	}},
	{"uri", []searchCase{
		{"ValueSet?url=http://example.org/fhir/ValueSet/a", []string{"vs-1"}},
		{"ValueSet?url=http://example.org/fhir", nil},
		{"ValueSet?url:below=http://example.org/fhir", []string{"vs-1", "vs-2"}},
		{"ValueSet?url:below=http://example.org/fhir/", []string{"vs-1", "vs-2"}},
		{"ValueSet?url:below=http://example.org/fhir/ValueSet", []string{"vs-1"}},
		{"ValueSet?url:below=http://example.org/fhir/Value", nil},
		{"ValueSet?url:above=http://example.org/fhir/ValueSet/a/extra", []string{"vs-1"}},
		{"ValueSet?url:above=http://example.org/fhir/ValueSet/b", nil},
	}},
	{"missing", []searchCase{
		{"Observation?date:missing=true", []string{"obs-7"}},
		{"Observation?date:missing=false", []string{"obs-1", "obs-2", "obs-3", "obs-4", "obs-5", "obs-6", "obs-8", "obs-9"}},
		{"Patient?gender:missing=true", []string{"pat-3"}},
		{"Patient?gender:missing=false", []string{"pat-1", "pat-2", "pat-4"}},
		{"Patient?active:missing=true", []string{"pat-3", "pat-4"}},
		{"Patient?address-city:missing=true", []string{"pat-2", "pat-3", "pat-4"}},
		{"Patient?organization:missing=true", []string{"pat-3", "pat-4"}},
		{"Observation?encounter:missing=false", []string{"obs-1"}},
		// obs-7's code has a text and no coding: it is not missing.
		{"Observation?code:missing=true", nil},
		{"Observation?value-quantity:missing=true", []string{"obs-3", "obs-4", "obs-7"}},
		{"RiskAssessment?probability:missing=true", []string{"ra-3"}},
		{"ValueSet?url:missing=true", nil},
		{"ValueSet?url:missing=false", []string{"vs-1", "vs-2", "vs-3"}},
		{"Observation?component-code-value-quantity:missing=false", []string{"obs-3", "obs-4"}},
		{"Observation?component-code-value-quantity:missing=true&code=85354-9", nil},
	}},
	{"chain", []searchCase{
		{"Observation?subject:Patient.name=muller", []string{"obs-1", "obs-3"}},
		// Without a type: every target type that has the parameter.
		{"Observation?subject.name=muller", []string{"obs-1", "obs-3"}},
		{"Observation?subject.actual=true", []string{"obs-8"}},
		{"Observation?patient.identifier=http://example.org/mrn%7CB2", []string{"obs-2", "obs-4"}},
		{"Observation?subject:Patient.gender:not=female", []string{"obs-2", "obs-4", "obs-5", "obs-9"}},
		{"Observation?subject:Patient.birthdate=lt1985&code=85354-9", []string{"obs-3", "obs-4"}},
		// Two and three links.
		{"Observation?subject:Patient.organization.name=burger", []string{"obs-2", "obs-4"}},
		{"Observation?subject:Patient.organization.partof.name=acme", []string{"obs-2", "obs-4"}},
		{"Observation?subject:Patient.organization.identifier=acme", []string{"obs-1", "obs-3"}},
		{"Observation?encounter.subject:Patient.name=anna", []string{"obs-1"}},
		{"Observation?subject:Patient.name=nobody", nil},
	}},
	{"_has", []searchCase{
		{"Patient?_has:Observation:patient:code=8867-4", []string{"pat-1", "pat-2"}},
		{"Patient?_has:Observation:subject:code=85354-9", []string{"pat-1", "pat-2"}},
		{"Patient?_has:Observation:patient:status=amended", []string{"pat-4"}},
		{"Patient?_has:Observation:patient:status=amended,preliminary", []string{"pat-2", "pat-4"}},
		{"Patient?_has:Observation:patient:code=8867-4&gender=male", []string{"pat-2"}},
		// gone-2 (deleted) had code 8867-4 and subject pat-3.
		{"Patient?_has:Observation:patient:code=8867-4&_has:Observation:patient:code=85354-9", []string{"pat-1", "pat-2"}},
		// Nested: organizations of patients with a preliminary observation.
		{"Organization?_has:Patient:organization:_has:Observation:patient:status=preliminary", []string{"org-2"}},
		// A chain inside: patients with an observation performed by a Smith.
		{"Patient?_has:Observation:patient:performer:Practitioner.name=smith", []string{"pat-1"}},
		{"Practitioner?_has:Observation:performer:code=8867-4", []string{"prac-1"}},
		{"Patient?_has:RiskAssessment:subject:probability=gt0.1", []string{"pat-2"}},
		{"Patient?_has:Observation:patient:code=nothing", nil},
		// gone-1, deleted, was a male patient of org-1 too.
		{"Organization?_has:Patient:organization:gender=male", []string{"org-2"}},
	}},
	{"several types", []searchCase{
		{"?_type=Patient,Practitioner&name=smith", []string{"pat-3", "prac-1"}},
		{"?_type=Patient,Practitioner&name=anna", []string{"pat-1", "prac-1"}},
		{"?_type=Observation,RiskAssessment&subject=Patient/pat-1", []string{"obs-1", "obs-3", "ra-1"}},
		{"?_type=Observation,Encounter&date=2026-03-04", []string{"obs-1", "obs-2", "enc-1"}},
		{"?_id=pat-1,org-2", []string{"pat-1", "org-2"}},
	}},
}
