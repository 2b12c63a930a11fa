package conformance

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Search parameter types (SearchParameter.type).
const (
	ParamNumber    = "number"
	ParamDate      = "date"
	ParamString    = "string"
	ParamToken     = "token"
	ParamReference = "reference"
	ParamComposite = "composite"
	ParamQuantity  = "quantity"
	ParamURI       = "uri"
	ParamSpecial   = "special"
)

// SearchParam is one R4 SearchParameter as it applies to one resource
// type. Expression is narrowed to that type: of a shared definition such as
// clinical-code ("AllergyIntolerance.code | Condition.code | ...") only the
// branches for the type remain.
type SearchParam struct {
	URL         string
	Code        string
	Type        string
	Base        string // the resource type this entry is for ("Resource" for common ones)
	Expression  string
	Targets     []string // reference targets
	Modifiers   []string
	Comparators []string
	Chains      []string
	Components  []SearchParamComponent
}

// SearchParamComponent is one part of a composite parameter: the URL of
// the parameter it reuses and the FHIRPath, relative to the composite's
// expression, that selects its value.
type SearchParamComponent struct {
	Definition string
	Expression string
}

type searchParamFile struct {
	Entry []struct {
		Resource struct {
			ID         string   `json:"id"`
			URL        string   `json:"url"`
			Code       string   `json:"code"`
			Base       []string `json:"base"`
			Type       string   `json:"type"`
			Expression string   `json:"expression"`
			Target     []string `json:"target"`
			Modifier   []string `json:"modifier"`
			Comparator []string `json:"comparator"`
			Chain      []string `json:"chain"`
			Component  []struct {
				Definition string `json:"definition"`
				Expression string `json:"expression"`
			} `json:"component"`
		} `json:"resource"`
	} `json:"entry"`
}

// searchRegistry indexes every SearchParameter of the spec by base type and
// by URL.
type searchRegistry struct {
	byType map[string]map[string]*SearchParam // type → code → param
	byURL  map[string]*SearchParam
}

var loadSearch = sync.OnceValues(parseSearchParams)

func parseSearchParams() (*searchRegistry, error) {
	raw, err := ReadFile("search-parameters.json")
	if err != nil {
		return nil, err
	}
	var f searchParamFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("conformance: search-parameters.json: %w", err)
	}
	reg := &searchRegistry{byType: map[string]map[string]*SearchParam{}, byURL: map[string]*SearchParam{}}
	for _, e := range f.Entry {
		r := e.Resource
		// The examples package ships illustrative SearchParameters
		// (example, example-reference, example-extension) that would shadow
		// the real _id, Condition.subject and add a bogus Patient part-agree.
		if r.ID == "example" || strings.HasPrefix(r.ID, "example-") {
			continue
		}
		for _, base := range r.Base {
			if _, dup := reg.byType[base][r.Code]; dup {
				return nil, fmt.Errorf("conformance: search-parameters.json: two definitions of %s.%s", base, r.Code)
			}
			p := &SearchParam{
				URL: r.URL, Code: r.Code, Type: r.Type, Base: base,
				Expression:  narrowExpression(r.Expression, base),
				Targets:     r.Target,
				Modifiers:   r.Modifier,
				Comparators: r.Comparator,
				Chains:      r.Chain,
			}
			for _, c := range r.Component {
				p.Components = append(p.Components, SearchParamComponent{Definition: c.Definition, Expression: c.Expression})
			}
			if reg.byType[base] == nil {
				reg.byType[base] = map[string]*SearchParam{}
			}
			reg.byType[base][r.Code] = p
			if _, seen := reg.byURL[r.URL]; !seen {
				reg.byURL[r.URL] = p
			}
		}
	}
	return reg, nil
}

// narrowExpression keeps the top-level union branches of expr that apply
// to base: those starting with "base." or "(base." and, for the common
// parameters, "Resource." / "DomainResource.". Expressions without a
// type-specific branch are returned unchanged.
func narrowExpression(expr, base string) string {
	if expr == "" {
		return ""
	}
	branches := splitUnion(expr)
	var kept []string
	for _, b := range branches {
		t := strings.TrimLeft(strings.TrimSpace(b), "(")
		if strings.HasPrefix(t, base+".") || t == base || strings.HasPrefix(t, base+" ") {
			kept = append(kept, strings.TrimSpace(b))
		}
	}
	if len(kept) == 0 {
		return expr
	}
	return strings.Join(kept, " | ")
}

// splitUnion splits a FHIRPath expression at its top-level "|" operators
// (outside parentheses and string literals).
func splitUnion(expr string) []string {
	var parts []string
	depth, start, inString := 0, 0, false
	for i := 0; i < len(expr); i++ {
		switch c := expr[i]; {
		case c == '\'':
			inString = !inString
		case inString:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == '|' && depth == 0:
			parts = append(parts, expr[start:i])
			start = i + 1
		}
	}
	return append(parts, expr[start:])
}

// SearchParams returns the search parameters that apply to typ: its own
// and the common ones of Resource and DomainResource, by code. Parameters
// without an expression (_text, _content, _query, _list, _has, ...) are left
// out: they are not index-backed and the search package handles the ones it
// supports itself. The map is the caller's; its values are shared and
// immutable.
func (s *Spec) SearchParams(typ string) (map[string]*SearchParam, error) {
	reg, err := loadSearch()
	if err != nil {
		return nil, err
	}
	out := map[string]*SearchParam{}
	bases := []string{"Resource", typ}
	if typ != "Bundle" && typ != "Binary" && typ != "Parameters" {
		bases = []string{"Resource", "DomainResource", typ}
	}
	for _, base := range bases {
		for code, p := range reg.byType[base] {
			if p.Expression != "" {
				out[code] = p
			}
		}
	}
	return out, nil
}

// SearchParamByURL returns the parameter with the canonical url (as first
// registered for one of its bases), or nil.
func (s *Spec) SearchParamByURL(url string) *SearchParam {
	reg, err := loadSearch()
	if err != nil {
		return nil
	}
	return reg.byURL[url]
}

// SearchParamCodes returns the sorted codes of SearchParams(typ).
func (s *Spec) SearchParamCodes(typ string) []string {
	ps, err := s.SearchParams(typ)
	if err != nil {
		return nil
	}
	codes := make([]string, 0, len(ps))
	for c := range ps {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	return slices.Clip(codes)
}
