package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Codec parses, validates and serializes R4 JSON through google/fhir/go.
// It is safe for concurrent use.
type Codec struct {
	unmarshaller *jsonformat.Unmarshaller
	marshaller   *jsonformat.Marshaller
}

// NewCodec returns a Codec whose unmarshaller validates (required elements,
// reference targets, primitives) and interprets zone-less times as UTC.
func NewCodec() (*Codec, error) {
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		return nil, fmt.Errorf("fhir: unmarshaller: %w", err)
	}
	m, err := jsonformat.NewMarshaller(false, "", "", fhirversion.R4)
	if err != nil {
		return nil, fmt.Errorf("fhir: marshaller: %w", err)
	}
	return &Codec{unmarshaller: u, marshaller: m}, nil
}

// Parsed is a resource that passed validation.
type Parsed struct {
	Type      string
	contained proto.Message
	resource  protoreflect.Message
}

// ID returns the resource's id, "" when it has none.
func (p *Parsed) ID() string {
	if id, ok := p.field("id").(*d4pb.Id); ok {
		return id.GetValue()
	}
	return ""
}

// SetID sets the resource's id.
func (p *Parsed) SetID(id string) {
	p.resource.Set(p.fd("id"), protoreflect.ValueOfMessage((&d4pb.Id{Value: id}).ProtoReflect()))
}

// SetMeta sets meta.versionId and meta.lastUpdated, keeping the rest of meta.
func (p *Parsed) SetMeta(version int64, lastUpdated time.Time) {
	meta, _ := p.field("meta").(*d4pb.Meta)
	if meta == nil {
		meta = &d4pb.Meta{}
	}
	meta.VersionId = &d4pb.Id{Value: strconv.FormatInt(version, 10)}
	meta.LastUpdated = &d4pb.Instant{
		ValueUs:   lastUpdated.UnixMicro(),
		Timezone:  "Z",
		Precision: d4pb.Instant_MICROSECOND,
	}
	p.resource.Set(p.fd("meta"), protoreflect.ValueOfMessage(meta.ProtoReflect()))
}

func (p *Parsed) fd(name protoreflect.Name) protoreflect.FieldDescriptor {
	return p.resource.Descriptor().Fields().ByName(name)
}

func (p *Parsed) field(name protoreflect.Name) proto.Message {
	fd := p.fd(name)
	if fd == nil || !p.resource.Has(fd) {
		return nil
	}
	return p.resource.Get(fd).Message().Interface()
}

// Marshal returns the canonical JSON of p. It marshals a copy: the
// marshaller changes primitives that carry only extensions (an
// ActivityDefinition's timing event), so a second Marshal of the same
// Parsed — an update compares with the stored version, then stamps the
// new one — would fail.
func (c *Codec) Marshal(p *Parsed) ([]byte, error) {
	b, err := c.marshaller.Marshal(proto.Clone(p.contained))
	if err != nil {
		return nil, fmt.Errorf("fhir: marshal %s: %w", p.Type, err)
	}
	return b, nil
}

// Parse parses and validates an R4 JSON resource. A body that is not JSON
// gives a 400 naming line and column; one that is not valid R4 gives a 400
// (structure: unknown element, wrong type, bad primitive, unknown code) or a
// 422 (rules: missing required element, wrong reference target), with one
// issue per problem and its FHIRPath expression.
func (c *Codec) Parse(body []byte) (*Parsed, error) {
	if err := checkSyntax(body); err != nil {
		return nil, err
	}
	rep := &reporter{}
	msg, err := c.unmarshaller.UnmarshalWithErrorReporter(body, rep)
	if err != nil {
		return nil, structureError(err)
	}
	if len(rep.issues) > 0 {
		return nil, &Error{Status: http.StatusUnprocessableEntity, Issues: rep.issues}
	}
	cr := msg.ProtoReflect()
	oneof := cr.Descriptor().Oneofs().Get(0)
	fd := cr.WhichOneof(oneof)
	if fd == nil {
		return nil, Errorf(http.StatusBadRequest, CodeStructure, "the body holds no resource").At("resourceType")
	}
	res := cr.Get(fd).Message()
	return &Parsed{Type: string(res.Descriptor().Name()), contained: msg, resource: res}, nil
}

