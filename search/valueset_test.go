package search

import (
	"errors"
	"testing"
)

func TestExpandValueSet(t *testing.T) {
	const gender = "http://hl7.org/fhir/ValueSet/administrative-gender"
	for _, url := range []string{gender, gender + "|4.0.1"} {
		codes, err := ExpandValueSet(url)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range codes {
			if c.System != "http://hl7.org/fhir/administrative-gender" || c.Display == "" {
				t.Errorf("%s: %+v", url, c)
			}
			got = append(got, c.Code)
		}
		if len(got) != 4 || got[0] != "male" || got[3] != "unknown" {
			t.Errorf("%s: codes %v", url, got)
		}
	}
	for url, want := range map[string]error{
		gender + "|3.0.1":                        ErrUnknownValueSet,
		"http://example.org/ValueSet/nope":       ErrUnknownValueSet,
		"":                                       ErrUnknownValueSet,
		"http://hl7.org/fhir/ValueSet/mimetypes": ErrValueSetIncomplete,
		"http://hl7.org/fhir/ValueSet/ucum-units": ErrValueSetIncomplete,
	} {
		if _, err := ExpandValueSet(url); !errors.Is(err, want) {
			t.Errorf("ExpandValueSet(%q): %v, want %v", url, err, want)
		}
	}
}
