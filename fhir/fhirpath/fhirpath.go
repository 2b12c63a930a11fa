// Package fhirpath evaluates the subset of FHIRPath that the R4
// SearchParameter expressions use, over resources decoded by encoding/json
// (map[string]any, []any, string, bool, json.Number or float64).
//
// Supported: paths with a type-name root ("Observation.code",
// "Resource.id") or relative to the focus ("code"); "|" union; "=", "!=",
// "and", "or", "xor", "implies"; "is" / "as" and the functions is(T),
// as(T), ofType(T); where(criteria), exists([criteria]), empty(), not(),
// first(), last(), count(), hasValue(), extension(url), hasExtension(url),
// resolve(); indexers ("entry[0]"); string, number and boolean literals;
// $this, %resource, %rootResource and %context. Anything else fails to
// compile.
//
// Values are typed with a Model (the spec's element definitions): it is
// how "value" finds Observation's "valueQuantity" and how "value as
// Quantity" tells it from "valueCodeableConcept".
package fhirpath

import (
	"fmt"
	"sync"
)

// Node is one item of a FHIRPath result collection: a JSON value and its
// FHIR type.
type Node struct {
	// Value is the decoded JSON: map[string]any for a complex value or a
	// resource, string, bool, json.Number or float64 for a primitive. It is
	// nil for the placeholder resolve() returns for a reference that points
	// outside the resource: only its Type is known.
	Value any
	// Type is the FHIR type name ("CodeableConcept", "dateTime",
	// "Patient"), or for a backbone element the path that defines it
	// ("Observation.component"); "" when the model does not know it.
	Type string
	// Element is the definition of the element the value was found in,
	// nil for a resource, a literal or a value the model does not know.
	Element *Element
}

// Model is the type information the evaluator navigates with.
// conformance.Spec provides the R4 one.
type Model interface {
	// Element returns the definition of the child element name of values
	// of type typ (a type name or a backbone element's path), or nil when
	// typ has no such element. name is the element's name without "[x]".
	Element(typ, name string) *Element
	// BaseType returns the type typ is derived from ("Quantity" for Age,
	// "string" for code, "DomainResource" for Patient, "BackboneElement"
	// for a backbone element's path), or "" at the root of the hierarchy.
	BaseType(typ string) string
}

// Element describes one element of a type.
type Element struct {
	// Choice is set for a choice element (value[x]).
	Choice bool
	// Types are the element's types. For a choice element there is one per
	// allowed type, each with its JSON name ("valueQuantity"); otherwise
	// there is one, whose JSONName is the element's name. A backbone
	// element's type is its defining path.
	Types []ElementType
	// Binding is the canonical URL of the ValueSet a code element is
	// bound to with required strength, "" when there is none.
	Binding string
}

// ElementType is one type an element can have.
type ElementType struct {
	Name     string // "Quantity", "string", "Observation.component"
	JSONName string // "valueQuantity"; the element name unless a choice
}

// Env is what an evaluation may refer to besides its focus. Evaluations
// also keep their intermediate results in it, so an Env must not be used
// by two goroutines at once; make one per resource.
type Env struct {
	Model Model
	// Resource is %resource (also %rootResource and %context): the
	// resource the expression was started on.
	Resource Node

	arena []Node // see result
}

// Expression is a compiled FHIRPath expression. It is immutable and safe
// for concurrent use.
type Expression struct {
	src  string
	root expr
}

// String returns the source text.
func (e *Expression) String() string { return e.src }

var cache sync.Map // source → *Expression

// Compile parses src, or returns the expression compiled before from the
// same text. It fails for syntax errors and for functions or operators
// outside the supported subset.
func Compile(src string) (*Expression, error) {
	if e, ok := cache.Load(src); ok {
		return e.(*Expression), nil
	}
	root, err := parse(src)
	if err != nil {
		return nil, fmt.Errorf("fhirpath: %q: %w", src, err)
	}
	e, _ := cache.LoadOrStore(src, &Expression{src: src, root: root})
	return e.(*Expression), nil
}

// MustCompile is Compile for expressions known to be valid; it panics on
// an error.
func MustCompile(src string) *Expression {
	e, err := Compile(src)
	if err != nil {
		panic(err)
	}
	return e
}

// ResourceNode returns the node of a decoded resource, typed by its
// resourceType.
func ResourceNode(resource map[string]any) Node {
	t, _ := resource["resourceType"].(string)
	return Node{Value: resource, Type: t}
}

// Reset makes env ready for evaluations on another resource, reusing its
// memory: the results of earlier evaluations must no longer be used.
func (env *Env) Reset(resource Node) {
	clear(env.arena)
	env.arena = env.arena[:0]
	env.Resource = resource
}

// Eval evaluates e with focus as its input collection ($this). To
// evaluate on a whole resource, pass env.Resource as the focus. The
// result may share memory with env and focus: do not modify it.
func (e *Expression) Eval(env *Env, focus ...Node) ([]Node, error) {
	return e.root.eval(env, focus)
}

// Evaluate evaluates e on a decoded resource: the resource is both the
// focus and %resource.
func (e *Expression) Evaluate(m Model, resource map[string]any) ([]Node, error) {
	n := ResourceNode(resource)
	return e.Eval(&Env{Model: m, Resource: n}, n)
}
