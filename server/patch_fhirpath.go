package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/fhir/fhirpath"
)

// fhirPathPatch is a FHIRPath Patch: a Parameters resource whose
// "operation" parameters have the parts type (add, insert, delete,
// replace, move), path, name, value, index, source and destination.
//
// Paths are evaluated with fhir/fhirpath. An operation changes the
// element named by the path's last member step (Patient.name[0].given,
// Observation.component.where(code.coding.code='8480-6').valueQuantity,
// Patient.identifier.where(system='x')): what comes before it must select
// one element, and what comes after it (an indexer, where(), first(), ...)
// selects among that member's values. A path without a member step, or
// outside the fhirpath subset, is refused with 422 not-supported naming
// the path.
type fhirPathPatch struct {
	ops   []fhirPathOp
	model fhirpath.Model
}

type fhirPathOp struct {
	typ, path, name string
	// value is the JSON of the value part, nil when there is none;
	// valueType is its value[x] type ("Quantity"), "" for parts.
	value                        json.RawMessage
	valueType                    string
	index, source, dest          int
	hasIndex, hasSource, hasDest bool
}

// parseFHIRPathPatch reads and checks a FHIRPath Patch.
func parseFHIRPathPatch(body []byte, model fhirpath.Model) (*fhirPathPatch, error) {
	params, err := parseParameters(body)
	if err != nil {
		return nil, err
	}
	pt := &fhirPathPatch{model: model}
	for i, p := range params {
		n := i + 1
		if p.Name != "operation" {
			return nil, badPatch(n, "a FHIRPath Patch holds operation parameters, not %q", p.Name)
		}
		op := fhirPathOp{}
		for _, part := range p.Part {
			switch part.Name {
			case "type":
				op.typ = part.text()
			case "path":
				op.path = part.text()
			case "name":
				op.name = part.text()
			case "value":
				op.valueType = part.ValueType
				if op.value, err = partValue(part); err != nil {
					return nil, badPatch(n, "value: %v", err)
				}
			case "index", "source", "destination":
				var v int
				if err := json.Unmarshal(part.Value, &v); err != nil || v < 0 {
					return nil, badPatch(n, "%s must be a non-negative valueInteger", part.Name)
				}
				switch part.Name {
				case "index":
					op.index, op.hasIndex = v, true
				case "source":
					op.source, op.hasSource = v, true
				default:
					op.dest, op.hasDest = v, true
				}
			default:
				return nil, badPatch(n, "unknown part %q", part.Name)
			}
		}
		if err := op.check(n); err != nil {
			return nil, err
		}
		pt.ops = append(pt.ops, op)
	}
	return pt, nil
}

// check refuses an operation that lacks a part its type needs.
func (op *fhirPathOp) check(n int) error {
	missing := func(part string) error { return badPatch(n, "%s needs a %s part", op.typ, part) }
	switch {
	case op.path == "":
		return missing("path")
	case op.typ == "add" && op.name == "":
		return missing("name")
	case slices.Contains([]string{"add", "insert", "replace"}, op.typ) && op.value == nil:
		return missing("value")
	case op.typ == "insert" && !op.hasIndex:
		return missing("index")
	case op.typ == "move" && (!op.hasSource || !op.hasDest):
		return missing("source and destination")
	case !slices.Contains([]string{"add", "insert", "delete", "replace", "move"}, op.typ):
		return badPatch(n, "type %q is not add, insert, delete, replace or move", op.typ)
	}
	return nil
}

// partValue returns the JSON of a value part: its value[x], or for an
// anonymous type (a backbone element) the object its parts make.
func partValue(p parameter) (json.RawMessage, error) {
	if p.Value != nil {
		return p.Value, nil
	}
	if len(p.Part) == 0 {
		return nil, errors.New("no value[x] and no parts")
	}
	obj := map[string]any{}
	for _, sub := range p.Part {
		raw, err := partValue(sub)
		if err != nil {
			return nil, err
		}
		v, err := decodeJSON(raw)
		if err != nil {
			return nil, err
		}
		// The part's name is the element's JSON name (valueQuantity
		// for a choice); repeated parts make a list.
		switch prev := obj[sub.Name].(type) {
		case nil:
			obj[sub.Name] = v
		case []any:
			obj[sub.Name] = append(prev, v)
		default:
			obj[sub.Name] = []any{prev, v}
		}
	}
	return json.Marshal(obj)
}

