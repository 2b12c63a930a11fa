package storage

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir/fhirpath"
)

// Extractor computes the search index entries of resources from the
// spec's SearchParameter expressions. It compiles every expression once;
// it is immutable and safe for concurrent use.
type Extractor struct {
	// base is the server's FHIR base URL (see WithBase).
	base  string
	spec  *conformance.Spec
	model fhirpath.Model
	plans map[string][]*paramPlan // resource type → its parameters, by code
}

// paramPlan is one search parameter of one resource type, compiled.
type paramPlan struct {
	code, typ  string
	expr       *fhirpath.Expression
	components []componentPlan // composite parameters only
}

type componentPlan struct {
	code, typ string // of the parameter the component's definition names
	expr      *fhirpath.Expression
}

// NewExtractor compiles the search parameters of every resource type of
// spec. It fails when the spec's data cannot be loaded or an expression
// is outside the FHIRPath subset fhirpath supports; composite parameters
// whose component definitions are missing and special parameters are
// left out.
// WithBase returns a copy of x that reads absolute references under the
// server's FHIR base (https://example.org/fhir/Patient/1) as local Type/id
// ones. Without it, and for every other absolute URL, a reference is indexed
// by its URL only, so that subject=Patient/1 never matches another server's
// Patient/1.
func (x *Extractor) WithBase(base string) *Extractor {
	c := *x
	c.base = strings.TrimSuffix(base, "/")
	return &c
}

func NewExtractor(spec *conformance.Spec) (*Extractor, error) {
	model, err := spec.FHIRPathModel()
	if err != nil {
		return nil, err
	}
	x := &Extractor{spec: spec, model: model, plans: map[string][]*paramPlan{}}
	for _, typ := range spec.ResourceTypes() {
		params, err := spec.SearchParams(typ)
		if err != nil {
			return nil, err
		}
		plans := make([]*paramPlan, 0, len(params))
		for _, code := range spec.SearchParamCodes(typ) {
			p := params[code]
			plan, err := x.compile(p)
			if err != nil {
				return nil, fmt.Errorf("storage: search parameter %s of %s: %w", code, typ, err)
			}
			if plan != nil {
				plans = append(plans, plan)
			}
		}
		x.plans[typ] = plans
	}
	return x, nil
}

// compile returns nil for a parameter that is not index-backed.
func (x *Extractor) compile(p *conformance.SearchParam) (*paramPlan, error) {
	if p.Type == conformance.ParamSpecial || p.Expression == "" {
		return nil, nil
	}
	e, err := fhirpath.Compile(p.Expression)
	if err != nil {
		return nil, err
	}
	plan := &paramPlan{code: p.Code, typ: p.Type, expr: e}
	if p.Type != conformance.ParamComposite {
		return plan, nil
	}
	for _, c := range p.Components {
		def := x.spec.SearchParamByURL(c.Definition)
		if def == nil || def.Type == conformance.ParamComposite || def.Type == conformance.ParamSpecial {
			return nil, nil
		}
		ce, err := fhirpath.Compile(c.Expression)
		if err != nil {
			return nil, err
		}
		plan.components = append(plan.components, componentPlan{code: def.Code, typ: def.Type, expr: ce})
	}
	if len(plan.components) == 0 {
		return nil, nil
	}
	return plan, nil
}

var extractors sync.Map // *conformance.Spec → func() (*Extractor, error)

// Extract returns the search index entries of a resource of type typ:
// see (*Extractor).Extract. The Extractor for spec is built on the first
// call and reused.
func Extract(spec *conformance.Spec, typ string, resourceJSON []byte) ([]IndexEntry, error) {
	f, _ := extractors.LoadOrStore(spec, sync.OnceValues(func() (*Extractor, error) { return NewExtractor(spec) }))
	x, err := f.(func() (*Extractor, error))()
	if err != nil {
		return nil, err
	}
	return x.Extract(typ, resourceJSON)
}

