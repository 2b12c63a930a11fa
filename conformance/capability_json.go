package conformance

import (
	"encoding/json"
	"fmt"
	"slices"
)

// The JSON model of an R4 CapabilityStatement: what CapabilityStatement
// writes, and what ParseCapabilityStatement reads from any server's
// statement (the conformance harness). It holds the elements medbridge
// states; a parsed statement's other elements are dropped. Field order
// follows the R4 definition.

// CapabilityStatementJSON is a CapabilityStatement.
type CapabilityStatementJSON struct {
	ResourceType   string             `json:"resourceType"`
	Name           string             `json:"name,omitempty"`
	Status         string             `json:"status"`
	Date           string             `json:"date"`
	Kind           string             `json:"kind"`
	Software       SoftwareJSON       `json:"software"`
	Implementation ImplementationJSON `json:"implementation"`
	FHIRVersion    string             `json:"fhirVersion"`
	Format         []string           `json:"format"`
	PatchFormat    []string           `json:"patchFormat,omitempty"`
	Rest           []RestJSON         `json:"rest"`
}

// SoftwareJSON is CapabilityStatement.software.
type SoftwareJSON struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// ImplementationJSON is CapabilityStatement.implementation.
type ImplementationJSON struct {
	Description string `json:"description"`
	URL         string `json:"url"`
}

// RestJSON is one CapabilityStatement.rest.
type RestJSON struct {
	Mode        string             `json:"mode"`
	Security    *SecurityJSON      `json:"security,omitempty"`
	Resource    []RestResourceJSON `json:"resource,omitempty"`
	Interaction []InteractionJSON  `json:"interaction,omitempty"`
	SearchParam []SearchParamJSON  `json:"searchParam,omitempty"`
	Operation   []OperationJSON    `json:"operation,omitempty"`
	Compartment []string           `json:"compartment,omitempty"`
}

// SecurityJSON is rest.security.
type SecurityJSON struct {
	Extension   []ExtensionJSON       `json:"extension,omitempty"`
	CORS        bool                  `json:"cors"`
	Service     []CodeableConceptJSON `json:"service,omitempty"`
	Description string                `json:"description,omitempty"`
}

// ExtensionJSON is an extension with a uri value or nested extensions.
type ExtensionJSON struct {
	URL       string          `json:"url"`
	Extension []ExtensionJSON `json:"extension,omitempty"`
	ValueURI  string          `json:"valueUri,omitempty"`
}

// CodeableConceptJSON is a CodeableConcept of codings.
type CodeableConceptJSON struct {
	Coding []CodingJSON `json:"coding"`
}

// CodingJSON is a Coding.
type CodingJSON struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

// RestResourceJSON is one rest.resource.
type RestResourceJSON struct {
	Type              string            `json:"type"`
	Profile           string            `json:"profile,omitempty"`
	SupportedProfile  []string          `json:"supportedProfile,omitempty"`
	Documentation     string            `json:"documentation,omitempty"`
	Interaction       []InteractionJSON `json:"interaction,omitempty"`
	Versioning        string            `json:"versioning,omitempty"`
	ReadHistory       bool              `json:"readHistory"`
	UpdateCreate      bool              `json:"updateCreate"`
	ConditionalCreate bool              `json:"conditionalCreate"`
	ConditionalRead   string            `json:"conditionalRead"`
	ConditionalUpdate bool              `json:"conditionalUpdate"`
	ConditionalDelete string            `json:"conditionalDelete"`
	ReferencePolicy   []string          `json:"referencePolicy,omitempty"`
	SearchInclude     []string          `json:"searchInclude,omitempty"`
	SearchRevInclude  []string          `json:"searchRevInclude,omitempty"`
	SearchParam       []SearchParamJSON `json:"searchParam,omitempty"`
	Operation         []OperationJSON   `json:"operation,omitempty"`
}

// InteractionJSON is one interaction (of a type or of the system).
type InteractionJSON struct {
	Code string `json:"code"`
}

// SearchParamJSON is one searchParam (of a type or of the system).
type SearchParamJSON struct {
	Name          string `json:"name"`
	Definition    string `json:"definition,omitempty"`
	Type          string `json:"type"`
	Documentation string `json:"documentation,omitempty"`
}

// OperationJSON is one operation (of a type or of the system).
type OperationJSON struct {
	Name          string `json:"name"`
	Definition    string `json:"definition"`
	Documentation string `json:"documentation,omitempty"`
}

// ParseCapabilityStatement decodes a CapabilityStatement and returns it
// with its rest entry in mode server. It fails when body is not JSON, not a
// CapabilityStatement, or has no such entry.
func ParseCapabilityStatement(body []byte) (*CapabilityStatementJSON, *RestJSON, error) {
	var cs CapabilityStatementJSON
	if err := json.Unmarshal(body, &cs); err != nil {
		return nil, nil, fmt.Errorf("conformance: the CapabilityStatement is not JSON: %w", err)
	}
	if cs.ResourceType != "CapabilityStatement" {
		return nil, nil, fmt.Errorf("conformance: a %q, not a CapabilityStatement", cs.ResourceType)
	}
	i := slices.IndexFunc(cs.Rest, func(r RestJSON) bool { return r.Mode == "server" })
	if i < 0 {
		return nil, nil, fmt.Errorf("conformance: the CapabilityStatement has no rest entry in mode server")
	}
	return &cs, &cs.Rest[i], nil
}

// HasInteraction reports whether interactions include code.
func HasInteraction(interactions []InteractionJSON, code string) bool {
	return slices.ContainsFunc(interactions, func(i InteractionJSON) bool { return i.Code == code })
}

// Has reports whether the type claims the interaction code.
func (r *RestResourceJSON) Has(code string) bool { return HasInteraction(r.Interaction, code) }

// Param returns the claimed search parameter named name, or nil.
func (r *RestResourceJSON) Param(name string) *SearchParamJSON {
	for i := range r.SearchParam {
		if r.SearchParam[i].Name == name {
			return &r.SearchParam[i]
		}
	}
	return nil
}
