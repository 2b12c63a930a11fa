package mappers_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/conformance/profile"
	"github.com/medbridge/medbridge/fhir"
)

// vitalProfiles maps the LOINC code of each R4 vital-signs profile to it.
var vitalProfiles = map[string]string{
	"8867-4":  "heartrate",
	"85354-9": "bp",
	"59408-5": "oxygensat",
	"2708-6":  "oxygensat",
	"8310-5":  "bodytemp",
	"9279-1":  "resprate",
	"29463-7": "bodyweight",
	"8302-2":  "bodyheight",
	"39156-5": "bmi",
}

// TestVitalSignsConformToProfiles validates every Observation in every
// mapping's golden output (the Observations medbridge stores, built by
// mappers.Finish) that is a vital sign: against the base vitalsigns profile
// and the profile of its LOINC code. Every vital sign must carry one.
func TestVitalSignsConformToProfiles(t *testing.T) {
	spec, err := conformance.Load()
	if err != nil {
		t.Fatal(err)
	}
	v, err := profile.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	goldens, err := filepath.Glob("../testdata/mappers/*/*.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	more, err := filepath.Glob("../testdata/mappers/*/*/*.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	goldens = append(goldens, more...)
	checked := map[string]int{}
	for _, path := range goldens {
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var resources []json.RawMessage
		if err := json.Unmarshal(body, &resources); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for i, raw := range resources {
			var obs struct {
				ResourceType string
				Category     []struct {
					Coding []struct{ System, Code string }
				}
				Code struct {
					Coding []struct{ System, Code string }
				}
			}
			if err := json.Unmarshal(raw, &obs); err != nil {
				t.Fatalf("%s[%d]: %v", path, i, err)
			}
			if obs.ResourceType != "Observation" || !isVitalSign(obs.Category) {
				continue
			}
			profiles := []string{"vitalsigns"}
			for _, c := range obs.Code.Coding {
				if p, ok := vitalProfiles[c.Code]; ok && c.System == "http://loinc.org" {
					profiles = append(profiles, p)
				}
			}
			if len(profiles) == 1 {
				t.Errorf("%s[%d]: a vital sign without the LOINC code of an R4 vital-signs profile: %+v", path, i, obs.Code)
			}
			for _, p := range profiles {
				issues, err := v.Validate("http://hl7.org/fhir/StructureDefinition/"+p, raw)
				if err != nil {
					t.Fatal(err)
				}
				for _, is := range issues {
					if is.Severity == fhir.SeverityError {
						t.Errorf("%s[%d] against %s: %s at %v", path, i, p, is.Diagnostics, is.Expression)
					}
				}
				checked[p]++
			}
		}
	}
	t.Logf("vital-sign Observations validated per profile: %v", checked)
	for _, p := range vitalProfiles {
		if checked[p] == 0 {
			t.Errorf("no golden output exercises the %s profile", p)
		}
	}
}

func isVitalSign(category []struct {
	Coding []struct{ System, Code string }
}) bool {
	for _, c := range category {
		for _, cd := range c.Coding {
			if cd.System == "http://terminology.hl7.org/CodeSystem/observation-category" && cd.Code == "vital-signs" {
				return true
			}
		}
	}
	return false
}
