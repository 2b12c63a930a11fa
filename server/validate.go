package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/conformance/profile"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// $validate (http://hl7.org/fhir/OperationDefinition/Resource-validate)
// checks a resource the way a write would and more: its structure with
// the codec, then conformance/profile against the base definition of its
// type, against the profile parameter and against every profile its
// meta.profile claims. It answers 200 with an OperationOutcome listing the
// issues, or one information issue "no errors" when there is no error. A
// profile parameter the validator does not know is a 400; a meta.profile
// claim it does not know is a warning issue.
//
// Writes check meta.profile claims too (checkClaims): a create or update
// of a resource that does not conform to a profile it claims is refused
// with 422 and the issues. A claim of an unknown profile does not refuse
// the write: the server cannot check it, logs it, and stores the resource.

// validateModes are the values of the mode parameter.
var validateModes = []string{"create", "update", "delete"}

// validateRequest holds the parameters of one $validate.
type validateRequest struct {
	resource []byte // nil: none given
	mode     string // "" or one of validateModes
	profile  string // "" or a canonical URL the validator knows
}

// validateType serves POST /fhir/:type/$validate.
func (s *Server) validateType(c echo.Context) error {
	typ := c.Param("type")
	req, err := s.readValidateRequest(c)
	switch {
	case err != nil:
		return err
	case req.resource == nil:
		return fhir.Errorf(http.StatusBadRequest, fhir.CodeRequired, "$validate needs a resource: send it as the body or as the resource parameter")
	case req.mode == "delete":
		return fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid, "mode delete validates the deletion of an existing resource: use /%s/{id}/$validate", typ).At("mode")
	}
	issues, err := s.validation(c, typ, "", req)
	if err != nil {
		return err
	}
	return answerValidation(c, issues)
}

// validateInstance serves GET and POST /fhir/:type/:id/$validate. Without
// a resource in the request it validates the stored current version;
// mode delete checks that the resource exists.
func (s *Server) validateInstance(c echo.Context) error {
	typ, id := c.Param("type"), c.Param("id")
	if err := checkID(typ, id); err != nil {
		return err
	}
	req, err := s.readValidateRequest(c)
	if err != nil {
		return err
	}
	if req.mode == "delete" {
		issues, err := s.validateDelete(c, typ, id)
		if err != nil {
			return err
		}
		return answerValidation(c, issues)
	}
	if req.resource == nil {
		cur, err := s.current(c, typ, id)
		if err != nil {
			return err
		}
		req.resource = cur.JSON
	}
	issues, err := s.validation(c, typ, id, req)
	if err != nil {
		return err
	}
	return answerValidation(c, issues)
}

// validateDelete reports whether deleting typ/id would succeed.
func (s *Server) validateDelete(c echo.Context, typ, id string) ([]fhir.Issue, error) {
	cur, err := s.store.Read(c.Request().Context(), typ, id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return []fhir.Issue{{Severity: fhir.SeverityError, Code: fhir.CodeNotFound,
			Diagnostics: typ + "/" + id + " is not known; there is nothing to delete"}}, nil
	case err != nil:
		return nil, err
	case cur.Deleted:
		return []fhir.Issue{{Severity: fhir.SeverityInformation, Code: fhir.CodeDeleted,
			Diagnostics: typ + "/" + id + " is already deleted; deleting it again changes nothing"}}, nil
	}
	return nil, nil
}

// readValidateRequest reads the parameters from the query (mode, profile)
// and, for a POST, from the body: a resource, or a Parameters with
// resource, mode and profile.
func (s *Server) readValidateRequest(c echo.Context) (*validateRequest, error) {
	req := &validateRequest{mode: c.QueryParam("mode"), profile: c.QueryParam("profile")}
	if c.Request().Method == http.MethodPost {
		body, err := readResourceBody(c)
		if err != nil {
			return nil, err
		}
		if err := req.readBody(body); err != nil {
			return nil, err
		}
	}
	if req.mode != "" && !slices.Contains(validateModes, req.mode) {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid, "mode %q is not one of %s", req.mode, strings.Join(validateModes, ", ")).At("mode")
	}
	if req.profile != "" {
		v, err := s.profiles()
		if err != nil {
			return nil, err
		}
		url, _, _ := strings.Cut(req.profile, "|")
		if !slices.Contains(v.Profiles(), url) {
			return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeNotSupported,
				"profile %q is not known to this server", req.profile).At("profile")
		}
	}
	return req, nil
}

// readBody takes the resource, or the parameters of a Parameters body.
func (req *validateRequest) readBody(body []byte) error {
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(body, &head); err != nil || head.ResourceType != "Parameters" {
		req.resource = body // the codec reports what is wrong with it
		return nil
	}
	params, err := parseParameters(body)
	if err != nil {
		return err
	}
	for _, p := range params {
		switch p.Name {
		case "resource":
			req.resource = p.Resource
		case "mode":
			req.mode = p.text()
		case "profile":
			req.profile = p.text()
		default:
			return fhir.Errorf(http.StatusBadRequest, fhir.CodeNotSupported,
				"$validate takes resource, mode and profile, not %q", p.Name).At("Parameters.parameter")
		}
	}
	return nil
}

