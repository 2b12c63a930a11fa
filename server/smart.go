package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// SMART is the authorization server medbridge serves beside the FHIR API
// (auth/authz), when it runs its own.
type SMART struct {
	// Handler serves the authorization server under /auth (it strips the
	// prefix itself).
	Handler http.Handler
	// Configuration is the JSON of /fhir/.well-known/smart-configuration.
	Configuration any
	// OAuthURIs go into the CapabilityStatement's oauth-uris extension
	// (authorize, token, introspect, revoke → absolute URLs).
	OAuthURIs map[string]string
}

// smartRoutes mounts the authorization server and SMART discovery.
func (s *Server) smartRoutes(e *echo.Echo) {
	h := echo.WrapHandler(s.smart.Handler)
	e.Any("/auth", h, s.interaction("auth"))
	e.Any("/auth/*", h, s.interaction("auth"), s.auditedSignIn)
}

// smartConfiguration serves GET /fhir/.well-known/smart-configuration.
func (s *Server) smartConfiguration(c echo.Context) error {
	return c.JSON(http.StatusOK, s.smart.Configuration)
}
