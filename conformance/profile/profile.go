// Package profile validates resources against the snapshots of FHIR R4
// StructureDefinitions: the base resource definitions and constraining
// profiles such as the vital-signs profiles. It checks cardinality, choice
// types, fixed and pattern values, slicing, required bindings and the
// FHIRPath invariants that fhir/fhirpath can evaluate, descending from a
// profile's elements into the definitions of their datatypes.
//
// The embedded specification data (conformance.ReadFile) is partly
// trimmed: profiles-resources.json and profiles-types.json keep no
// invariants and no slicing rules. vitalsigns-profiles.json holds nine
// vital-signs profiles complete, and replaces their trimmed copies. For
// the other trimmed profiles (headcircum, vitalspanel, ...) the validator
// takes invariants from the nearest complete ancestor and infers slice
// discriminators from the slices' fixed values; everything it cannot
// check is listed by Unchecked.
package profile

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir/fhirpath"
)

// ErrUnknownProfile is returned (wrapped) by Validate for a profile URL
// the validator does not know: a client error.
var ErrUnknownProfile = errors.New("profile: unknown profile")

const canonicalBase = "http://hl7.org/fhir/StructureDefinition/"

// Validator checks resources against the StructureDefinitions of the
// embedded R4 specification. It is immutable and safe for concurrent use.
type Validator struct {
	model      fhirpath.Model
	structures map[string]*structure // canonical URL → definition
	valueSets  map[string]*valueSet  // canonical URL without version
	unchecked  []string
}

// structure is one StructureDefinition with its snapshot as a tree.
type structure struct {
	url, name, typ, kind string
	baseURL              string
	constraint           bool // derivation constraint: a profile
	complete             bool // the snapshot keeps invariants and slicing
	root                 *element
	byID                 map[string]*element
	elements             []*element   // snapshot order
	rootInvariants       []*invariant // the root's and, for a trimmed snapshot, its ancestors'
}

// element is one ElementDefinition of a snapshot, linked to the elements
// below it.
type element struct {
	sd          *structure
	id, path    string
	name        string // the last path segment without "[x]"
	choice      bool
	min, max    int // max -1: unbounded
	types       []typeRef
	contentRef  string // id of the element whose children this one has
	fixed       any    // decoded fixed[x] value, nil when none
	pattern     any    // decoded pattern[x] value, nil when none
	binding     string // required binding's value set, without version
	constraints []*invariant
	children    []*element
	slicing     *slicing
}

type typeRef struct{ code, profile string }

// invariant is one ElementDefinition.constraint that compiled.
type invariant struct {
	key, severity, human string
	source, src          string               // defining StructureDefinition; the FHIRPath text
	expr                 *fhirpath.Expression // nil when fhirpath cannot compile src
}

// The JSON shape of the parts of a StructureDefinition the validator uses.
type sdJSON struct {
	URL            string `json:"url"`
	Name           string `json:"name"`
	Type           string `json:"type"`
	Kind           string `json:"kind"`
	BaseDefinition string `json:"baseDefinition"`
	Derivation     string `json:"derivation"`
	Snapshot       struct {
		Element []map[string]json.RawMessage `json:"element"`
	} `json:"snapshot"`
}

type elementJSON struct {
	ID               string `json:"id"`
	Path             string `json:"path"`
	Min              int    `json:"min"`
	Max              string `json:"max"`
	ContentReference string `json:"contentReference"`
	Type             []struct {
		Code      string   `json:"code"`
		Profile   []string `json:"profile"`
		Extension []struct {
			URL      string `json:"url"`
			ValueURL string `json:"valueUrl"`
		} `json:"extension"`
	} `json:"type"`
	Binding struct {
		Strength string `json:"strength"`
		ValueSet string `json:"valueSet"`
	} `json:"binding"`
	Slicing *struct {
		Discriminator []struct {
			Type string `json:"type"`
			Path string `json:"path"`
		} `json:"discriminator"`
		Rules string `json:"rules"`
	} `json:"slicing"`
	Constraint []struct {
		Key        string `json:"key"`
		Severity   string `json:"severity"`
		Human      string `json:"human"`
		Expression string `json:"expression"`
		Source     string `json:"source"`
	} `json:"constraint"`
}

const fhirTypeExtension = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"

