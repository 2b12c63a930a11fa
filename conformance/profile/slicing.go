package profile

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/medbridge/medbridge/fhir"
)

// slicing is an element's slicing: how its items are told apart and what
// each slice is.
type slicing struct {
	rules          string // open, closed or openAtEnd
	discriminators []discriminator
	// inferred is set when the trimmed snapshot kept the slices but not
	// their discriminators: then the slices are told apart by the values
	// they fix, and the slicing is open.
	inferred bool
	slices   []*element
	// byType: items belong to the slice of their type (value[x] slices).
	byType bool
	// patterns[i] is what an item must contain to belong to slices[i].
	patterns []any
	// unsupported says why the items cannot be sorted into slices; then
	// neither the slices nor their cardinality are checked.
	unsupported string
}

type discriminator struct{ kind, path string }

// prepareSlicing computes, for each slice of el, what its items contain:
// for value and pattern discriminators the values the slice fixes at the
// discriminator paths, nested into one pattern so that "coding.code" and
// "coding.system" must hold in the same coding.
func (v *Validator) prepareSlicing(el *element) {
	s := el.slicing
	if el.choice && (s.inferred || len(s.discriminators) == 1 && s.discriminators[0].kind == "type" && s.discriminators[0].path == "$this") {
		s.byType = true
		return
	}
	s.patterns = make([]any, len(s.slices))
	for i, slice := range s.slices {
		if s.inferred {
			s.patterns[i] = v.fixedValues(slice)
			if s.patterns[i] == nil {
				s.unsupported = "the snapshot keeps no discriminator and slice " + sliceName(slice) + " fixes no value"
			}
			continue
		}
		for _, d := range s.discriminators {
			if d.kind != "value" && d.kind != "pattern" {
				s.unsupported = "discriminator type " + d.kind
				return
			}
			var segs []string
			if d.path != "$this" {
				segs = strings.Split(d.path, ".")
			}
			if strings.ContainsAny(d.path, "()") {
				s.unsupported = "discriminator path " + d.path
				return
			}
			val := v.valueAt(slice, segs)
			if val == nil {
				s.unsupported = fmt.Sprintf("slice %s fixes no value at %s", sliceName(slice), d.path)
				return
			}
			s.patterns[i] = merge(s.patterns[i], nest(segs, val))
		}
	}
}

func sliceName(el *element) string {
	_, name, _ := strings.Cut(el.id[strings.LastIndexByte(el.id, '.')+1:], ":")
	return name
}

// valueAt returns the fixed or pattern value el defines at path segs
// below it, nil when there is none.
func (v *Validator) valueAt(el *element, segs []string) any {
	if val := el.fixedOrPattern(); val != nil {
		return extract(val, segs)
	}
	if len(segs) == 1 && segs[0] == "url" && el.extensionURL() != "" {
		return el.extensionURL()
	}
	if len(segs) == 0 {
		return nil
	}
	var next *element
	for _, c := range v.childDefs(el, el.typeCode()) {
		if c.name == segs[0] {
			next = c
		}
	}
	if next == nil {
		return nil
	}
	if val := v.valueAt(next, segs[1:]); val != nil || next.slicing == nil {
		return val
	}
	// The values may be fixed in slices of the element on the path
	// (Observation.component:SystolicBP.code.coding:SBPCode.code).
	for _, sl := range next.slicing.slices {
		if val := v.valueAt(sl, segs[1:]); val != nil {
			return val
		}
	}
	return nil
}

// fixedValues returns the fixed and pattern values of el's subtree as one
// pattern, nil when it fixes nothing.
func (v *Validator) fixedValues(el *element) any {
	if val := el.fixedOrPattern(); val != nil {
		return val
	}
	if url := el.extensionURL(); url != "" {
		return map[string]any{"url": url}
	}
	var out map[string]any
	for _, c := range el.children {
		if val := v.fixedValues(c); val != nil && !c.choice {
			if out == nil {
				out = map[string]any{}
			}
			out[c.name] = val
		}
	}
	if out == nil {
		return nil
	}
	return out
}

// extract returns the value at path segs inside a decoded JSON value; a
// repeating element yields its first item.
func extract(val any, segs []string) any {
	for _, s := range segs {
		if arr, ok := val.([]any); ok && len(arr) > 0 {
			val = arr[0]
		}
		m, ok := val.(map[string]any)
		if !ok {
			return nil
		}
		val = m[s]
	}
	return val
}

func nest(segs []string, val any) any {
	for i := len(segs) - 1; i >= 0; i-- {
		val = map[string]any{segs[i]: val}
	}
	return val
}

// merge merges pattern b into pattern a.
func merge(a, b any) any {
	am, ok1 := a.(map[string]any)
	bm, ok2 := b.(map[string]any)
	if !ok1 || !ok2 {
		if a == nil {
			return b
		}
		return a
	}
	out := maps.Clone(am) // a may be a definition's fixed value
	for k, bv := range bm {
		out[k] = merge(out[k], bv)
	}
	return out
}

// sliced sorts the items of the sliced element d into its slices, checks
// each slice's cardinality and each item against its slice's definition.
func (r *run) sliced(d *element, items []item, expr string) {
	s := d.slicing
	counts := make([]int, len(s.slices))
	for _, it := range items {
		i := s.match(it)
		if i < 0 {
			if s.rules == "closed" {
				r.fail(fhir.SeverityError, fhir.CodeStructure, it.path,
					"matches none of the slices %s that %s allows (closed slicing)", sliceNames(s), r.profileName(d))
			}
			r.value(d, it)
			continue
		}
		counts[i]++
		r.value(s.slices[i], it)
	}
	for i, sl := range s.slices {
		if counts[i] < sl.min {
			r.fail(fhir.SeverityError, fhir.CodeRequired, expr,
				"%s requires %s entries with %s (slice %s) but found %d", r.profileName(d), cardinality(sl), describe(s, i), sliceName(sl), counts[i])
		}
		if sl.max >= 0 && counts[i] > sl.max {
			r.fail(fhir.SeverityError, fhir.CodeStructure, expr,
				"%s allows only %s entries with %s (slice %s) but found %d", r.profileName(d), cardinality(sl), describe(s, i), sliceName(sl), counts[i])
		}
	}
}

// match returns the index of the first slice it belongs to, -1 for none.
func (s *slicing) match(it item) int {
	for i, sl := range s.slices {
		if s.byType {
			if slices.ContainsFunc(sl.types, func(t typeRef) bool { return t.code == it.typ }) {
				return i
			}
		} else if s.patterns[i] != nil && contains(it.value, s.patterns[i]) {
			return i
		}
	}
	return -1
}

func sliceNames(s *slicing) string {
	names := make([]string, len(s.slices))
	for i, sl := range s.slices {
		names[i] = sliceName(sl)
	}
	return strings.Join(names, ", ")
}

// describe says in words what the items of slice i contain.
func describe(s *slicing, i int) string {
	if s.byType {
		return "type " + s.slices[i].typeCode()
	}
	var parts []string
	flatten(&parts, "", s.patterns[i])
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

func flatten(out *[]string, prefix string, v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(out, p, x)
		}
	case []any:
		for _, x := range v {
			flatten(out, prefix, x)
		}
	default:
		if prefix == "" {
			prefix = "value"
		}
		*out = append(*out, prefix+" = "+show(v))
	}
}
