package phd

import (
	"fmt"
	"slices"
	"strings"

	"github.com/medbridge/medbridge/mappers"
)

// rewrite rewrites the references of the Observation of entry i, whose
// reading is r, to entries of the Bundle (see the package comment).
// readings are all readings of the Bundle, by b.readings.
func (b *bundle) rewrite(i int, r *mappers.Reading, readings []mappers.Reading) error {
	for k, v := range r.Observation {
		nv, keep, err := b.walk(v, r, readings)
		switch {
		case err != nil:
			return fmt.Errorf("%s: %s", path(i, k), err.Error())
		case !keep || isEmptyArray(nv):
			delete(r.Observation, k)
		default:
			r.Observation[k] = nv
		}
	}
	return nil
}

// walk rewrites the references in v. keep is false when v holds a
// reference to a device-level Observation: then the nearest enclosing
// array element (an extension, a derivedFrom) is removed.
func (b *bundle) walk(v any, r *mappers.Reading, readings []mappers.Reading) (_ any, keep bool, _ error) {
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["reference"].(string); ok {
			if keep, err := b.reference(v, ref, r, readings); !keep || err != nil {
				return nil, false, err
			}
		}
		for k, c := range v {
			nc, keep, err := b.walk(c, r, readings)
			switch {
			case err != nil || !keep:
				return nil, false, err
			case isEmptyArray(nc):
				delete(v, k)
			default:
				v[k] = nc
			}
		}
		return v, true, nil
	case []any:
		out := v[:0]
		for _, e := range v {
			ne, keep, err := b.walk(e, r, readings)
			if err != nil {
				return nil, false, err
			}
			if keep {
				out = append(out, ne)
			}
		}
		return out, true, nil
	}
	return v, true, nil
}

func isEmptyArray(v any) bool {
	a, ok := v.([]any)
	return ok && len(a) == 0
}

// reference rewrites the Reference ref, whose reference is s; it reports
// false when the Reference is to be removed. References that are not to an
// entry are kept, unless they are urn: references, which mean nothing
// outside the Bundle.
func (b *bundle) reference(ref map[string]any, s string, r *mappers.Reading, readings []mappers.Reading) (bool, error) {
	j, found := b.byRef[s]
	if !found {
		if strings.HasPrefix(s, "urn:") {
			return false, fmt.Errorf("reference %q is not an entry of the Bundle", s)
		}
		return true, nil
	}
	target := b.Entry[j].Resource
	switch typ, _ := target["resourceType"].(string); typ {
	case "Observation":
		k, ok := b.readings[j]
		if !ok { // a device-level Observation, not a reading
			return false, nil
		}
		ref["reference"] = "Observation/" + mappers.ID(mappers.Key(&readings[k]))
	case "Device":
		d, err := b.device(j)
		if err != nil {
			return false, err
		}
		ref["reference"] = "Device/" + mappers.IdentifierID(d.Identifier)
		if d.Identifier != r.Device.Identifier && !slices.ContainsFunc(r.Gateways, func(g mappers.Device) bool { return g.Identifier == d.Identifier }) {
			r.Gateways = append(r.Gateways, *d)
		}
	default:
		id, ok := firstIdentifier(target)
		if !ok {
			return false, fmt.Errorf("the %s of reference %q has no identifier to keep it by", typ, s)
		}
		delete(ref, "reference")
		ref["type"] = typ
		ref["identifier"] = identifierJSON(id)
	}
	return true, nil
}

func identifierJSON(id mappers.Identifier) map[string]any {
	m := map[string]any{"value": id.Value}
	if id.System != "" {
		m["system"] = id.System
	}
	return m
}