// ErrNotResource is returned by Extract for input that is not a JSON
// object of the expected resource type.
var ErrNotResource = errors.New("storage: not a resource of the expected type")

// Extract returns the search index entries of resourceJSON, a resource of
// type typ: for every search parameter of the type the values its
// expression selects, converted by the parameter's type (see IndexEntry),
// without duplicates, ordered by parameter code. A parameter whose
// expression selects nothing has no entries. It fails with
// ErrNotResource when resourceJSON is not a JSON object whose
// resourceType (if present) is typ.
func (x *Extractor) Extract(typ string, resourceJSON []byte) ([]IndexEntry, error) {
	resource, err := decodeResource(resourceJSON)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotResource, err)
	}
	return x.ExtractDecoded(typ, resource)
}

// ExtractDecoded is Extract for a resource already decoded by
// encoding/json, preferably with UseNumber so that decimals keep their
// precision ("100.0"). It does not modify resource.
func (x *Extractor) ExtractDecoded(typ string, resource map[string]any) ([]IndexEntry, error) {
	return x.extract(typ, resource, nil)
}

// ExtractParams is Extract restricted to the parameters named by codes
// (e.g. the compartment parameters of a type), for callers that need a
// few values of a stored resource rather than its whole index.
func (x *Extractor) ExtractParams(typ string, resourceJSON []byte, codes []string) ([]IndexEntry, error) {
	if len(codes) == 0 {
		return nil, nil
	}
	resource, err := decodeResource(resourceJSON)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotResource, err)
	}
	return x.extract(typ, resource, codes)
}

// extract evaluates the parameters of typ, all of them when codes is nil.
func (x *Extractor) extract(typ string, resource map[string]any, codes []string) ([]IndexEntry, error) {
	if rt, ok := resource["resourceType"]; ok && rt != typ {
		return nil, fmt.Errorf("%w: resourceType %v, expected %s", ErrNotResource, rt, typ)
	}
	plans, ok := x.plans[typ]
	if !ok {
		return nil, fmt.Errorf("%w: unknown type %q", ErrNotResource, typ)
	}
	sc := scratchPool.Get().(*scratch)
	defer sc.release()
	sc.focus[0] = fhirpath.Node{Value: resource, Type: typ}
	env := &sc.env
	env.Model = x.model
	env.Reset(sc.focus[0])
	out := sc.out[:0]
	for _, p := range plans {
		if codes != nil && !slices.Contains(codes, p.code) {
			continue
		}
		nodes, err := p.expr.Eval(env, sc.focus[:]...)
		if err != nil {
			return nil, fmt.Errorf("storage: search parameter %s: %w", p.code, err)
		}
		start := len(out)
		if p.typ == conformance.ParamComposite {
			for _, n := range nodes {
				if out, err = x.appendComposite(out, sc, env, p, n); err != nil {
					return nil, err
				}
			}
		} else {
			for _, n := range nodes {
				out = x.appendValues(out, p.code, p.typ, n)
			}
		}
		out = dedupe(out, start)
	}
	sc.out = out
	if len(out) == 0 {
		return nil, nil
	}
	return slices.Clone(out), nil
}

// scratch holds the buffers of one extraction, reused through
// scratchPool: IndexEntry is large, and growing a fresh slice for every
// resource was a good part of the cost.
type scratch struct {
	out   []IndexEntry
	parts [][]IndexEntry // composite component values
	env   fhirpath.Env
	focus [1]fhirpath.Node
}

var scratchPool = sync.Pool{New: func() any { return &scratch{out: make([]IndexEntry, 0, 64)} }}

func (sc *scratch) release() {
	if cap(sc.out) > 4096 {
		return // an outsize resource's buffers: let them go
	}
	clear(sc.out[:cap(sc.out)])
	for i := range sc.parts {
		clear(sc.parts[i][:cap(sc.parts[i])])
		sc.parts[i] = sc.parts[i][:0]
	}
	sc.out = sc.out[:0]
	sc.env.Reset(fhirpath.Node{})
	sc.focus[0] = fhirpath.Node{}
	scratchPool.Put(sc)
}

