package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/fhir"
)

// operationOutcome is the JSON shape of an R4 OperationOutcome.
type operationOutcome struct {
	ResourceType string         `json:"resourceType"`
	Issue        []outcomeIssue `json:"issue"`
}

type outcomeIssue struct {
	Severity    string   `json:"severity"`
	Code        string   `json:"code"`
	Diagnostics string   `json:"diagnostics,omitempty"`
	Expression  []string `json:"expression,omitempty"`
}

func outcomeJSON(issues []fhir.Issue) []byte {
	oo := operationOutcome{ResourceType: "OperationOutcome", Issue: make([]outcomeIssue, len(issues))}
	for i, is := range issues {
		oo.Issue[i] = outcomeIssue{Severity: is.Severity, Code: is.Code, Diagnostics: is.Diagnostics, Expression: is.Expression}
	}
	b, _ := json.Marshal(oo) // cannot fail: strings only
	return b
}

// handleError is echo's HTTPErrorHandler: the one place where every error a
// handler returns becomes an OperationOutcome. *fhir.Error keeps its status
// and issues; echo's own errors (no route, wrong method, ...) are
// translated; anything else is a 500 whose text is logged with the request
// id and never sent to the client.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	fe := s.toFHIRError(err, c)
	if fe.Status == http.StatusMethodNotAllowed {
		c.Response().Header().Set("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
	}
	c.Set(ctxOutcomeStatus, fe.Status)
	writeJSON(c, fe.Status, outcomeJSON(fe.Issues))
}

func (s *Server) toFHIRError(err error, c echo.Context) *fhir.Error {
	var fe *fhir.Error
	if errors.As(err, &fe) {
		return fe
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fhir.Errorf(http.StatusRequestEntityTooLarge, fhir.CodeTooLong,
			"the request body is larger than the limit of %d bytes", mbe.Limit)
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return fhir.Errorf(http.StatusNotFound, fhir.CodeNotFound, "no FHIR endpoint at %s %s", c.Request().Method, c.Request().URL.Path)
		case http.StatusMethodNotAllowed:
			return fhir.Errorf(http.StatusMethodNotAllowed, fhir.CodeNotSupported, "%s is not supported on %s", c.Request().Method, c.Request().URL.Path)
		case http.StatusRequestEntityTooLarge:
			return fhir.Errorf(http.StatusRequestEntityTooLarge, fhir.CodeTooLong, "the request body is larger than the limit of %d bytes", s.maxBody)
		}
		if he.Code >= 400 && he.Code < 500 {
			return fhir.Errorf(he.Code, fhir.CodeProcessing, "%s", fmt.Sprint(he.Message))
		}
	}
	rid := requestID(c)
	logger(c).ErrorContext(c.Request().Context(), "internal error", "error", err.Error())
	return fhir.Errorf(http.StatusInternalServerError, fhir.CodeException,
		"internal server error; quote request id %s to the operator", rid)
}