// New builds a Validator from spec's embedded definitions, value sets and
// FHIRPath model. Building takes a while (it decodes a few MB of JSON);
// make one and share it.
func New(spec *conformance.Spec) (*Validator, error) {
	model, err := spec.FHIRPathModel()
	if err != nil {
		return nil, err
	}
	v := &Validator{model: model, structures: map[string]*structure{}}
	// Later files replace earlier definitions: the complete vital-signs
	// snapshots replace their trimmed copies.
	for _, file := range []string{"profiles-types.json", "profiles-resources.json", "vitalsigns-profiles.json"} {
		raw, err := conformance.ReadFile(file)
		if err != nil {
			return nil, err
		}
		var bundle struct {
			Entry []struct {
				Resource sdJSON `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(raw, &bundle); err != nil {
			return nil, fmt.Errorf("profile: %s: %w", file, err)
		}
		for i := range bundle.Entry {
			sd, err := v.build(&bundle.Entry[i].Resource)
			if err != nil {
				return nil, fmt.Errorf("profile: %s: %w", file, err)
			}
			v.structures[sd.url] = sd
		}
	}
	if v.valueSets, err = loadValueSets(); err != nil {
		return nil, err
	}
	v.unchecked = v.link()
	return v, nil
}

// build turns a snapshot into a tree of elements: an element's id names
// its parent ("Observation.component.code") or, after a colon, the element
// it is a slice of ("Observation.component:SystolicBP").
func (v *Validator) build(j *sdJSON) (*structure, error) {
	sd := &structure{
		url: j.URL, name: j.Name, typ: j.Type, kind: j.Kind, baseURL: j.BaseDefinition,
		constraint: j.Derivation == "constraint",
		byID:       make(map[string]*element, len(j.Snapshot.Element)),
	}
	for _, raw := range j.Snapshot.Element {
		el, err := sd.element(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", j.URL, err)
		}
		if el.constraints != nil || raw["slicing"] != nil {
			sd.complete = true
		}
		sd.byID[el.id] = el
		sd.elements = append(sd.elements, el)
		dot := strings.LastIndexByte(el.id, '.')
		if dot < 0 {
			sd.root = el
			continue
		}
		parentID, last := el.id[:dot], el.id[dot+1:]
		// A slice of an element the snapshot does not have (catalog's
		// Composition.date:IssueDate) stands for that element.
		if base, slice, ok := strings.Cut(last, ":"); ok && !strings.Contains(slice, "/") && sd.byID[parentID+"."+base] != nil {
			sliced := sd.byID[parentID+"."+base]
			if sliced.slicing == nil {
				sliced.slicing = &slicing{rules: "open", inferred: true}
			}
			sliced.slicing.slices = append(sliced.slicing.slices, el)
			continue
		}
		parent := sd.byID[parentID]
		if parent == nil {
			return nil, fmt.Errorf("element %s before its parent", el.id)
		}
		parent.children = append(parent.children, el)
	}
	if sd.root == nil {
		return nil, fmt.Errorf("%s: no snapshot", j.URL)
	}
	return sd, nil
}

func (sd *structure) element(raw map[string]json.RawMessage) (*element, error) {
	var j elementJSON
	b, _ := json.Marshal(raw)
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, err
	}
	el := &element{sd: sd, id: j.ID, path: j.Path, min: j.Min, max: -1}
	if el.id == "" {
		el.id = j.Path
	}
	name := j.Path[strings.LastIndexByte(j.Path, '.')+1:]
	el.name, el.choice = strings.CutSuffix(name, "[x]")
	if j.Max != "*" {
		n, err := strconv.Atoi(j.Max)
		if err != nil {
			return nil, fmt.Errorf("%s: max %q", el.id, j.Max)
		}
		el.max = n
	}
	el.contentRef = strings.TrimPrefix(j.ContentReference, "#")
	for _, t := range j.Type {
		code := t.Code
		for _, x := range t.Extension {
			if x.URL == fhirTypeExtension {
				code = x.ValueURL
			}
		}
		tr := typeRef{code: code}
		if len(t.Profile) > 0 {
			tr.profile = t.Profile[0]
		}
		el.types = append(el.types, tr)
	}
	if j.Binding.Strength == "required" {
		el.binding, _, _ = strings.Cut(j.Binding.ValueSet, "|")
	}
	for key, val := range raw {
		var dst *any
		switch {
		case strings.HasPrefix(key, "fixed"):
			dst = &el.fixed
		case strings.HasPrefix(key, "pattern"):
			dst = &el.pattern
		default:
			continue
		}
		if err := decode(val, dst); err != nil {
			return nil, fmt.Errorf("%s.%s: %w", el.id, key, err)
		}
	}
	if s := j.Slicing; s != nil {
		el.slicing = &slicing{rules: s.Rules}
		for _, d := range s.Discriminator {
			el.slicing.discriminators = append(el.slicing.discriminators, discriminator{kind: d.Type, path: d.Path})
		}
	}
	if j.Constraint != nil {
		el.constraints = make([]*invariant, 0, len(j.Constraint)) // non-nil: the snapshot states them
	}
	for _, c := range j.Constraint {
		el.constraints = append(el.constraints, &invariant{
			key: c.Key, severity: c.Severity, human: c.Human,
			source: c.Source, src: c.Expression, expr: compileOrNil(c.Expression),
		})
	}
	return el, nil
}

func compileOrNil(src string) *fhirpath.Expression {
	e, err := fhirpath.Compile(src)
	if err != nil {
		return nil
	}
	return e
}

func decode(raw []byte, dst *any) error {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	return dec.Decode(dst)
}
