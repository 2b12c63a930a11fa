package server_test

import (
	"net/url"
	"testing"

	"github.com/medbridge/medbridge/server/servertest"
)

// TestSearchParameterTypes searches searchFixture by every parameter type
// and modifier over HTTP, on both stores. Expected ids follow from the
// fixture's comment (dates and quantities) and the R4 rules in
// /work/shared/notes/search-semantics.md: dates are ranges, eq is
// containment; numbers have the precision they are written with; strings
// start-match case- and accent-insensitively.
func TestSearchParameterTypes(t *testing.T) {
	servertest.EachBackend(t, func(t *testing.T, b servertest.Backend) {
		srv := startSearchFixture(t, b)
		groups := []struct {
			name  string
			cases []idCase
		}{
			{"date", dateCases},
			{"number", numberCases},
			{"string", stringCases},
			{"token", tokenCases},
			{"reference", referenceCases(srv)},
			{"quantity", quantityCases},
			{"composite", compositeCases},
			{"uri", uriCases},
			{"missing", missingCases},
		}
		for _, g := range groups {
			t.Run(g.name, func(t *testing.T) { runIDCases(t, srv, g.cases) })
		}
	})
}

var dateCases = []idCase{
	// eq: the resource's range lies inside the search range.
	{query: "/fhir/Observation?date=2026-03-04", want: []string{"obs-1", "obs-2"}},
	{query: "/fhir/Observation?date=eq2026-03-04", want: []string{"obs-1", "obs-2"}},
	// A year holds the points and the March period, not the open period
	// from February (it runs past 2026).
	{query: "/fhir/Observation?date=2026", want: []string{"obs-1", "obs-2", "obs-3", "obs-8"}},
	// Second precision with a zone: only obs-1's instant (09:00:00Z).
	{query: "/fhir/Observation?date=2026-03-04T10:00:00%2B01:00", want: []string{"obs-1"}},
	{query: "/fhir/Observation?date=2026-03-04T09:00:00Z", want: []string{"obs-1"}},
	// obs-8 is the evening of 03-04 in New York, 03-05 in UTC (the
	// server's zone for values without one).
	{query: "/fhir/Observation?date=2026-03-05", want: []string{"obs-8"}},
	{query: "/fhir/Observation?date=ne2026-03-04", want: []string{"obs-3", "obs-4", "obs-5", "obs-6", "obs-8"}},
	// gt: the resource's range reaches past 03-05T00:00.
	{query: "/fhir/Observation?date=gt2026-03-04", want: []string{"obs-3", "obs-4", "obs-8"}},
	// lt: the resource's range starts before 03-04T00:00.
	{query: "/fhir/Observation?date=lt2026-03-04", want: []string{"obs-3", "obs-4", "obs-5", "obs-6"}},
	{query: "/fhir/Observation?date=ge2026-03-04", want: []string{"obs-1", "obs-2", "obs-3", "obs-4", "obs-8"}},
	{query: "/fhir/Observation?date=le2026-03-04", want: []string{"obs-1", "obs-2", "obs-3", "obs-4", "obs-5", "obs-6"}},
	// sa: starts at or after the end of the search range; eb: ends at or
	// before its start.
	{query: "/fhir/Observation?date=sa2026-03-04", want: []string{"obs-8"}},
	{query: "/fhir/Observation?date=eb2026-03-04", want: []string{"obs-5", "obs-6"}},
	// ap: 2024 plus 10% of the gap to now on each side: obs-6 only (obs-5,
	// 2025-12-31, is more than a year past it).
	{query: "/fhir/Observation?date=ap2024", want: []string{"obs-6"}},
	// Precision edge: gt a second — obs-1's own second does not reach past it.
	{query: "/fhir/Observation?date=gt2026-03-04T09:00:00Z", want: []string{"obs-2", "obs-3", "obs-4", "obs-8"}},
	{query: "/fhir/Observation?date=sa2026-03-04T09:00:00Z", want: []string{"obs-8"}},
	// Open period: only obs-4 reaches past 03-11.
	{query: "/fhir/Observation?date=ge2026-03-10", want: []string{"obs-4"}},
	// obs-4 starts exactly at 02-01: not before it.
	{query: "/fhir/Observation?date=lt2026-02-01", want: []string{"obs-5", "obs-6"}},
	// OR and AND.
	{query: "/fhir/Observation?date=2026-03-04,2026-03-05", want: []string{"obs-1", "obs-2", "obs-8"}},
	{query: "/fhir/Observation?date=ge2026-03-01&date=lt2026-03-05", want: []string{"obs-1", "obs-2", "obs-3", "obs-4"}},
	// Encounter periods: enc-1 is 08:00–12:00 on 03-04, enc-2 starts
	// 03-05T09:00 and is open, enc-3 is 2025-01-01..2025-01-02.
	{query: "/fhir/Encounter?date=2026-03-04", want: []string{"enc-1"}},
	{query: "/fhir/Encounter?date=ge2026-03-05", want: []string{"enc-2"}},
	{query: "/fhir/Encounter?date=gt2026-12-31", want: []string{"enc-2"}},
	{query: "/fhir/Encounter?date=2025-01", want: []string{"enc-3"}},
	// Birth dates of different precision: pat-b's 1975 is a whole year,
	// which a day does not contain but which starts before it.
	{query: "/fhir/Patient?birthdate=1975", want: []string{"pat-b"}},
	{query: "/fhir/Patient?birthdate=1975-06-01", want: nil},
	{query: "/fhir/Patient?birthdate=lt1975-06-01", want: []string{"pat-b"}},
	{query: "/fhir/Patient?birthdate=eq1980-05", want: []string{"pat-a"}},
	{query: "/fhir/Patient?birthdate=ge1980", want: []string{"pat-a", "pat-c", "pat-d"}},
	{query: "/fhir/Patient?birthdate=le1980-05-17", want: []string{"pat-a", "pat-b"}},
	{query: "/fhir/Patient?birthdate=sa1990-01-01", want: []string{"pat-d"}},
}

