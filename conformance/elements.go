package conformance

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/medbridge/medbridge/fhir/fhirpath"
)

// elementModel is the R4 type system as fhirpath.Model: every element of
// every resource, datatype and backbone element, from the snapshots in
// profiles-resources.json and profiles-types.json.
type elementModel struct {
	elements map[string]map[string]*fhirpath.Element // type or backbone path → name → element
	base     map[string]string                       // type → the type it derives from
}

func (m *elementModel) Element(typ, name string) *fhirpath.Element { return m.elements[typ][name] }
func (m *elementModel) BaseType(typ string) string                 { return m.base[typ] }

var loadElements = sync.OnceValues(parseElements)

// FHIRPathModel returns the R4 element definitions as the type model
// fhirpath evaluates with: element types, choice elements (value[x] with
// its JSON names valueQuantity, valueString, ...), backbone elements
// (typed by their path, "Observation.component"), required bindings and
// the type hierarchy (Age is a Quantity, code a string, Patient a
// DomainResource). It is parsed on the first call only and safe for
// concurrent use.
func (s *Spec) FHIRPathModel() (fhirpath.Model, error) {
	m, err := loadElements()
	if err != nil {
		return nil, err
	}
	return m, nil
}

type elementDefinitions struct {
	Entry []struct {
		Resource struct {
			Type           string `json:"type"`
			Kind           string `json:"kind"`
			Derivation     string `json:"derivation"`
			BaseDefinition string `json:"baseDefinition"`
			Snapshot       struct {
				Element []struct {
					Path             string `json:"path"`
					ContentReference string `json:"contentReference"`
					Binding          struct {
						Strength string `json:"strength"`
						ValueSet string `json:"valueSet"`
					} `json:"binding"`
					Type []struct {
						Code      string `json:"code"`
						Extension []struct {
							URL      string `json:"url"`
							ValueURL string `json:"valueUrl"`
						} `json:"extension"`
					} `json:"type"`
				} `json:"element"`
			} `json:"snapshot"`
		} `json:"resource"`
	} `json:"entry"`
}

const fhirTypeExtension = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"

func parseElements() (*elementModel, error) {
	m := &elementModel{elements: map[string]map[string]*fhirpath.Element{}, base: map[string]string{}}
	for _, file := range []string{"profiles-types.json", "profiles-resources.json"} {
		raw, err := ReadFile(file)
		if err != nil {
			return nil, err
		}
		var sds elementDefinitions
		if err := json.Unmarshal(raw, &sds); err != nil {
			return nil, fmt.Errorf("conformance: %s: %w", file, err)
		}
		for _, e := range sds.Entry {
			sd := &e.Resource
			// Constraint profiles (SimpleQuantity, vitalsigns) add no elements
			// and share the type of their base.
			if sd.Derivation == "constraint" {
				continue
			}
			if b := sd.BaseDefinition; b != "" {
				m.base[sd.Type] = b[strings.LastIndexByte(b, '/')+1:]
			}
			if sd.Kind == "primitive-type" {
				continue // only the internal System value
			}
			for _, el := range sd.Snapshot.Element {
				dot := strings.LastIndexByte(el.Path, '.')
				if dot < 0 {
					continue
				}
				parent, name := el.Path[:dot], el.Path[dot+1:]
				name, choice := strings.CutSuffix(name, "[x]")
				def := &fhirpath.Element{Choice: choice}
				if el.Binding.Strength == "required" {
					def.Binding, _, _ = strings.Cut(el.Binding.ValueSet, "|")
				}
				if ref, ok := strings.CutPrefix(el.ContentReference, "#"); ok {
					def.Types = []fhirpath.ElementType{{Name: ref, JSONName: name}}
				}
				for _, t := range el.Type {
					code := t.Code
					for _, x := range t.Extension {
						if x.URL == fhirTypeExtension {
							code = x.ValueURL
						}
					}
					if sys, ok := strings.CutPrefix(code, "http://hl7.org/fhirpath/System."); ok {
						code = strings.ToLower(sys[:1]) + sys[1:]
					}
					if (code == "BackboneElement" || code == "Element") && parent != "" {
						// An inline element: typed by its own path, whose
						// children are the elements below it.
						m.base[el.Path] = code
						code = el.Path
					}
					jsonName := name
					if choice {
						jsonName = name + strings.ToUpper(code[:1]) + code[1:]
					}
					def.Types = append(def.Types, fhirpath.ElementType{Name: code, JSONName: jsonName})
				}
				if len(def.Types) == 0 {
					return nil, fmt.Errorf("conformance: %s: element %s has no type", file, el.Path)
				}
				if m.elements[parent] == nil {
					m.elements[parent] = map[string]*fhirpath.Element{}
				}
				m.elements[parent][name] = def
			}
		}
	}
	return m, nil
}
