package search

import "testing"

func TestCompositeParameter(t *testing.T) {
	loinc := strp("http://loinc.org")
	day, _ := ParseDateRange("2026-03-04")
	runValueCases(t, []valueCase{
		{observation, "component-code-value-quantity=http://loinc.org|8480-6$gt140", "component-code-value-quantity@Observation", []Value{{Components: []Value{
			{System: loinc, Code: "8480-6"},
			{Prefix: Gt, String: "140", Number: 140, Low: 139.5, High: 140.5},
		}}}},
		{observation, "code-value-quantity=8480-6$140|http://unitsofmeasure.org|mm%5BHg%5D,8462-4$lt90", "code-value-quantity@Observation", []Value{
			{Components: []Value{{Code: "8480-6"}, {Prefix: Eq, String: "140", Number: 140, Low: 139.5, High: 140.5, System: strp("http://unitsofmeasure.org"), Code: "mm[Hg]"}}},
			{Components: []Value{{Code: "8462-4"}, {Prefix: Lt, String: "90", Number: 90, Low: 89.5, High: 90.5}}},
		}},
		{observation, "code-value-concept=http://loinc.org|72166-2$http://snomed.info/sct|8517006", "code-value-concept@Observation", []Value{{Components: []Value{
			{System: loinc, Code: "72166-2"}, {System: strp("http://snomed.info/sct"), Code: "8517006"},
		}}}},
		{observation, "code-value-date=x$ge2026-03-04", "code-value-date@Observation", []Value{{Components: []Value{{Code: "x"}, {Prefix: Ge, Date: day}}}}},
		{observation, `code-value-string=x$a\$b\,c`, "code-value-string@Observation", []Value{{Components: []Value{{Code: "x"}, {String: "a$b,c"}}}}},
		{[]string{"MolecularSequence"}, "chromosome-variant-coordinate=1$gt5$lt10", "chromosome-variant-coordinate@MolecularSequence", []Value{{Components: []Value{
			{Code: "1"},
			{Prefix: Gt, String: "5", Number: 5, Low: 4.5, High: 5.5},
			{Prefix: Lt, String: "10", Number: 10, Low: 9.5, High: 10.5},
		}}}},
		{[]string{"DocumentReference"}, "relationship=DocumentReference/1$replaces", "relationship@DocumentReference", []Value{{Components: []Value{
			{RefType: "DocumentReference", RefID: "1"}, {Code: "replaces"},
		}}}},
		{observation, "combo-code-value-quantity:missing=true", "combo-code-value-quantity@Observation:missing=true", nil},
	})
	runErrorCases(t, []errorCase{
		{observation, "component-code-value-quantity=http://loinc.org|8480-6", "component-code-value-quantity"},
		{observation, "component-code-value-quantity=a$1$2", "component-code-value-quantity"},
		{observation, "component-code-value-quantity=a$xx140", "component-code-value-quantity"},
		{observation, "component-code-value-quantity=$140", "component-code-value-quantity"},
		{observation, "code-value-date=x$2026-99", "code-value-date"},
		{[]string{"DocumentReference"}, "relationship=Foo/1$replaces", "relationship"},
	})
}
