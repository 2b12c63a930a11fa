package server

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/conformance"
)

// typeInteractions are the interactions every resource type supports.
var typeInteractions = []string{"read", "vread", "update", "delete", "history-instance", "history-type", "create"}

// capabilityStatement builds the statement from what routes() registers.
func (s *Server) capabilityStatement(version string) ([]byte, error) {
	types := make([]conformance.TypeCapability, 0, len(s.spec.ResourceTypes()))
	for _, t := range s.spec.ResourceTypes() {
		types = append(types, conformance.TypeCapability{
			Type:         t,
			Interactions: typeInteractions,
			Versioning:   "versioned-update",
			ReadHistory:  true,
			UpdateCreate: true,
		})
	}
	return conformance.CapabilityStatement(conformance.CapabilityOptions{
		BaseURL:            s.baseURL,
		Software:           "medbridge",
		Version:            version,
		Date:               s.now(),
		Types:              types,
		SystemInteractions: []string{"history-system"},
	})
}

// capabilities serves GET /fhir/metadata.
func (s *Server) capabilities(c echo.Context) error {
	writeJSON(c, http.StatusOK, s.capStmt)
	return nil
}

func jsonBody(v any) ([]byte, error) { return json.Marshal(v) }
