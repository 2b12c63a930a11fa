// Package conformance holds the FHIR R4 (4.0.1) specification as data,
// embedded in the binary: the resource definitions, search parameters,
// value sets and compartment definition in spec/ (see spec/README.md), and
// the facts medbridge derives from them: which resource types exist, their
// summary, mandatory and choice elements, and the CapabilityStatement and
// OperationDefinitions (operations/) the server publishes.
package conformance

import (
	"embed"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/medbridge/medbridge/fhir"
)

//go:embed spec/*.json
var files embed.FS

// ReadFile returns the content of one embedded spec file, named as in
// spec/README.md ("search-parameters.json", "valuesets.json", ...). Load
// parses only what the Spec methods need; other packages decode the files
// they use themselves.
func ReadFile(name string) ([]byte, error) {
	b, err := files.ReadFile("spec/" + name)
	if err != nil {
		return nil, fmt.Errorf("conformance: %w", err)
	}
	return b, nil
}

// Spec is the parsed specification data. It is immutable and safe for
// concurrent use.
type Spec struct {
	types []string // sorted concrete resource types
	byTyp map[string]*typeInfo
}

// typeInfo holds the top-level elements of one resource type, each by its
// spec name: a choice element value[x] is "value".
type typeInfo struct {
	elements  []string // in definition order
	summary   map[string]bool
	mandatory map[string]bool
	choices   map[string]bool
}

var load = sync.OnceValues(parse)

// Load returns the Spec, parsing the embedded files on the first call only;
// later calls return the same *Spec (or the same error).
func Load() (*Spec, error) { return load() }

// The fields of profiles-resources.json that Load needs; encoding/json skips
// the rest (types, bindings, fixed values) without allocating.
type structureDefinitions struct {
	Entry []struct {
		Resource struct {
			Type       string `json:"type"`
			Kind       string `json:"kind"`
			Abstract   bool   `json:"abstract"`
			Derivation string `json:"derivation"`
			Snapshot   struct {
				Element []struct {
					Path string `json:"path"`
					Min  int    `json:"min"`
				} `json:"element"`
			} `json:"snapshot"`
		} `json:"resource"`
	} `json:"entry"`
}

func parse() (*Spec, error) {
	raw, err := ReadFile("profiles-resources.json")
	if err != nil {
		return nil, err
	}
	var sds structureDefinitions
	if err := json.Unmarshal(raw, &sds); err != nil {
		return nil, fmt.Errorf("conformance: profiles-resources.json: %w", err)
	}
	s := &Spec{byTyp: make(map[string]*typeInfo, 160)}
	for _, e := range sds.Entry {
		sd := &e.Resource
		// Constraint profiles (vitalsigns, ...) share the type of their base.
		if sd.Kind != "resource" || sd.Abstract || sd.Derivation == "constraint" {
			continue
		}
		if _, dup := s.byTyp[sd.Type]; dup {
			return nil, fmt.Errorf("conformance: profiles-resources.json: two definitions of %s", sd.Type)
		}
		ti := &typeInfo{mandatory: map[string]bool{}, choices: map[string]bool{}}
		prefix := sd.Type + "."
		for _, el := range sd.Snapshot.Element {
			name, ok := strings.CutPrefix(el.Path, prefix)
			if !ok || strings.Contains(name, ".") {
				continue
			}
			name, choice := strings.CutSuffix(name, "[x]")
			ti.elements = append(ti.elements, name)
			if choice {
				ti.choices[name] = true
			}
			if el.Min > 0 {
				ti.mandatory[name] = true
			}
		}
		s.byTyp[sd.Type] = ti
		s.types = append(s.types, sd.Type)
	}
	sort.Strings(s.types)

	raw, err = ReadFile("summary-elements.json")
	if err != nil {
		return nil, err
	}
	var summary map[string][]string
	if err := json.Unmarshal(raw, &summary); err != nil {
		return nil, fmt.Errorf("conformance: summary-elements.json: %w", err)
	}
	for typ, names := range summary {
		ti := s.byTyp[typ]
		if ti == nil {
			return nil, fmt.Errorf("conformance: summary-elements.json: unknown type %s", typ)
		}
		ti.summary = make(map[string]bool, len(names))
		for _, n := range names {
			if !slices.Contains(ti.elements, n) {
				return nil, fmt.Errorf("conformance: summary-elements.json: %s has no element %s", typ, n)
			}
			ti.summary[n] = true
		}
	}
	for _, typ := range s.types {
		if s.byTyp[typ].summary == nil {
			return nil, fmt.Errorf("conformance: summary-elements.json: %s is missing", typ)
		}
	}
	return s, nil
}

