package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
)

// The OperationDefinitions of the operations the server runs
// (conformance.OperationDefinitions: $lastn, $stats, $validate) are served
// at /fhir/OperationDefinition/{id}, the canonical URLs the
// CapabilityStatement's operation.definition gives. They are built in and
// read-only, like HAPI FHIR's: served from the embedded data without
// touching the store, version 1 for ever; update, patch and delete of them
// are refused. Every other OperationDefinition id is an ordinary resource
// of the store: its routes are static, so echo prefers them to /:type/:id
// for these ids only.
//
// They describe the server as /metadata does, so they are served as the
// "capabilities" interaction: public (no token needed) and not audited.

// operationDefinitionInteraction is the interaction of the built-in
// OperationDefinitions' routes: that of the public CapabilityStatement.
const operationDefinitionInteraction = "capabilities"

// operationDefinitionRoutes registers the built-in OperationDefinitions
// with route, routes()' fhirRoute.
func (s *Server) operationDefinitionRoutes(route func(methods []string, path string, h echo.HandlerFunc, interaction string)) {
	defs, err := conformance.OperationDefinitions(s.baseURL)
	if err != nil {
		return // unreachable: New refused the server (capabilityStatement loads them first)
	}
	for _, d := range defs {
		r, err := s.builtinResource(d)
		read := func(c echo.Context) error {
			if err != nil {
				return err
			}
			if notModified(c, r) {
				versionHeaders(c, r)
				c.Response().WriteHeader(http.StatusNotModified)
				return nil
			}
			return s.writeResource(c, http.StatusOK, r)
		}
		refuse := func(c echo.Context) error {
			return fhir.Errorf(http.StatusMethodNotAllowed, fhir.CodeNotSupported,
				"OperationDefinition/%s describes an operation of this server: it is built in and read-only", d.ID)
		}
		path := "/OperationDefinition/" + d.ID
		route([]string{http.MethodGet, http.MethodHead}, path, read, operationDefinitionInteraction)
		route([]string{http.MethodGet, http.MethodHead}, path+"/_history/1", read, operationDefinitionInteraction)
		route([]string{http.MethodPut, http.MethodPatch, http.MethodDelete}, path, refuse, operationDefinitionInteraction)
	}
}

// builtinResource is d as a stored resource would be: version 1, the
// codec's canonical JSON.
func (s *Server) builtinResource(d conformance.OperationDefinition) (*fhir.Resource, error) {
	p, err := s.codec.Parse(d.JSON)
	if err != nil {
		return nil, err
	}
	p.SetMeta(1, d.LastUpdated)
	body, err := s.codec.Marshal(p)
	if err != nil {
		return nil, err
	}
	return &fhir.Resource{Type: p.Type, ID: d.ID, Version: 1, LastUpdated: d.LastUpdated, Method: http.MethodPut, JSON: body}, nil
}