func (pt *fhirPathPatch) apply(doc map[string]any) (map[string]any, error) {
	for i := range pt.ops {
		if err := pt.ops[i].apply(i+1, pt.model, doc); err != nil {
			return nil, err
		}
	}
	return doc, nil
}

// target is the element an operation changes: owner[key], one value of it
// (index >= 0 in an array) or all of it (index -1).
type target struct {
	owner map[string]any
	key   string
	index int
}

func (op *fhirPathOp) apply(n int, model fhirpath.Model, doc map[string]any) error {
	var value any
	if op.value != nil {
		var err error
		if value, err = decodeJSON(op.value); err != nil {
			return badPatch(n, "value: %v", err)
		}
	}
	if op.typ == "add" {
		owners, err := evaluate(n, model, doc, op.path)
		if err != nil {
			return err
		}
		if len(owners) != 1 {
			return patchFailed(n, "path %s matches %d elements; add needs one", op.path, len(owners))
		}
		owner, ok := owners[0].Value.(map[string]any)
		if !ok {
			return patchFailed(n, "path %s is a primitive; add needs an element with children", op.path)
		}
		key := jsonName(model, owners[0], op.name, op.valueType, owner)
		return addValue(n, owner, key, value)
	}
	targets, err := locate(n, model, doc, op.path)
	if err != nil {
		return err
	}
	switch op.typ {
	case "delete":
		if len(targets) > 1 {
			return patchFailed(n, "path %s matches %d elements; delete needs at most one", op.path, len(targets))
		}
		if len(targets) == 1 {
			targets[0].delete()
		}
		return nil
	case "replace":
		if len(targets) != 1 {
			return patchFailed(n, "path %s matches %d elements; replace needs one", op.path, len(targets))
		}
		targets[0].set(value)
		return nil
	}
	// insert and move work on a list: the path names the whole list.
	if len(targets) == 0 {
		return patchFailed(n, "path %s matches nothing; %s needs a list", op.path, op.typ)
	}
	t := targets[0]
	list, _ := t.owner[t.key].([]any)
	if len(targets) != len(list) {
		return patchFailed(n, "path %s does not name a whole list", op.path)
	}
	if op.typ == "insert" {
		if op.index > len(list) {
			return patchFailed(n, "index %d is past the end of a list of %d", op.index, len(list))
		}
		t.insert(op.index, value)
		return nil
	}
	if op.source >= len(list) || op.dest >= len(list) {
		return patchFailed(n, "source %d or destination %d is outside a list of %d", op.source, op.dest, len(list))
	}
	t.move(op.source, op.dest)
	return nil
}

// evaluate evaluates path on doc; what fhirpath cannot compile is 422
// not-supported naming the path.
func evaluate(n int, model fhirpath.Model, doc map[string]any, path string) ([]fhirpath.Node, error) {
	e, err := fhirpath.Compile(path)
	if err != nil {
		return nil, fhir.Errorf(http.StatusUnprocessableEntity, fhir.CodeNotSupported,
			"patch operation %d: path %s is outside the FHIRPath subset medbridge supports: %v", n, path, err).At(path)
	}
	nodes, err := e.Evaluate(model, doc)
	if err != nil {
		return nil, patchFailed(n, "path %s: %v", path, err)
	}
	return nodes, nil
}