// checkSyntax reports malformed JSON with its line and column, which the
// library's own error lacks.
func checkSyntax(body []byte) error {
	if json.Valid(body) {
		return nil // the common case, without the decoder's allocations
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var v json.RawMessage
	err := dec.Decode(&v)
	if err == nil {
		if _, extra := dec.Token(); extra == nil {
			err = &json.SyntaxError{Offset: dec.InputOffset()}
		} else {
			return nil
		}
	}
	var se *json.SyntaxError
	offset := dec.InputOffset()
	if errors.As(err, &se) {
		offset = se.Offset
	}
	// The decoder's offset is past the offending byte.
	line, col := position(body, max(offset-1, 0))
	msg := err.Error()
	if se != nil && se.Error() == "" {
		msg = "unexpected data after the top-level value"
	}
	return Errorf(http.StatusBadRequest, CodeStructure,
		"malformed JSON at line %d, column %d (offset %d): %s", line, col, offset, msg)
}

func position(body []byte, offset int64) (line, col int) {
	if offset > int64(len(body)) {
		offset = int64(len(body))
	}
	before := body[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// reporter collects google/fhir/go validation findings as issues.
type reporter struct{ issues []Issue }

func (r *reporter) ReportValidationError(path string, err error) error {
	r.issues = append(r.issues, validationIssue(SeverityError, path, err))
	return nil
}

func (r *reporter) ReportValidationWarning(path string, err error) error {
	// Warnings do not refuse a resource; the library reports none in R4 today.
	return nil
}

func validationIssue(severity, path string, err error) Issue {
	msg := err.Error()
	// The library prefixes its text with `error at "<path>": `.
	if i := strings.Index(msg, `": `); strings.HasPrefix(msg, "error at ") && i > 0 {
		msg = msg[i+3:]
	}
	code := CodeInvariant
	if field, ok := strings.CutPrefix(msg, "missing required field "); ok {
		// Name the missing element itself, not its parent.
		code = CodeRequired
		if name, err := strconv.Unquote(field); err == nil {
			path += "." + name
		}
	}
	return Issue{Severity: severity, Code: code, Diagnostics: msg, Expression: []string{path}}
}

// structureError turns the library's unmarshal errors into a 400. Their
// type lives in an internal package, so its exported fields (Path, Details,
// Diagnostics) are read by reflection; anything else becomes one issue.
func structureError(err error) *Error {
	var items []reflect.Value
	v := reflect.ValueOf(err)
	if v.Kind() == reflect.Slice {
		for i := 0; i < v.Len(); i++ {
			items = append(items, v.Index(i))
		}
	} else {
		items = append(items, v)
	}
	out := &Error{Status: http.StatusBadRequest}
	for _, it := range items {
		if it.Kind() == reflect.Pointer {
			it = it.Elem()
		}
		if it.Kind() != reflect.Struct || !it.FieldByName("Path").IsValid() {
			out.Issues = append(out.Issues, Issue{Severity: SeverityError, Code: CodeStructure, Diagnostics: err.Error()})
			continue
		}
		path := it.FieldByName("Path").String()
		details := it.FieldByName("Details").String()
		diag := it.FieldByName("Diagnostics").String()
		code := CodeStructure
		switch details {
		case "unknown field":
			if name, uerr := strconv.Unquote(diag); uerr == nil {
				path += "." + name
				diag = ""
			}
		case "unknown resource type":
			code = CodeNotSupported
		}
		text := details
		if diag != "" {
			text += ": " + diag
		}
		out.Issues = append(out.Issues, Issue{Severity: SeverityError, Code: code, Diagnostics: text, Expression: nonEmpty(path)})
	}
	return out
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