// RiskAssessment probabilities: ra-1 0.02, ra-2 0.25, ra-3 none.
var numberCases = []idCase{
	{query: "/fhir/RiskAssessment?probability=0.02", want: []string{"ra-1"}},
	// 0.3 is [0.25, 0.35): 0.25 is its lower bound, included.
	{query: "/fhir/RiskAssessment?probability=0.3", want: []string{"ra-2"}},
	// 0.2 is [0.15, 0.25): 0.25 is its upper bound, excluded.
	{query: "/fhir/RiskAssessment?probability=0.2", want: nil},
	// 2e-2 has one significant figure: [0.015, 0.025).
	{query: "/fhir/RiskAssessment?probability=2e-2", want: []string{"ra-1"}},
	{query: "/fhir/RiskAssessment?probability=gt0.02", want: []string{"ra-2"}},
	{query: "/fhir/RiskAssessment?probability=ge0.02", want: []string{"ra-1", "ra-2"}},
	{query: "/fhir/RiskAssessment?probability=lt0.25", want: []string{"ra-1"}},
	{query: "/fhir/RiskAssessment?probability=le0.25", want: []string{"ra-1", "ra-2"}},
	{query: "/fhir/RiskAssessment?probability=ne0.02", want: []string{"ra-2"}},
	{query: "/fhir/RiskAssessment?probability=ap0.25", want: []string{"ra-2"}},
	{query: "/fhir/RiskAssessment?probability=0.02,0.25", want: []string{"ra-1", "ra-2"}},
}

