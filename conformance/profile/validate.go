package profile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/fhir/fhirpath"
)

// codeCodeInvalid is the R4 issue type for a code outside its value set;
// fhir declares no constant for it.
const codeCodeInvalid = "code-invalid"

// Profiles returns the canonical URLs of the resource StructureDefinitions
// Validate accepts, sorted: the base definitions
// (http://hl7.org/fhir/StructureDefinition/Observation) and the profiles
// (.../vitalsigns, .../heartrate, ...).
func (v *Validator) Profiles() []string {
	var out []string
	for url, sd := range v.structures {
		if sd.kind == "resource" {
			out = append(out, url)
		}
	}
	slices.Sort(out)
	return out
}

// Unchecked lists, sorted, what the validator skips for want of data or
// FHIRPath support: invariants fhirpath cannot compile, required value
// sets it cannot expand, slicings whose items it cannot sort. Each entry
// is one sentence fragment for a report.
func (v *Validator) Unchecked() []string { return slices.Clone(v.unchecked) }

// Validate checks resource, a JSON FHIR R4 resource that already parsed
// as structurally valid, against the StructureDefinition profileURL (a
// "|version" suffix is ignored; "" means the base definition of the
// resource's type). It returns the resource's problems as issues of
// severity error or warning, each naming the offending element by a
// FHIRPath expression such as Observation.component[1].valueQuantity.code;
// none means the resource conforms. The error is ErrUnknownProfile
// (wrapped) for a profile it does not know, or reports JSON that does not
// decode to a resource.
func (v *Validator) Validate(profileURL string, resource []byte) ([]fhir.Issue, error) {
	dec := json.NewDecoder(bytes.NewReader(resource))
	dec.UseNumber()
	var res map[string]any
	if err := dec.Decode(&res); err != nil {
		return nil, fmt.Errorf("profile: resource: %w", err)
	}
	typ, _ := res["resourceType"].(string)
	if typ == "" {
		return nil, fmt.Errorf("profile: resource has no resourceType")
	}
	url, _, _ := strings.Cut(profileURL, "|")
	if url == "" {
		url = canonicalBase + typ
	}
	sd := v.structures[url]
	if sd == nil || sd.kind != "resource" {
		return nil, fmt.Errorf("%w: %q", ErrUnknownProfile, profileURL)
	}
	r := &run{v: v, profile: sd}
	r.env.Model = v.model
	r.env.Reset(fhirpath.ResourceNode(res))
	if typ != sd.typ {
		r.fail(fhir.SeverityError, fhir.CodeStructure, typ,
			"the resource is a %s but profile %s constrains %s", typ, sd.name, sd.typ)
		return r.issues, nil
	}
	r.resource(sd, res, typ)
	return r.issues, nil
}

// run is one validation.
type run struct {
	v       *Validator
	profile *structure
	env     fhirpath.Env
	issues  []fhir.Issue
}

func (r *run) fail(severity, code, expr, format string, args ...any) {
	r.issues = append(r.issues, fhir.Issue{
		Severity:    severity,
		Code:        code,
		Diagnostics: expr + ": " + fmt.Sprintf(format, args...),
		Expression:  []string{expr},
	})
}

func (r *run) resource(sd *structure, obj map[string]any, path string) {
	r.invariants(sd.rootInvariants, fhirpath.ResourceNode(obj), path)
	r.elements(sd.root.children, obj, path)
}

// item is one value of an element in the instance.
type item struct {
	value any    // nil for a primitive with only extensions
	typ   string // its FHIR type code
	path  string // its FHIRPath expression
}

