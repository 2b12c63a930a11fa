package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// The meta.tag coding that marks a resource as an incomplete view of itself
// (R4 search, _summary and _elements).
const (
	SubsettedSystem = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
	SubsettedCode   = "SUBSETTED"
)

var subsettedTag = []byte(`{"system":"` + SubsettedSystem + `","code":"` + SubsettedCode + `"}`)

// member is one key and its raw value in a JSON object.
type member struct {
	key   string
	value json.RawMessage
}

// Subset returns the resource with resourceType, id, meta and the top-level
// elements for which keep returns true; keep receives JSON names
// ("valueQuantity" for Observation.value[x], see KeepElements). It adds the
// SUBSETTED tag to meta.tag unless it is there already, so subsetting twice
// gives the same bytes as once. The output starts with resourceType, id and
// meta, followed by the kept elements in their input order; their values are
// copied unchanged. It returns an error when resourceJSON is not a JSON
// object with a resourceType.
func Subset(resourceJSON []byte, keep func(jsonName string) bool) ([]byte, error) {
	members, err := objectMembers(resourceJSON)
	if err != nil {
		return nil, fmt.Errorf("fhir: subset: %w", err)
	}
	var resourceType, id, meta json.RawMessage
	kept := members[:0]
	for _, m := range members {
		switch m.key {
		case "resourceType":
			resourceType = m.value
		case "id":
			id = m.value
		case "meta":
			meta = m.value
		default:
			if keep(m.key) {
				kept = append(kept, m)
			}
		}
	}
	if resourceType == nil {
		return nil, errors.New("fhir: subset: no resourceType")
	}
	meta, err = withSubsettedTag(meta)
	if err != nil {
		return nil, fmt.Errorf("fhir: subset: meta: %w", err)
	}

	out := make([]byte, 0, len(resourceJSON)+len(subsettedTag)+16)
	out = append(out, `{"resourceType":`...)
	out = append(out, resourceType...)
	if id != nil {
		out = append(out, `,"id":`...)
		out = append(out, id...)
	}
	out = append(out, `,"meta":`...)
	out = append(out, meta...)
	for _, m := range kept {
		out = appendMember(append(out, ','), m)
	}
	return append(out, '}'), nil
}

// withSubsettedTag returns meta with the SUBSETTED coding appended to its
// tag array, or meta itself when the coding is there already.
func withSubsettedTag(meta json.RawMessage) (json.RawMessage, error) {
	if meta == nil {
		return json.RawMessage(`{"tag":[` + string(subsettedTag) + `]}`), nil
	}
	members, err := objectMembers(meta)
	if err != nil {
		return nil, err
	}
	out := []byte{'{'}
	tagged := false
	for i, m := range members {
		if m.key == "tag" {
			var tags []json.RawMessage
			if err := json.Unmarshal(m.value, &tags); err != nil {
				return nil, fmt.Errorf("tag: %w", err)
			}
			for _, t := range tags {
				var c struct{ System, Code string }
				if err := json.Unmarshal(t, &c); err != nil {
					return nil, fmt.Errorf("tag: %w", err)
				}
				if c.System == SubsettedSystem && c.Code == SubsettedCode {
					return meta, nil
				}
			}
			v := []byte{'['}
			for _, t := range tags {
				v = append(append(v, t...), ',')
			}
			m.value = append(append(v, subsettedTag...), ']')
			tagged = true
		}
		if i > 0 {
			out = append(out, ',')
		}
		out = appendMember(out, m)
	}
	if !tagged {
		if len(members) > 0 {
			out = append(out, ',')
		}
		out = append(out, `"tag":[`...)
		out = append(out, subsettedTag...)
		out = append(out, ']')
	}
	return append(out, '}'), nil
}

// objectMembers splits a JSON object into its members, in order, without
// decoding their values.
func objectMembers(b []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil {
		return nil, err
	} else if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	var members []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string) // the decoder guarantees object keys are strings
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		members = append(members, member{key: key, value: v})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	return members, nil
}

func appendMember(out []byte, m member) []byte {
	key, _ := json.Marshal(m.key) // marshalling a string cannot fail
	out = append(out, key...)
	out = append(out, ':')
	return append(out, m.value...)
}

// ElementName returns the spec name of the top-level element whose JSON name
// is jsonName: the base name for a choice element ("valueQuantity" gives
// "value" when choices holds "value"), jsonName itself otherwise. choices
// holds the base names of the resource type's choice elements.
func ElementName(jsonName string, choices map[string]bool) string {
	// A choice element's JSON name is its base name followed by a type name
	// with a capital initial. Within one R4 resource type no other top-level
	// element starts with a choice element's base name and a capital, so
	// the split is unambiguous.
	for i := 1; i < len(jsonName); i++ {
		if c := jsonName[i]; c >= 'A' && c <= 'Z' && choices[jsonName[:i]] {
			return jsonName[:i]
		}
	}
	return jsonName
}

// KeepElements returns a keep function for Subset that is true for the JSON
// names of the elements in names. names holds element names as the spec
// writes them, a choice element by its base name ("value" for value[x],
// which matches valueQuantity, valueString, ...), and may hold JSON names
// ("valueQuantity") too. choices holds the base names of the type's choice
// elements; with a nil choices only exact names match.
func KeepElements(names, choices map[string]bool) func(jsonName string) bool {
	return func(jsonName string) bool {
		return names[jsonName] || names[ElementName(jsonName, choices)]
	}
}
