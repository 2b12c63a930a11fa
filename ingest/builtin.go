package ingest

import (
	"errors"

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
// directory dir ("" for none).
func Mappings(dir string) ([]*Mapping, error) {
	if dir != "" {
		return nil, errors.New("ingest: template mappings are not wired yet")
	}
	return Builtin(), nil
}
