package profile

import (
	"fmt"
	"maps"
	"slices"
)

// link prepares the definitions for validation once all are loaded and
// returns what the validator cannot check: invariants fhirpath does not
// compile, value sets it cannot expand, slicings it cannot sort.
func (v *Validator) link() []string {
	gaps := map[string]bool{}
	urls := slices.Sorted(maps.Keys(v.structures))
	for _, url := range urls {
		if sd := v.structures[url]; sd.complete {
			v.harvest(sd)
		}
	}
	for _, url := range urls {
		if sd := v.structures[url]; !sd.complete {
			v.inherit(sd)
		}
	}
	for _, url := range urls {
		sd := v.structures[url]
		sd.rootInvariants = v.chainInvariants(sd)
		for _, el := range sd.elements {
			for _, c := range el.constraints {
				if c.expr == nil {
					gaps[fmt.Sprintf("invariant %s: fhirpath cannot evaluate %s", c.key, c.src)] = true
				}
			}
			if el.binding != "" {
				if vs := v.valueSets[el.binding]; vs == nil {
					gaps["value set "+el.binding+": not in valuesets.json"] = true
				} else if vs.why != "" {
					gaps["value set "+el.binding+": "+vs.why] = true
				}
			}
			if s := el.slicing; s != nil && len(s.slices) > 0 {
				v.prepareSlicing(el)
				if s.unsupported != "" {
					gaps[fmt.Sprintf("slicing of %s in %s: %s", el.id, sd.url, s.unsupported)] = true
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(gaps))
}

// harvest copies the invariants a complete snapshot inherited from a base
// definition (DomainResource's dom-*, Observation's obs-*, Extension's
// ext-1) to the root of that base when its own snapshot is trimmed, so that
// validating against the base checks them too.
func (v *Validator) harvest(sd *structure) {
	for _, el := range sd.elements {
		for _, c := range el.constraints {
			base := v.structures[c.source]
			if base == nil || base == sd || base.complete {
				continue
			}
			onRoot := el == sd.root && sd.constraint
			ofType := len(el.types) == 1 && canonicalBase+el.types[0].code == c.source
			if !onRoot && !ofType {
				continue
			}
			if !slices.ContainsFunc(base.root.constraints, func(x *invariant) bool { return x.key == c.key }) {
				base.root.constraints = append(base.root.constraints, c)
			}
		}
	}
}

// inherit gives the elements of a trimmed snapshot the invariants of the
// same element in the nearest complete ancestor.
func (v *Validator) inherit(sd *structure) {
	anc := v.structures[sd.baseURL]
	for anc != nil && !anc.complete {
		anc = v.structures[anc.baseURL]
	}
	if anc == nil {
		return
	}
	for _, el := range sd.elements {
		a := anc.byID[el.id]
		if a == nil {
			a = anc.byID[el.path]
		}
		if a != nil && el.constraints == nil {
			el.constraints = a.constraints
		}
	}
}

// chainInvariants returns the invariants of sd's root and, while the
// snapshots are trimmed, of its ancestors' roots, each key once.
func (v *Validator) chainInvariants(sd *structure) []*invariant {
	var out []*invariant
	for s := sd; s != nil; s = v.structures[s.baseURL] {
		for _, c := range s.root.constraints {
			if !slices.ContainsFunc(out, func(x *invariant) bool { return x.key == c.key }) {
				out = append(out, c)
			}
		}
		if s.complete {
			break
		}
	}
	return out
}

// extensionURL is the url of the extension an Extension element is
// profiled to (its type profile is the extension's definition), "" for
// other elements.
func (el *element) extensionURL() string {
	if len(el.types) == 1 && el.types[0].code == "Extension" {
		return el.types[0].profile
	}
	return ""
}

func (el *element) fixedOrPattern() any {
	if el.fixed != nil {
		return el.fixed
	}
	return el.pattern
}

// typeCode is the element's type when it has exactly one.
func (el *element) typeCode() string {
	if len(el.types) == 1 {
		return el.types[0].code
	}
	return ""
}