var stringCases = []idCase{
	// Default: starts-with on any name part, case- and accent-insensitive.
	{query: "/fhir/Patient?name=muller", want: []string{"pat-a"}},
	{query: "/fhir/Patient?name=M%C3%9CL", want: []string{"pat-a"}}, // MÜL
	{query: "/fhir/Patient?name=mue", want: []string{"pat-b"}},
	{query: "/fhir/Patient?name=angst", want: []string{"pat-d"}},
	{query: "/fhir/Patient?name=smith", want: []string{"pat-c"}},
	{query: "/fhir/Patient?name=anna", want: []string{"pat-a"}},
	{query: "/fhir/Patient?name=marie", want: []string{"pat-d"}},
	{query: "/fhir/Patient?family=anna", want: nil},
	{query: "/fhir/Patient?given=anna", want: []string{"pat-a"}},
	// :exact is case- and accent-sensitive whole-string equality.
	{query: "/fhir/Patient?name:exact=M%C3%BCller", want: []string{"pat-a"}}, // Müller
	{query: "/fhir/Patient?name:exact=m%C3%BCller", want: nil},               // müller
	{query: "/fhir/Patient?name:exact=Muller", want: nil},
	{query: "/fhir/Patient?name:exact=M%C3%BCl", want: nil},
	// :contains anywhere: "ll" in Müller and Mueller; TRÖ in Ångström.
	{query: "/fhir/Patient?name:contains=ll", want: []string{"pat-a", "pat-b"}},
	{query: "/fhir/Patient?name:contains=TR%C3%96", want: []string{"pat-d"}},
	// OR with commas, AND with repeats: names starting with m are
	// Müller, Mueller and Marie; of those only pat-a is also an Anna.
	{query: "/fhir/Patient?name=anna,bob", want: []string{"pat-a", "pat-b"}},
	{query: "/fhir/Patient?name=m&name=anna", want: []string{"pat-a"}},
	{query: "/fhir/Patient?address-city=zurich", want: []string{"pat-a"}},
	{query: "/fhir/Patient?address=ch", want: []string{"pat-a"}},
	{query: "/fhir/Organization?name=acme", want: []string{"org-1"}},
	{query: "/fhir/Organization?name=burger", want: []string{"org-2"}},
	// An escaped comma is part of the value, not an OR.
	{query: "/fhir/Organization?name:exact=Smith%5C,%20Jones%20and%20Partners", want: []string{"org-3"}},
	{query: "/fhir/Organization?name:exact=Smith,Jones%20and%20Partners", want: nil},
	{query: "/fhir/Organization?name=smith%5C,", want: []string{"org-3"}},
	{query: "/fhir/Practitioner?name=smith", want: []string{"prac-1"}},
}

var tokenCases = []idCase{
	{query: "/fhir/Patient?gender=female", want: []string{"pat-a", "pat-d"}},
	{query: "/fhir/Patient?gender=http://hl7.org/fhir/administrative-gender%7Cmale", want: []string{"pat-b"}},
	{query: "/fhir/Patient?gender=http://hl7.org/fhir/administrative-gender%7C", want: []string{"pat-a", "pat-b", "pat-d"}},
	// :not includes pat-c, who has no gender.
	{query: "/fhir/Patient?gender:not=male", want: []string{"pat-a", "pat-c", "pat-d"}},
	{query: "/fhir/Patient?gender:in=http://hl7.org/fhir/ValueSet/administrative-gender", want: []string{"pat-a", "pat-b", "pat-d"}},
	{query: "/fhir/Patient?identifier=http://example.org/mrn%7CA1", want: []string{"pat-a"}},
	{query: "/fhir/Patient?identifier=A1", want: []string{"pat-a"}},
	{query: "/fhir/Patient?identifier=http://example.org/mrn%7C", want: []string{"pat-a", "pat-b"}},
	// |code: an identifier without a system.
	{query: "/fhir/Patient?identifier=%7CX9", want: []string{"pat-d"}},
	{query: "/fhir/Patient?identifier=%7CA1", want: nil},
	{query: "/fhir/Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203%7CMR%7CA1", want: []string{"pat-a"}},
	{query: "/fhir/Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203%7CMR%7CB2", want: nil},
	{query: "/fhir/Patient?active=true", want: []string{"pat-a"}},
	{query: "/fhir/Patient?active=false", want: []string{"pat-b"}},
	{query: "/fhir/Observation?code=8867-4", want: []string{"obs-1", "obs-2", "obs-8"}},
	{query: "/fhir/Observation?code=http://loinc.org%7C8867-4", want: []string{"obs-1", "obs-2", "obs-8"}},
	{query: "/fhir/Observation?code=http://snomed.info/sct%7C8867-4", want: nil},
	{query: "/fhir/Observation?code=http://loinc.org%7C8867-4,http://loinc.org%7C29463-7", want: []string{"obs-1", "obs-2", "obs-5", "obs-8"}},
	// :text matches a coding's display or the concept's text.
	{query: "/fhir/Observation?code:text=heart", want: []string{"obs-1", "obs-2", "obs-8"}},
	{query: "/fhir/Observation?code:text=free%20text", want: []string{"obs-7"}},
	// :not keeps obs-7, whose code has no coding at all.
	{query: "/fhir/Observation?code:not=8867-4", want: []string{"obs-3", "obs-4", "obs-5", "obs-6", "obs-7"}},
	{query: "/fhir/Observation?category=vital-signs&code:not=85354-9", want: []string{"obs-1", "obs-2", "obs-8"}},
	{query: "/fhir/Observation?status=final,amended", want: []string{"obs-1", "obs-3", "obs-4", "obs-5", "obs-6", "obs-7", "obs-8"}},
	// cond-3's "active" is from another system, outside the ValueSet.
	{query: "/fhir/Condition?clinical-status:in=http://hl7.org/fhir/ValueSet/condition-clinical", want: []string{"cond-1", "cond-2"}},
	{query: "/fhir/Condition?clinical-status:not-in=http://hl7.org/fhir/ValueSet/condition-clinical", want: []string{"cond-3"}},
	{query: "/fhir/Condition?clinical-status=active", want: []string{"cond-1", "cond-3"}},
	{query: "/fhir/Condition?clinical-status=http://terminology.hl7.org/CodeSystem/condition-clinical%7C", want: []string{"cond-1", "cond-2"}},
	{query: "/fhir/Condition?code:text=hyper", want: []string{"cond-1"}},
	{query: "/fhir/Encounter?class=AMB", want: []string{"enc-1", "enc-3"}},
	{query: "/fhir/Encounter?status=finished", want: []string{"enc-1", "enc-3"}},
}

