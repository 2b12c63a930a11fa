package profile

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/medbridge/medbridge/conformance"
)

// valueSet is a value set expanded from its compose: system → codes.
type valueSet struct {
	url, name string
	codes     map[string]map[string]bool
	// why is the reason the value set cannot be expanded from the embedded
	// data ("" when it can); bindings to it are not checked.
	why string
}

// contains reports whether code of system is in the value set; an empty
// system matches the code in any system (a bound code element has none).
func (vs *valueSet) contains(system, code string) bool {
	if system != "" {
		return vs.codes[system][code]
	}
	for _, codes := range vs.codes {
		if codes[code] {
			return true
		}
	}
	return false
}

// examples returns up to n codes of the value set, for diagnostics.
func (vs *valueSet) examples(n int) []string {
	var out []string
	for _, codes := range vs.codes {
		for c := range codes {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	if len(out) > n {
		out = out[:n]
	}
	return out
}

type concept struct {
	Code    string    `json:"code"`
	Concept []concept `json:"concept"`
}

// loadValueSets expands every ValueSet of valuesets.json from its compose:
// an include of a whole CodeSystem takes every code of its concept tree,
// an include with a concept list takes those codes. A value set that
// includes a CodeSystem absent from the bundle (UCUM, BCP-13 mime types,
// ISO 4217, ...), filters or other value sets cannot be expanded here; it
// keeps the reason instead of codes.
func loadValueSets() (map[string]*valueSet, error) {
	raw, err := conformance.ReadFile("valuesets.json")
	if err != nil {
		return nil, err
	}
	var bundle struct {
		Entry []struct {
			Resource struct {
				ResourceType string    `json:"resourceType"`
				URL          string    `json:"url"`
				Name         string    `json:"name"`
				Concept      []concept `json:"concept"`
				Compose      struct {
					Include []struct {
						System   string            `json:"system"`
						Concept  []concept         `json:"concept"`
						Filter   []json.RawMessage `json:"filter"`
						ValueSet []string          `json:"valueSet"`
					} `json:"include"`
					Exclude []json.RawMessage `json:"exclude"`
				} `json:"compose"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(raw, &bundle); err != nil {
		return nil, fmt.Errorf("profile: valuesets.json: %w", err)
	}
	codeSystems := map[string][]concept{}
	for _, e := range bundle.Entry {
		if r := e.Resource; r.ResourceType == "CodeSystem" {
			codeSystems[r.URL] = r.Concept
		}
	}
	out := map[string]*valueSet{}
	for _, e := range bundle.Entry {
		r := &e.Resource
		if r.ResourceType != "ValueSet" {
			continue
		}
		vs := &valueSet{url: r.URL, name: r.Name, codes: map[string]map[string]bool{}}
		out[r.URL] = vs
		if len(r.Compose.Exclude) > 0 {
			vs.why = "its compose excludes codes"
		}
		for _, inc := range r.Compose.Include {
			switch {
			case len(inc.Filter) > 0 || len(inc.ValueSet) > 0 || inc.System == "":
				vs.why = "its compose uses filters or other value sets"
			case len(inc.Concept) > 0:
				addConcepts(vs.codeSet(inc.System), inc.Concept)
			case codeSystems[inc.System] != nil:
				addConcepts(vs.codeSet(inc.System), codeSystems[inc.System])
			default:
				vs.why = "it includes all of " + inc.System + ", a code system not in valuesets.json"
			}
		}
		if vs.why != "" {
			vs.codes = nil
		}
	}
	return out, nil
}

func (vs *valueSet) codeSet(system string) map[string]bool {
	if vs.codes[system] == nil {
		vs.codes[system] = map[string]bool{}
	}
	return vs.codes[system]
}

func addConcepts(dst map[string]bool, cs []concept) {
	for _, c := range cs {
		dst[c.Code] = true
		addConcepts(dst, c.Concept)
	}
}

// bindingIssue checks the coded value v of type typ against the value set
// vs; it returns the offending code, or "" when v conforms or carries no
// code to check.
func bindingIssue(vs *valueSet, v any, typ string) string {
	switch typ {
	case "code", "string", "uri":
		if s, ok := v.(string); ok && !vs.contains("", s) {
			return fmt.Sprintf("%q", s)
		}
	case "Coding", "Quantity":
		m, _ := v.(map[string]any)
		system, _ := m["system"].(string)
		if code, ok := m["code"].(string); ok && !vs.contains(system, code) {
			return codeText(system, code)
		}
	case "CodeableConcept":
		m, _ := v.(map[string]any)
		codings, _ := m["coding"].([]any)
		var bad []string
		for _, c := range codings {
			cm, _ := c.(map[string]any)
			system, _ := cm["system"].(string)
			code, ok := cm["code"].(string)
			if !ok {
				continue
			}
			if vs.contains(system, code) {
				return ""
			}
			bad = append(bad, codeText(system, code))
		}
		return strings.Join(bad, ", ")
	}
	return ""
}

func codeText(system, code string) string {
	if system == "" {
		return fmt.Sprintf("%q", code)
	}
	return fmt.Sprintf("%s|%s", system, code)
}