var memberStep = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?$`)

// memberIndex reads a step such as name or name[2].
func memberIndex(step string) (name string, index int, indexed bool) {
	m := memberStep.FindStringSubmatch(step)
	if m == nil {
		return "", 0, false
	}
	if m[2] == "" {
		return m[1], 0, false
	}
	i, _ := strconv.Atoi(m[2])
	return m[1], i, true
}

// locate finds the elements path names (see fhirPathPatch).
func locate(n int, model fhirpath.Model, doc map[string]any, path string) ([]target, error) {
	steps := splitSteps(path)
	k := len(steps) - 1
	for k > 0 && !memberStep.MatchString(steps[k]) {
		k--
	}
	if k == 0 {
		return nil, fhir.Errorf(http.StatusUnprocessableEntity, fhir.CodeNotSupported,
			"patch operation %d: path %s names no element below the resource; medbridge supports paths that end in an element, optionally filtered", n, path).At(path)
	}
	owners, err := evaluate(n, model, doc, strings.Join(steps[:k], "."))
	if err != nil || len(owners) == 0 {
		return nil, err
	}
	if len(owners) > 1 {
		return nil, patchFailed(n, "path %s: %s matches %d elements, not one", path, strings.Join(steps[:k], "."), len(owners))
	}
	owner, ok := owners[0].Value.(map[string]any)
	if !ok {
		return nil, nil
	}
	name, index, indexed := memberIndex(steps[k])
	key := jsonName(model, owners[0], name, "", owner)
	values, isList := owner[key].([]any)
	if !isList {
		if _, ok := owner[key]; !ok {
			return nil, nil
		}
		values = []any{owner[key]}
	}
	var out []target
	for i := range values {
		if !indexed || i == index {
			out = append(out, target{owner: owner, key: key, index: listIndex(i, isList)})
		}
	}
	if k == len(steps)-1 {
		return out, nil
	}
	// A filter after the member: keep the values it selects.
	selected, err := evaluate(n, model, doc, path)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(out, func(t target) bool {
		return !slices.ContainsFunc(selected, func(s fhirpath.Node) bool { return sameJSON(s.Value, t.get()) })
	}), nil
}

func listIndex(i int, isList bool) int {
	if isList {
		return i
	}
	return -1
}

// sameJSON is identity for objects (evaluation returns the document's own
// maps) and equality for primitives.
func sameJSON(a, b any) bool {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok || bok {
		return aok && bok && reflect.ValueOf(am).UnsafePointer() == reflect.ValueOf(bm).UnsafePointer()
	}
	return a == b
}

// splitSteps splits a path at the dots outside parentheses, brackets and
// string literals.
func splitSteps(path string) []string {
	var steps []string
	depth, start, quoted := 0, 0, false
	for i := 0; i < len(path); i++ {
		switch ch := path[i]; {
		case quoted && ch == '\\':
			i++
		case ch == '\'':
			quoted = !quoted
		case quoted:
		case ch == '(' || ch == '[':
			depth++
		case ch == ')' || ch == ']':
			depth--
		case ch == '.' && depth == 0:
			steps = append(steps, path[start:i])
			start = i + 1
		}
	}
	return append(steps, path[start:])
}

// jsonName is the JSON member of the element name of owner (obj): for a
// choice element the one present or else the one valueType names
// (value + Quantity); otherwise name itself.
func jsonName(model fhirpath.Model, owner fhirpath.Node, name, valueType string, obj map[string]any) string {
	el := model.Element(owner.Type, name)
	if el == nil || !el.Choice {
		return name
	}
	for _, t := range el.Types {
		if _, ok := obj[t.JSONName]; ok {
			return t.JSONName
		}
	}
	return name + valueType
}

func (t target) get() any {
	if t.index < 0 {
		return t.owner[t.key]
	}
	return t.owner[t.key].([]any)[t.index]
}

func (t target) set(v any) {
	if t.index < 0 {
		t.owner[t.key] = v
		return
	}
	t.owner[t.key].([]any)[t.index] = v
}

// delete removes the element, with its primitive extensions (_key).
func (t target) delete() {
	for _, key := range []string{t.key, "_" + t.key} {
		list, isList := t.owner[key].([]any)
		switch {
		case t.index < 0 || (isList && len(list) == 1):
			delete(t.owner, key)
		case isList && t.index < len(list):
			t.owner[key] = slices.Delete(list, t.index, t.index+1)
		}
	}
}

// insert puts v at index i of the list, keeping _key aligned.
func (t target) insert(i int, v any) {
	t.owner[t.key] = slices.Insert(t.owner[t.key].([]any), i, v)
	if ext, ok := t.owner["_"+t.key].([]any); ok {
		t.owner["_"+t.key] = slices.Insert(ext, i, nil)
	}
}

// move moves the list's value at from to to, keeping _key aligned.
func (t target) move(from, to int) {
	for _, key := range []string{t.key, "_" + t.key} {
		if list, ok := t.owner[key].([]any); ok && from < len(list) && to < len(list) {
			v := list[from]
			t.owner[key] = slices.Insert(slices.Delete(list, from, from+1), to, v)
		}
	}
}

// addValue is add: appended to a list, or set when absent.
func addValue(n int, owner map[string]any, key string, v any) error {
	switch cur := owner[key].(type) {
	case nil:
		owner[key] = v
	case []any:
		owner[key] = append(cur, v)
	default:
		return patchFailed(n, "%s already has a value; use replace", key)
	}
	return nil
}