// referenceCases needs the server's base for an absolute reference under it.
func referenceCases(srv *servertest.Server) []idCase {
	return []idCase{
		{query: "/fhir/Observation?subject=Patient/pat-a", want: []string{"obs-1", "obs-3"}},
		{query: "/fhir/Observation?subject=pat-a", want: []string{"obs-1", "obs-3"}},
		{query: "/fhir/Observation?subject:Patient=pat-a", want: []string{"obs-1", "obs-3"}},
		{query: "/fhir/Observation?subject=" + url.QueryEscape(srv.Base+"/Patient/pat-a"), want: []string{"obs-1", "obs-3"}},
		{query: "/fhir/Observation?subject=grp-1", want: []string{"obs-8"}},
		{query: "/fhir/Observation?subject=Group/grp-1", want: []string{"obs-8"}},
		{query: "/fhir/Observation?subject:Patient=grp-1", want: nil},
		{query: "/fhir/Observation?subject=" + url.QueryEscape("http://other.example.org/fhir/Patient/ext-1"), want: []string{"obs-7"}},
		{query: "/fhir/Observation?subject=pat-a,pat-b", want: []string{"obs-1", "obs-2", "obs-3", "obs-4"}},
		{query: "/fhir/Observation?patient=pat-a", want: []string{"obs-1", "obs-3"}},
		{query: "/fhir/Observation?patient=pat-d", want: []string{"obs-6"}},
		{query: "/fhir/Observation?subject:identifier=http://example.org/mrn%7CD4", want: []string{"obs-6"}},
		{query: "/fhir/Observation?performer=Practitioner/prac-1", want: []string{"obs-1"}},
		{query: "/fhir/Observation?device=dev-1", want: []string{"obs-7"}},
		{query: "/fhir/Patient?organization=org-1", want: []string{"pat-a"}},
		{query: "/fhir/Patient?general-practitioner=prac-1", want: []string{"pat-a"}},
		{query: "/fhir/Patient?link=pat-a", want: []string{"pat-d"}},
		{query: "/fhir/Device?patient=pat-a", want: []string{"dev-1"}},
	}
}

var quantityCases = []idCase{
	// 72 is [71.5, 72.5); 72.4 is [72.35, 72.45); 7.2e1 two figures.
	{query: "/fhir/Observation?value-quantity=72", want: []string{"obs-1"}},
	{query: "/fhir/Observation?value-quantity=72.4", want: nil},
	{query: "/fhir/Observation?value-quantity=7.2e1", want: []string{"obs-1"}},
	{query: "/fhir/Observation?value-quantity=70", want: []string{"obs-5"}},
	{query: "/fhir/Observation?value-quantity=70.00", want: []string{"obs-5"}},
	{query: "/fhir/Observation?value-quantity=100", want: []string{"obs-2"}},
	// gt/lt are strict on the exact value.
	{query: "/fhir/Observation?value-quantity=gt72", want: []string{"obs-2"}},
	{query: "/fhir/Observation?value-quantity=ge72", want: []string{"obs-1", "obs-2"}},
	{query: "/fhir/Observation?value-quantity=lt70", want: []string{"obs-6", "obs-8"}},
	{query: "/fhir/Observation?value-quantity=le70", want: []string{"obs-5", "obs-6", "obs-8"}},
	{query: "/fhir/Observation?value-quantity=ne72", want: []string{"obs-2", "obs-5", "obs-6", "obs-8"}},
	{query: "/fhir/Observation?value-quantity=ap100", want: []string{"obs-2"}},
	{query: "/fhir/Observation?value-quantity=72%7Chttp://unitsofmeasure.org%7C/min", want: []string{"obs-1"}},
	{query: "/fhir/Observation?value-quantity=70%7Chttp://unitsofmeasure.org%7C/min", want: nil},
	{query: "/fhir/Observation?value-quantity=5.5%7C%7Cmmol/L", want: []string{"obs-6"}},
	{query: "/fhir/Observation?value-quantity=5.5%7Chttp://unitsofmeasure.org%7Cmmol/L", want: nil},
	{query: "/fhir/Observation?value-quantity=gt50%7Chttp://unitsofmeasure.org%7C/min", want: []string{"obs-1", "obs-2", "obs-8"}},
	{query: "/fhir/Observation?component-value-quantity=gt140", want: []string{"obs-3", "obs-4"}},
}

