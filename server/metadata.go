package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/conformance"
)

// typeInteractions are the interactions routes() registers for every
// resource type.
var typeInteractions = []string{"read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type"}

// typeOperations are the type-level operations routes() registers for
// one type, by the id of their OperationDefinition (served by
// operationdefinition.go).
var typeOperations = map[string][]string{
	"Observation": {conformance.OperationLastN, conformance.OperationStats},
}

// validateDocumentation tells what $validate, registered for every type at
// the type and instance level, checks.
const validateDocumentation = "Type and instance level, modes create, update and delete, profile parameter: structure, the base definition, the profile and the claimed meta.profile profiles."

// conditionalDocumentation tells what the conditional interactions do
// beyond the codes of the statement.
const conditionalDocumentation = "Conditional delete deletes the one match (412 when several match); with _multiple=true it deletes every match, up to 100. " +
	"Conditional create and conditional update are serialized per criteria across server processes: concurrent requests with the same criteria create one resource."

// appendOnlyDocumentation is the documentation of an append-only type
// (appendOnly): the audit trail.
const appendOnlyDocumentation = "Append-only: the server writes an AuditEvent for every interaction, and AuditEvents cannot be changed or removed through the API (update, patch and delete are refused with 405). " +
	"Conditional create is serialized per criteria across server processes: concurrent requests with the same criteria create one resource."

// capabilityStatement builds the statement from what routes() registers and
// the search parameters the search package and the stores support; each
// operation's definition is the server's own OperationDefinition
// (operationdefinition.go).
func (s *Server) capabilityStatement(version string) ([]byte, error) {
	types := make([]conformance.TypeCapability, 0, len(s.spec.ResourceTypes()))
	revIncludes := map[string][]string{}
	for _, t := range s.spec.ResourceTypes() {
		params, err := s.spec.SearchParams(t)
		if err != nil {
			return nil, err
		}
		for _, code := range s.spec.SearchParamCodes(t) {
			if p := params[code]; p.Type == conformance.ParamReference {
				for _, target := range p.Targets {
					revIncludes[target] = append(revIncludes[target], t+":"+code)
				}
			}
		}
	}
	defs, err := conformance.OperationDefinitions(s.baseURL)
	if err != nil {
		return nil, err
	}
	operation := func(id string) (conformance.OperationCapability, error) {
		for _, d := range defs {
			if d.ID == id {
				return conformance.OperationCapability{Name: d.Code, Definition: d.URL}, nil
			}
		}
		return conformance.OperationCapability{}, fmt.Errorf("server: no OperationDefinition %s", id)
	}
	validate, err := operation(conformance.OperationValidate)
	if err != nil {
		return nil, err
	}
	validate.Documentation = validateDocumentation
	for _, t := range s.spec.ResourceTypes() {
		tc := conformance.TypeCapability{
			Type:              t,
			Interactions:      typeInteractions,
			Versioning:        "versioned-update",
			ReadHistory:       true,
			UpdateCreate:      true,
			ConditionalCreate: true,
			ConditionalUpdate: true,
			ConditionalRead:   "full-support",
			ConditionalDelete: "single",
			Documentation:     conditionalDocumentation,
		}
		if appendOnly(t) {
			tc.Interactions = slices.DeleteFunc(slices.Clone(typeInteractions), func(i string) bool {
				return i == "update" || i == "patch" || i == "delete"
			})
			// Versioned, but with no updates there are neither
			// version-aware updates nor past versions to read.
			tc.Versioning, tc.ReadHistory = "versioned", false
			tc.UpdateCreate, tc.ConditionalUpdate, tc.ConditionalDelete = false, false, "not-supported"
			tc.Documentation = appendOnlyDocumentation
		}
		params, err := s.spec.SearchParams(t)
		if err != nil {
			return nil, err
		}
		for _, code := range s.spec.SearchParamCodes(t) {
			p := params[code]
			if p.Type == conformance.ParamSpecial {
				continue // no special parameter (near, ...) is supported
			}
			tc.SearchParams = append(tc.SearchParams, conformance.SearchParamCapability{
				Name: code, Type: p.Type, Definition: p.URL,
				Documentation: "R4 " + p.Type + " parameter: " + p.Expression,
			})
			if p.Type == conformance.ParamReference {
				tc.SearchIncludes = append(tc.SearchIncludes, t+":"+code)
			}
		}
		if len(tc.SearchIncludes) > 0 {
			tc.SearchIncludes = append([]string{"*"}, tc.SearchIncludes...)
		}
		tc.SearchRevIncludes = revIncludes[t]
		for _, id := range typeOperations[t] {
			op, err := operation(id)
			if err != nil {
				return nil, err
			}
			tc.Operations = append(tc.Operations, op)
		}
		tc.Operations = append(tc.Operations, validate)
		types = append(types, tc)
	}
	return conformance.CapabilityStatement(conformance.CapabilityOptions{
		BaseURL:            s.baseURL,
		Software:           "medbridge",
		Version:            version,
		Date:               s.now(),
		Types:              types,
		PatchFormats:       patchFormats,
		SystemInteractions: []string{"transaction", "batch", "history-system", "search-system"},
		Security:           s.security(),
	})
}

// capabilities serves GET /fhir/metadata.
func (s *Server) capabilities(c echo.Context) error {
	writeJSON(c, http.StatusOK, s.capStmt)
	return nil
}

func jsonBody(v any) ([]byte, error) { return json.Marshal(v) }

// security is rest.security: SMART on FHIR when tokens are required, with
// the authorization server's endpoints when medbridge runs its own.
func (s *Server) security() *conformance.SecurityCapability {
	if s.verifier == nil {
		return nil
	}
	sec := &conformance.SecurityCapability{
		CORS:     true,
		Services: []string{"SMART-on-FHIR"},
		Description: "Every request needs an OAuth 2.0 bearer access token (SMART App Launch 2.2, SMART Backend Services); " +
			"its scopes (v1 and v2, with patient compartment and query constraints) decide each interaction. " +
			"Discovery: " + s.baseURL + "/.well-known/smart-configuration.",
	}
	if s.smart != nil {
		sec.OAuthURIs = s.smart.OAuthURIs
	}
	return sec
}
