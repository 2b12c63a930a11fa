package ingest

import (
	"fmt"

	"github.com/medbridge/medbridge/mappers/medtech"
	"github.com/medbridge/medbridge/mappers/omh"
	"github.com/medbridge/medbridge/mappers/phd"
)

// Builtin returns the mappings that need no template: "omh" for Open
// mHealth data points and "phd" for FHIR Bundles of IEEE 11073 Personal
// Health Device gateways. Both create patients on first sight.
func Builtin() []*Mapping {
	return []*Mapping{
		{
			Name: "omh", Mapper: omh.New(omh.Options{}), Trusted: true,
			Description: map[string]any{
				"kind":   "built-in",
				"format": "Open mHealth data points (header + body), namespace omh",
				"schemas": []string{"heart-rate", "blood-pressure", "body-temperature", "oxygen-saturation", "respiratory-rate",
					"body-weight", "body-height", "body-mass-index", "blood-glucose", "step-count", "sleep-duration", "physical-activity"},
				"patient": "header.user_id (any identifier system)",
				"device":  omh.DeviceSystem + " | user_id/source",
			},
		},
		{
			Name: "phd", Mapper: phd.Mapper{},
			Description: map[string]any{
				"kind":    "built-in",
				"format":  "FHIR transaction or batch Bundles from IEEE 11073 PHD gateways (HL7 PHD IG), stored as sent with LOINC codings added to the MDC codes",
				"patient": "Observation.subject's identifier",
				"device":  phd.EUI64System + " (EUI-64)",
			},
		},
	}
}

// Mappings returns the built-in mappings and those of the template
// directory dir ("" for none): one per sub-folder, in the MedTech
// (iomt-fhir) template format (see mappers/medtech). A template mapping may
// not take a built-in mapping's name.
func Mappings(dir string) ([]*Mapping, error) {
	out := Builtin()
	if dir == "" {
		return out, nil
	}
	templates, err := medtech.Load(dir)
	if err != nil {
		return nil, err
	}
	for _, m := range templates {
		for _, b := range out {
			if b.Name == m.Name {
				return nil, fmt.Errorf("%s/%s: %q is the name of a built-in mapping; rename the folder", dir, m.Name, m.Name)
			}
		}
		out = append(out, &Mapping{Name: m.Name, Mapper: m, Lookup: m.Settings.Lookup(), Trusted: true, Description: m.Describe()})
	}
	return out, nil
}
