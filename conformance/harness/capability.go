package harness

import (
	"encoding/json"
	"fmt"
	"slices"
)

// capability is the part of an R4 CapabilityStatement the harness checks:
// the rest entry in mode server.
type capability struct {
	Software struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"software"`
	FHIRVersion string     `json:"fhirVersion"`
	Format      []string   `json:"format"`
	PatchFormat []string   `json:"patchFormat"`
	Rest        []restPart `json:"rest"`
}

type restPart struct {
	Mode        string        `json:"mode"`
	Security    *security     `json:"security"`
	Resource    []resource    `json:"resource"`
	Interaction []interaction `json:"interaction"`
	SearchParam []searchParam `json:"searchParam"`
	Operation   []operation   `json:"operation"`
	Compartment []string      `json:"compartment"`
}

type security struct {
	Extension []struct {
		URL       string `json:"url"`
		Extension []struct {
			URL      string `json:"url"`
			ValueURI string `json:"valueUri"`
		} `json:"extension"`
	} `json:"extension"`
	Service []struct {
		Coding []struct {
			Code string `json:"code"`
		} `json:"coding"`
	} `json:"service"`
}

// resource is one rest.resource.
type resource struct {
	Type              string        `json:"type"`
	Interaction       []interaction `json:"interaction"`
	Versioning        string        `json:"versioning"`
	ReadHistory       bool          `json:"readHistory"`
	UpdateCreate      bool          `json:"updateCreate"`
	ConditionalCreate bool          `json:"conditionalCreate"`
	ConditionalRead   string        `json:"conditionalRead"`
	ConditionalUpdate bool          `json:"conditionalUpdate"`
	ConditionalDelete string        `json:"conditionalDelete"`
	ReferencePolicy   []string      `json:"referencePolicy"`
	SearchInclude     []string      `json:"searchInclude"`
	SearchRevInclude  []string      `json:"searchRevInclude"`
	SearchParam       []searchParam `json:"searchParam"`
	Operation         []operation   `json:"operation"`
}

type interaction struct {
	Code string `json:"code"`
}

type searchParam struct {
	Name       string `json:"name"`
	Definition string `json:"definition"`
	Type       string `json:"type"`
}

type operation struct {
	Name       string `json:"name"`
	Definition string `json:"definition"`
}

// parseCapability decodes a CapabilityStatement and returns it with its
// server rest entry.
func parseCapability(body []byte) (*capability, *restPart, error) {
	var cs struct {
		ResourceType string `json:"resourceType"`
		capability
	}
	if err := json.Unmarshal(body, &cs); err != nil {
		return nil, nil, fmt.Errorf("harness: the CapabilityStatement is not JSON: %w", err)
	}
	if cs.ResourceType != "CapabilityStatement" {
		return nil, nil, fmt.Errorf("harness: /metadata answered a %q, not a CapabilityStatement", cs.ResourceType)
	}
	i := slices.IndexFunc(cs.Rest, func(r restPart) bool { return r.Mode == "server" })
	if i < 0 {
		return nil, nil, fmt.Errorf("harness: the CapabilityStatement has no rest entry in mode server")
	}
	return &cs.capability, &cs.Rest[i], nil
}

// has reports whether the interactions include code.
func has(interactions []interaction, code string) bool {
	return slices.ContainsFunc(interactions, func(i interaction) bool { return i.Code == code })
}

// param returns the claimed search parameter named name, or nil.
func (r *resource) param(name string) *searchParam {
	for i := range r.SearchParam {
		if r.SearchParam[i].Name == name {
			return &r.SearchParam[i]
		}
	}
	return nil
}