// elements checks the values of obj against the element definitions defs
// of obj's type.
func (r *run) elements(defs []*element, obj map[string]any, path string) {
	for _, d := range defs {
		items := r.items(d, defs, obj, path)
		expr := path + "." + d.name
		if len(items) < d.min {
			r.fail(fhir.SeverityError, fhir.CodeRequired, expr,
				"%s requires %s (cardinality %s) but found %d", r.profileName(d), d.name, cardinality(d), len(items))
		}
		if d.max >= 0 && len(items) > d.max {
			r.fail(fhir.SeverityError, fhir.CodeStructure, expr,
				"%s allows %s only %s times but found %d", r.profileName(d), d.name, cardinality(d), len(items))
		}
		if s := d.slicing; s != nil && len(s.slices) > 0 && s.unsupported == "" {
			r.sliced(d, items, expr)
			continue
		}
		for _, it := range items {
			r.value(d, it)
		}
	}
}

func (r *run) profileName(d *element) string {
	if d.sd == r.profile || d.sd.kind == "resource" {
		return "profile " + r.profile.name
	}
	return "datatype " + d.sd.name
}

func cardinality(d *element) string {
	if d.max < 0 {
		return fmt.Sprintf("%d..*", d.min)
	}
	return fmt.Sprintf("%d..%d", d.min, d.max)
}

