package harness

import (
	"fmt"

	"github.com/medbridge/medbridge/conformance"
)

// parseCapability decodes the server's CapabilityStatement (the model of
// package conformance, which medbridge writes its own with) and returns it
// with its server rest entry.
func parseCapability(body []byte) (*conformance.CapabilityStatementJSON, *conformance.RestJSON, error) {
	cs, rest, err := conformance.ParseCapabilityStatement(body)
	if err != nil {
		return nil, nil, fmt.Errorf("harness: /metadata: %w", err)
	}
	return cs, rest, nil
}

// has reports whether the interactions include code.
func has(interactions []conformance.InteractionJSON, code string) bool {
	return conformance.HasInteraction(interactions, code)
}