// appendComposite appends one entry per combination of the component
// values found in the element n; none when a component has no value.
func (x *Extractor) appendComposite(out []IndexEntry, sc *scratch, env *fhirpath.Env, p *paramPlan, n fhirpath.Node) ([]IndexEntry, error) {
	for len(sc.parts) < len(p.components) {
		sc.parts = append(sc.parts, nil)
	}
	parts := sc.parts[:len(p.components)]
	combinations := 1
	for i, c := range p.components {
		nodes, err := c.expr.Eval(env, n)
		if err != nil {
			return nil, fmt.Errorf("storage: search parameter %s: %w", p.code, err)
		}
		parts[i] = parts[i][:0]
		for _, cn := range nodes {
			parts[i] = x.appendValues(parts[i], c.code, c.typ, cn)
		}
		parts[i] = dedupe(parts[i], 0)
		if len(parts[i]) == 0 {
			return out, nil
		}
		combinations *= len(parts[i])
	}
	// One allocation for the components of every combination.
	block := make([]IndexEntry, combinations*len(parts))
	var idx [8]int // odometer over the combinations; composites have 2 or 3 components
	if len(parts) > len(idx) {
		return nil, fmt.Errorf("storage: search parameter %s has %d components", p.code, len(parts))
	}
	for k := 0; ; k++ {
		comps := block[k*len(parts) : (k+1)*len(parts) : (k+1)*len(parts)]
		for i := range parts {
			comps[i] = parts[i][idx[i]]
		}
		out = append(out, IndexEntry{Param: p.code, Type: conformance.ParamComposite, Components: comps})
		i := len(parts) - 1
		for ; i >= 0; i-- {
			if idx[i]++; idx[i] < len(parts[i]) {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			return out, nil
		}
	}
}

// dedupe removes the entries of out[start:] equal to an earlier one in
// out[start:], keeping the first.
func dedupe(out []IndexEntry, start int) []IndexEntry {
	if len(out)-start < 2 {
		return out
	}
	w := start
	if len(out)-start > 32 && out[start].Components == nil {
		// Many plain entries (a CodeSystem's codes): compare by key.
		seen := make(map[flatKey]bool, len(out)-start)
		for r := start; r < len(out); r++ {
			k := keyOf(&out[r])
			if !seen[k] {
				seen[k] = true
				out[w] = out[r]
				w++
			}
		}
	} else {
		for r := start; r < len(out); r++ {
			if !slices.ContainsFunc(out[start:w], func(e IndexEntry) bool { return entriesEqual(e, out[r]) }) {
				out[w] = out[r]
				w++
			}
		}
	}
	clear(out[w:])
	return out[:w]
}

// flatKey is an IndexEntry without Components, comparable with ==.
type flatKey struct {
	param, typ, norm, exact, system, code, text, typeSystem, typeCode string
	refType, refID, url, canonicalCode                                string
	start, end                                                        int64
	number, low, high, canonicalNumber                                float64
}

func keyOf(e *IndexEntry) flatKey {
	return flatKey{e.Param, e.Type, e.Norm, e.Exact, e.System, e.Code, e.Text, e.TypeSystem, e.TypeCode,
		e.RefType, e.RefID, e.URL, e.CanonicalCode, e.Start, e.End, e.Number, e.Low, e.High, e.CanonicalNumber}
}

func entriesEqual(a, b IndexEntry) bool {
	if keyOf(&a) != keyOf(&b) || len(a.Components) != len(b.Components) {
		return false
	}
	for i := range a.Components {
		if !entriesEqual(a.Components[i], b.Components[i]) {
			return false
		}
	}
	return true
}