// items collects the values of element d in obj. A choice element's values
// are the members named d.name plus a type ("valueQuantity"); a type the
// definition does not allow is reported. A primitive's value and its
// extensions ("_status") count as one value.
func (r *run) items(d *element, siblings []*element, obj map[string]any, path string) []item {
	if !d.choice {
		return appendItems(nil, obj, d.name, d.typeCode(), path)
	}
	var keys []string
	for key := range obj {
		k := strings.TrimPrefix(key, "_")
		suffix, ok := strings.CutPrefix(k, d.name)
		if !ok || suffix == "" || suffix[0] < 'A' || suffix[0] > 'Z' || k != key && obj[k] != nil {
			continue
		}
		if r.v.choiceType(suffix) == "" || slices.ContainsFunc(siblings, func(s *element) bool { return s.name == k }) {
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []item
	for _, k := range keys {
		typ := r.v.choiceType(k[len(d.name):])
		i := slices.IndexFunc(d.types, func(t typeRef) bool { return t.code == typ })
		if i < 0 {
			allowed := make([]string, len(d.types))
			for j, t := range d.types {
				allowed[j] = t.code
			}
			r.fail(fhir.SeverityError, fhir.CodeStructure, path+"."+k,
				"%s[x] of type %s is not allowed: %s allows only %s", d.name, typ, r.profileName(d), strings.Join(allowed, ", "))
			continue
		}
		out = appendItems(out, obj, k, d.types[i].code, path)
	}
	return out
}

func appendItems(out []item, obj map[string]any, key, typ, path string) []item {
	val, ok := obj[key]
	ext, okx := obj["_"+key]
	if !ok && !okx {
		return out
	}
	arr, isArr := val.([]any)
	extArr, _ := ext.([]any)
	if !isArr && !(okx && !ok && extArr != nil) {
		return append(out, item{value: val, typ: typ, path: path + "." + key})
	}
	n := max(len(arr), len(extArr))
	for i := range n {
		var v any
		if i < len(arr) {
			v = arr[i]
		}
		out = append(out, item{value: v, typ: typ, path: path + "." + key + "[" + strconv.Itoa(i) + "]"})
	}
	return out
}

// value checks one value against its definition d and descends into it.
func (r *run) value(d *element, it item) {
	if it.value == nil {
		return // extensions of a primitive: not checked
	}
	if d.fixed != nil && !fhir.JSONEqual(it.value, d.fixed) {
		r.fail(fhir.SeverityError, fhir.CodeValue, it.path,
			"is %s, but %s requires exactly %s", show(it.value), r.profileName(d), show(d.fixed))
	}
	if d.pattern != nil && !contains(it.value, d.pattern) {
		r.fail(fhir.SeverityError, fhir.CodeValue, it.path,
			"is %s, but %s requires it to contain %s", show(it.value), r.profileName(d), show(d.pattern))
	}
	if d.binding != "" {
		if vs := r.v.valueSets[d.binding]; vs != nil && vs.why == "" {
			if bad := bindingIssue(vs, it.value, it.typ); bad != "" {
				r.fail(fhir.SeverityError, codeCodeInvalid, it.path,
					"%s is not in the required value set %s (%s); codes include %s",
					bad, vs.name, vs.url, strings.Join(vs.examples(8), ", "))
			}
		}
	}
	node := fhirpath.Node{Value: it.value, Type: r.v.nodeType(d, it.typ)}
	r.invariants(d.constraints, node, it.path)
	obj, ok := it.value.(map[string]any)
	if !ok {
		return
	}
	if it.typ == "Resource" || it.typ == "DomainResource" {
		rt, _ := obj["resourceType"].(string)
		if sd := r.v.structures[canonicalBase+rt]; sd != nil && sd.kind == "resource" {
			r.resource(sd, obj, it.path)
		}
		return
	}
	defs := d.children
	if len(defs) == 0 {
		defs = r.v.childDefs(d, it.typ)
		if t := r.v.typeStructure(d, it.typ); t != nil && !d.sd.complete {
			r.invariants(t.rootInvariants, node, it.path)
		}
	}
	r.elements(defs, obj, it.path)
}

// nodeType is the FHIRPath model's name for a value of element d of type
// typ: a backbone element is named by the path that defines it.
func (v *Validator) nodeType(d *element, typ string) string {
	switch {
	case d.contentRef != "":
		return d.contentRef
	case typ == "BackboneElement" || typ == "Element":
		return d.path
	case strings.HasPrefix(typ, "http://hl7.org/fhirpath/System."):
		return "string"
	}
	return typ
}

// childDefs returns the definitions of the elements below a value of
// element d of type typ: d's own in the snapshot, those of the element a
// contentReference names, or those of the type's (or the type's profile's)
// definition.
func (v *Validator) childDefs(d *element, typ string) []*element {
	if len(d.children) > 0 {
		return d.children
	}
	if d.contentRef != "" {
		if ref := d.sd.byID[d.contentRef]; ref != nil {
			return ref.children
		}
		return nil
	}
	if t := v.typeStructure(d, typ); t != nil {
		return t.root.children
	}
	return nil
}

// typeStructure returns the definition of d's type typ: the profile d
// names for it (SimpleQuantity) or the type itself; nil for a primitive.
func (v *Validator) typeStructure(d *element, typ string) *structure {
	url := canonicalBase + typ
	for _, t := range d.types {
		if t.code == typ && t.profile != "" && v.structures[t.profile] != nil {
			url = t.profile
		}
	}
	if t := v.structures[url]; t != nil && t.kind == "complex-type" {
		return t
	}
	return nil
}

// choiceType returns the datatype that s names as the suffix of a choice
// element's JSON name ("Quantity", "DateTime" for dateTime), "" when s
// names none.
func (v *Validator) choiceType(s string) string {
	for _, code := range []string{s, strings.ToLower(s[:1]) + s[1:]} {
		if t := v.structures[canonicalBase+code]; t != nil && t.kind != "resource" && !t.constraint {
			return code
		}
	}
	return ""
}

// invariants evaluates the compiled invariants on node. Only a false
// result fails: an empty one means the invariant does not apply.
func (r *run) invariants(list []*invariant, node fhirpath.Node, path string) {
	for _, c := range list {
		if c.expr == nil {
			continue
		}
		out, err := c.expr.Eval(&r.env, node)
		if err != nil || len(out) != 1 || out[0].Value != false {
			continue
		}
		severity := fhir.SeverityError
		if c.severity == "warning" {
			severity = fhir.SeverityWarning
		}
		human := c.human
		if human == "" {
			human = "the invariant does not hold"
		}
		r.fail(severity, fhir.CodeInvariant, path, "%s (invariant %s: %s)", human, c.key, c.src)
	}
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