// ResourceTypes returns every concrete R4 resource type, sorted.
func (s *Spec) ResourceTypes() []string { return slices.Clone(s.types) }

// IsResourceType reports whether typ is a concrete R4 resource type
// (case-sensitive: "Patient", not "patient").
func (s *Spec) IsResourceType(typ string) bool { return s.byTyp[typ] != nil }

// Elements returns the names of typ's top-level elements in definition
// order, a choice element by its base name ("value" for value[x]); nil for
// an unknown type.
func (s *Spec) Elements(typ string) []string {
	if ti := s.byTyp[typ]; ti != nil {
		return slices.Clone(ti.elements)
	}
	return nil
}

// SummaryElements returns the top-level elements of typ that the R4 spec
// marks isSummary (id, meta, implicitRules and the type's own), a choice
// element by its base name; nil for an unknown type. Match JSON names
// against it with fhir.KeepElements and ChoiceElements. The map is the
// caller's.
func (s *Spec) SummaryElements(typ string) map[string]bool {
	if ti := s.byTyp[typ]; ti != nil {
		return maps.Clone(ti.summary)
	}
	return nil
}

// MandatoryElements returns the top-level elements of typ with a minimum
// cardinality above 0, a choice element by its base name; nil for an
// unknown type. The map is the caller's.
func (s *Spec) MandatoryElements(typ string) map[string]bool {
	if ti := s.byTyp[typ]; ti != nil {
		return maps.Clone(ti.mandatory)
	}
	return nil
}

// ChoiceElements returns the base names of typ's top-level choice elements
// ("value" for Observation.value[x]); nil for an unknown type. The map is
// the caller's.
func (s *Spec) ChoiceElements(typ string) map[string]bool {
	if ti := s.byTyp[typ]; ti != nil {
		return maps.Clone(ti.choices)
	}
	return nil
}

// SummaryKeep returns the keep function for fhir.Subset that implements
// _summary=mode on a resource of type typ:
//
//   - "true": the elements marked isSummary;
//   - "text": text and the mandatory elements;
//   - "data": every element but text.
//
// fhir.Subset keeps resourceType, id and meta in every case. ok is false for
// an unknown type and for the modes that do not subset a resource ("false",
// "count") or are not modes at all.
func (s *Spec) SummaryKeep(typ, mode string) (keep func(jsonName string) bool, ok bool) {
	ti := s.byTyp[typ]
	if ti == nil {
		return nil, false
	}
	switch mode {
	case "true":
		return fhir.KeepElements(ti.summary, ti.choices), true
	case "text":
		names := maps.Clone(ti.mandatory)
		names["text"] = true
		return fhir.KeepElements(names, ti.choices), true
	case "data":
		return func(jsonName string) bool { return jsonName != "text" }, true
	}
	return nil, false
}

// ElementsKeep returns the keep function for fhir.Subset that implements
// _elements=names on a resource of type typ: the named elements (a choice
// element by its base name, "value", or by its JSON name, "valueQuantity")
// and, as the spec asks, the mandatory elements. Names that typ does not
// have are ignored.
func (s *Spec) ElementsKeep(typ string, names []string) func(jsonName string) bool {
	ti := s.byTyp[typ]
	if ti == nil {
		return func(string) bool { return false }
	}
	keep := maps.Clone(ti.mandatory)
	for _, n := range names {
		keep[n] = true
	}
	return fhir.KeepElements(keep, ti.choices)
}
