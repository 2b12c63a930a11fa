package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/fhir"
)

// Patch formats: JSON Patch (RFC 6902) and FHIRPath Patch (a Parameters
// resource, http://hl7.org/fhir/R4/fhirpatch.html).
const (
	mimeJSONPatch = "application/json-patch+json"
)

// patchFormats are the media types PATCH accepts, as the
// CapabilityStatement declares them.
var patchFormats = []string{mimeJSONPatch, mimeFHIRJSON}

// patcher changes a decoded resource.
type patcher interface {
	// apply returns doc changed (doc itself may be changed in place);
	// failures are *fhir.Error naming the operation.
	apply(doc map[string]any) (map[string]any, error)
}

// patch serves PATCH /fhir/:type/:id. The patched resource is validated
// like an update's body (400/422 naming the element) and stored as the
// next version; If-Match and the retries on concurrent writers are
// update's, and a patch that changes nothing writes nothing.
func (s *Server) patch(c echo.Context) error {
	typ, id := c.Param("type"), c.Param("id")
	if err := checkID(typ, id); err != nil {
		return err
	}
	return s.applyPatch(c, typ, id)
}

// conditionalPatch serves PATCH /fhir/:type?criteria: the one match is
// patched; none is a 404, several a 412.
func (s *Server) conditionalPatch(c echo.Context) error {
	typ := c.Param("type")
	cond, err := s.parseCondition(typ, c.QueryParams())
	if err != nil {
		return err
	}
	found, err := s.findOne(c, cond)
	if err != nil {
		return err
	}
	if found == nil {
		return fhir.Errorf(http.StatusNotFound, fhir.CodeNotFound, "no %s matches the criteria", typ)
	}
	return s.applyPatch(c, typ, found.ID)
}

// applyPatch reads the request's patch and stores its result on typ/id.
func (s *Server) applyPatch(c echo.Context, typ, id string) error {
	want, err := ifMatch(c)
	if err != nil {
		return err
	}
	pt, err := s.readPatch(c)
	if err != nil {
		return err
	}
	r, _, err := s.save(c, typ, id, want, http.MethodPatch, s.patched(typ, id, pt))
	if err != nil {
		return err
	}
	return s.writeWritten(c, http.StatusOK, r)
}

// readPatch reads the body as the patch format its Content-Type names.
func (s *Server) readPatch(c echo.Context) (patcher, error) {
	ct := c.Request().Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	mt = strings.ToLower(mt)
	if mt == mimeJSONPatch {
		// readResourceBody checks FHIR media types; this one is not.
		c.Request().Header.Set("Content-Type", mimeFHIRJSON)
		defer c.Request().Header.Set("Content-Type", ct)
	} else if !jsonTypes[mt] {
		return nil, fhir.Errorf(http.StatusUnsupportedMediaType, fhir.CodeNotSupported,
			"PATCH takes %s (JSON Patch) or %s (FHIRPath Patch Parameters), not %q", mimeJSONPatch, mimeFHIRJSON, ct)
	}
	body, err := readResourceBody(c)
	if err != nil {
		return nil, err
	}
	if mt == mimeJSONPatch {
		return parseJSONPatch(body)
	}
	model, err := s.spec.FHIRPathModel()
	if err != nil {
		return nil, err
	}
	return parseFHIRPathPatch(body, model)
}

// patched is the nextContent of a patch: pt applied to the current
// version, which must exist.
func (s *Server) patched(typ, id string, pt patcher) nextContent {
	return func(cur *fhir.Resource) (*fhir.Parsed, error) {
		switch {
		case cur == nil:
			return nil, fhir.NotFound(typ, id)
		case cur.Deleted:
			return nil, fhir.Gone(typ, id)
		}
		doc, err := decodeJSON(cur.JSON)
		if err != nil {
			return nil, err
		}
		obj, ok := doc.(map[string]any)
		if !ok {
			return nil, errors.New("server: a stored resource is not a JSON object")
		}
		if obj, err = pt.apply(obj); err != nil {
			return nil, err
		}
		if obj["resourceType"] != typ || obj["id"] != id {
			return nil, fhir.Errorf(http.StatusUnprocessableEntity, fhir.CodeInvalid,
				"a patch may not change the resource's type or id (%s/%s)", typ, id)
		}
		return s.parsePatched(obj, pt)
	}
}

// parsePatched validates the patched resource with the codec. A FHIRPath
// Patch adds an element that was absent as one value, because the model
// does not tell which elements repeat; where the codec answers that an
// array is expected, the value is wrapped in one and parsing retried.
func (s *Server) parsePatched(obj map[string]any, pt patcher) (*fhir.Parsed, error) {
	_, lenient := pt.(*fhirPathPatch)
	for {
		b, err := json.Marshal(obj)
		if err != nil {
			return nil, err
		}
		p, err := s.codec.Parse(b)
		var fe *fhir.Error
		if !lenient || !errors.As(err, &fe) {
			return p, err
		}
		wrapped := false
		for _, is := range fe.Issues {
			if strings.HasPrefix(is.Diagnostics, "expected array") && len(is.Expression) == 1 {
				wrapped = wrapInArray(obj, is.Expression[0]) || wrapped
			}
		}
		if !wrapped {
			return nil, err
		}
	}
}

// wrapInArray replaces the value at expr (Patient.name[0].given, as the
// codec names elements) with an array holding it, and reports whether it
// found one that was not an array.
func wrapInArray(obj map[string]any, expr string) bool {
	segs := strings.Split(expr, ".")[1:] // the first names the type
	var cur any = obj
	for i, seg := range segs {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		name, index, indexed := memberIndex(seg)
		if i == len(segs)-1 && !indexed {
			if v, ok := m[name]; ok {
				if _, isArray := v.([]any); !isArray {
					m[name] = []any{v}
					return true
				}
			}
			return false
		}
		cur = m[name]
		if indexed {
			arr, ok := cur.([]any)
			if !ok || index >= len(arr) {
				return false
			}
			cur = arr[index]
		}
	}
	return false
}

// decodeJSON decodes JSON keeping numbers as written (json.Number).
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// patchFailed is the error of a patch operation (numbered from 1) that
// cannot be applied to the resource.
func patchFailed(op int, format string, args ...any) *fhir.Error {
	return fhir.Errorf(http.StatusUnprocessableEntity, fhir.CodeProcessing, "patch operation %d: "+format, append([]any{op}, args...)...)
}

// badPatch is the error of a patch operation (numbered from 1) that is
// malformed.
func badPatch(op int, format string, args ...any) *fhir.Error {
	return fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid, "patch operation %d: "+format, append([]any{op}, args...)...)
}