// validation returns the issues of req.resource as a typ (instance id
// when not ""): structure, then the base definition, req.profile and the
// claimed profiles, then what mode needs.
func (s *Server) validation(c echo.Context, typ, id string, req *validateRequest) ([]fhir.Issue, error) {
	p, err := s.parseAs(req.resource, typ)
	var fe *fhir.Error
	if errors.As(err, &fe) {
		return fe.Issues, nil
	}
	if err != nil {
		return nil, err
	}
	var issues []fhir.Issue
	switch bodyID := p.ID(); {
	case req.mode == "update" && bodyID == "":
		issues = append(issues, fhir.Issue{Severity: fhir.SeverityError, Code: fhir.CodeRequired,
			Diagnostics: "an update needs the resource's id", Expression: []string{typ + ".id"}})
	case id != "" && bodyID != "" && bodyID != id:
		issues = append(issues, fhir.Issue{Severity: fhir.SeverityError, Code: fhir.CodeInvalid,
			Diagnostics: "the resource's id " + bodyID + " differs from the URL's " + id, Expression: []string{typ + ".id"}})
	}
	body, err := s.codec.Marshal(p)
	if err != nil {
		return nil, err
	}
	profiles := []string{""} // the base definition
	if req.profile != "" {
		profiles = append(profiles, req.profile)
	}
	found, err := s.profileIssues(body, profiles)
	if err != nil {
		return nil, err
	}
	return append(issues, found...), nil
}

// profileIssues validates body against profiles ("" is the base
// definition) and the profiles it claims in meta.profile, without
// repeating an issue. A claim the validator does not know gives a
// warning.
func (s *Server) profileIssues(body []byte, profiles []string) ([]fhir.Issue, error) {
	var claims struct {
		Meta struct {
			Profile []string `json:"profile"`
		} `json:"meta"`
	}
	if err := json.Unmarshal(body, &claims); err != nil {
		return nil, err
	}
	profiles = append(profiles, claims.Meta.Profile...)
	if len(profiles) == 0 {
		return nil, nil
	}
	v, err := s.profiles()
	if err != nil {
		return nil, err
	}
	var issues []fhir.Issue
	seen := map[string]bool{}
	for _, url := range profiles {
		if seen["profile "+url] {
			continue
		}
		seen["profile "+url] = true
		found, err := v.Validate(url, body)
		if errors.Is(err, profile.ErrUnknownProfile) {
			issues = append(issues, fhir.Issue{Severity: fhir.SeverityWarning, Code: fhir.CodeNotSupported,
				Diagnostics: "meta.profile claims " + url + ", which this server does not know; not checked", Expression: []string{"meta.profile"}})
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, is := range found {
			key := is.Severity + "\x00" + is.Code + "\x00" + is.Diagnostics + "\x00" + strings.Join(is.Expression, ",")
			if !seen[key] {
				seen[key] = true
				issues = append(issues, is)
			}
		}
	}
	return issues, nil
}

// checkClaims refuses with 422 a resource (its JSON as it will be stored)
// that does not conform to a profile its meta.profile claims; warnings
// (unknown profiles among them) are logged.
func (s *Server) checkClaims(c echo.Context, body []byte) error {
	issues, err := s.profileIssues(body, nil)
	if err != nil {
		return err
	}
	var errs []fhir.Issue
	for _, is := range issues {
		if is.Severity == fhir.SeverityError {
			errs = append(errs, is)
			continue
		}
		logger(c).Info("write accepted with a profile warning", "issue", is.Diagnostics)
	}
	if len(errs) > 0 {
		return &fhir.Error{Status: http.StatusUnprocessableEntity, Issues: errs}
	}
	return nil
}

// answerValidation answers $validate with the issues found.
func answerValidation(c echo.Context, issues []fhir.Issue) error {
	if !slices.ContainsFunc(issues, func(is fhir.Issue) bool { return is.Severity == fhir.SeverityError }) {
		issues = append(issues, fhir.Issue{Severity: fhir.SeverityInformation, Code: fhir.CodeInformational, Diagnostics: "no errors"})
	}
	writeJSON(c, http.StatusOK, outcomeJSON(issues))
	return nil
}

// parameter is one Parameters.parameter, or one of its parts, as sent.
type parameter struct {
	Name     string
	Resource json.RawMessage
	Part     []parameter
	// Value is the value[x] as sent, nil when there is none; ValueType is
	// the type of the [x] ("Code", "Quantity").
	Value     json.RawMessage
	ValueType string
}

// UnmarshalJSON reads a parameter whose value[x] may be of any type.
func (p *parameter) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	for k, v := range m {
		var err error
		switch {
		case k == "name":
			err = json.Unmarshal(v, &p.Name)
		case k == "resource":
			p.Resource = v
		case k == "part":
			err = json.Unmarshal(v, &p.Part)
		case strings.HasPrefix(k, "value") && len(k) > len("value"):
			p.Value, p.ValueType = v, k[len("value"):]
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// text is the value of a primitive string-like parameter, "" when absent.
func (p *parameter) text() string {
	var s string
	_ = json.Unmarshal(p.Value, &s) // not a string: ""
	return s
}

// parseParameters reads a Parameters body into its parameters.
func parseParameters(body []byte) ([]parameter, error) {
	var ps struct {
		ResourceType string      `json:"resourceType"`
		Parameter    []parameter `json:"parameter"`
	}
	if err := json.Unmarshal(body, &ps); err != nil {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeStructure, "the Parameters body does not decode: %v", err)
	}
	if ps.ResourceType != "Parameters" {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeStructure, "the body is a %q, not Parameters", ps.ResourceType).At("resourceType")
	}
	return ps.Parameter, nil
}
