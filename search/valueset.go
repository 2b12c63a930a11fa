package search

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/medbridge/medbridge/conformance"
)

// Coding is one code of a ValueSet expansion.
type Coding struct {
	System, Code, Display string
}

// ErrUnknownValueSet is returned by ExpandValueSet for a ValueSet the R4
// spec data does not have; ErrValueSetIncomplete for one whose published
// expansion is flagged too costly or unclosed, so that no list of codes
// is all of it (mimetypes, ucum-units).
var (
	ErrUnknownValueSet    = errors.New("search: unknown ValueSet")
	ErrValueSetIncomplete = errors.New("search: ValueSet cannot be expanded completely")
)

type valueSet struct {
	version    string
	incomplete bool
	codes      []Coding
}

type expansionContains struct {
	System   string              `json:"system"`
	Code     string              `json:"code"`
	Display  string              `json:"display"`
	Contains []expansionContains `json:"contains"`
}

var loadValueSets = sync.OnceValues(func() (map[string]*valueSet, error) {
	raw, err := conformance.ReadFile("valuesets.json")
	if err != nil {
		return nil, err
	}
	var bundle struct {
		Entry []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
				URL          string `json:"url"`
				Version      string `json:"version"`
				Expansion    struct {
					Extension []struct {
						URL          string `json:"url"`
						ValueBoolean bool   `json:"valueBoolean"`
					} `json:"extension"`
					Contains []expansionContains `json:"contains"`
				} `json:"expansion"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(raw, &bundle); err != nil {
		return nil, fmt.Errorf("search: valuesets.json: %w", err)
	}
	sets := map[string]*valueSet{}
	for _, e := range bundle.Entry {
		r := e.Resource
		if r.ResourceType != "ValueSet" {
			continue
		}
		vs := &valueSet{version: r.Version}
		for _, ext := range r.Expansion.Extension {
			if ext.ValueBoolean && (strings.HasSuffix(ext.URL, "/valueset-toocostly") || strings.HasSuffix(ext.URL, "/valueset-unclosed")) {
				vs.incomplete = true
			}
		}
		vs.codes = flatten(vs.codes, r.Expansion.Contains)
		sets[r.URL] = vs
	}
	return sets, nil
})

func flatten(dst []Coding, cs []expansionContains) []Coding {
	for _, c := range cs {
		if c.Code != "" {
			dst = append(dst, Coding{System: c.System, Code: c.Code, Display: c.Display})
		}
		dst = flatten(dst, c.Contains)
	}
	return dst
}

// ExpandValueSet returns the codes of the R4 ValueSet with the canonical
// url ("http://hl7.org/fhir/ValueSet/administrative-gender", optionally
// "|4.0.1"), from the expansions in the spec's valuesets.json, which it
// reads on the first call. It returns ErrUnknownValueSet or
// ErrValueSetIncomplete (wrapped) when it cannot. The slice is shared:
// do not modify it.
func ExpandValueSet(url string) ([]Coding, error) {
	sets, err := loadValueSets()
	if err != nil {
		return nil, err
	}
	base, version, versioned := strings.Cut(url, "|")
	vs := sets[base]
	if vs == nil || versioned && version != vs.version {
		return nil, fmt.Errorf("%w: %s", ErrUnknownValueSet, url)
	}
	if vs.incomplete {
		return nil, fmt.Errorf("%w: %s", ErrValueSetIncomplete, url)
	}
	return vs.codes, nil
}