var compositeCases = []idCase{
	// Both parts must match the same component: obs-4's 145 is its
	// diastolic, its systolic is 120.
	{query: "/fhir/Observation?component-code-value-quantity=http://loinc.org%7C8480-6$gt140", want: []string{"obs-3"}},
	{query: "/fhir/Observation?component-code-value-quantity=http://loinc.org%7C8462-4$gt140", want: []string{"obs-4"}},
	{query: "/fhir/Observation?component-code-value-quantity=8480-6$lt130", want: []string{"obs-4"}},
	{query: "/fhir/Observation?component-code-value-quantity=http://loinc.org%7C8480-6$gt140,http://loinc.org%7C8462-4$gt140", want: []string{"obs-3", "obs-4"}},
	{query: "/fhir/Observation?code-value-quantity=http://loinc.org%7C8867-4$gt80", want: []string{"obs-2"}},
	{query: "/fhir/Observation?code-value-quantity=8867-4$72%7Chttp://unitsofmeasure.org%7C/min", want: []string{"obs-1"}},
}

var uriCases = []idCase{
	{query: "/fhir/ValueSet?url=http://example.org/fhir/ValueSet/a", want: []string{"vs-1"}},
	{query: "/fhir/ValueSet?url=http://example.org/fhir", want: nil},
	{query: "/fhir/ValueSet?url:below=http://example.org/fhir", want: []string{"vs-1", "vs-2"}},
	{query: "/fhir/ValueSet?url:below=http://example.org/fhir/ValueSet", want: []string{"vs-1"}},
	{query: "/fhir/ValueSet?url:above=http://example.org/fhir/ValueSet/a/extra", want: []string{"vs-1"}},
	{query: "/fhir/ValueSet?url:above=http://example.org/fhir/ValueSet/b", want: nil},
}

// missingCases: :missing on a date, token, string, reference, quantity,
// number and uri parameter.
var missingCases = []idCase{
	{query: "/fhir/Observation?date:missing=true", want: []string{"obs-7"}},
	{query: "/fhir/Observation?date:missing=false", want: []string{"obs-1", "obs-2", "obs-3", "obs-4", "obs-5", "obs-6", "obs-8"}},
	{query: "/fhir/Patient?gender:missing=true", want: []string{"pat-c"}},
	{query: "/fhir/Patient?gender:missing=false", want: []string{"pat-a", "pat-b", "pat-d"}},
	{query: "/fhir/Patient?active:missing=true", want: []string{"pat-c", "pat-d"}},
	{query: "/fhir/Patient?address:missing=true", want: []string{"pat-b", "pat-c", "pat-d"}},
	{query: "/fhir/Observation?encounter:missing=false", want: []string{"obs-1"}},
	{query: "/fhir/Observation?value-quantity:missing=true", want: []string{"obs-3", "obs-4", "obs-7"}},
	{query: "/fhir/RiskAssessment?probability:missing=true", want: []string{"ra-3"}},
	{query: "/fhir/ValueSet?url:missing=true", want: nil},
	{query: "/fhir/ValueSet?url:missing=false", want: []string{"vs-1", "vs-2", "vs-3"}},
	{query: "/fhir/Observation?component-code-value-quantity:missing=false", want: []string{"obs-3", "obs-4"}},
}
