// Package fhir holds medbridge's domain: the stored resource envelope, the R4
// codec (parse, validate, serialize through google/fhir/go) and the one error
// type that the HTTP layer renders as an OperationOutcome.
package fhir

import (
	"fmt"
	"net/http"
	"strings"
)

// Issue severities and the R4 IssueType codes medbridge uses
// (http://hl7.org/fhir/R4/valueset-issue-type.html).
const (
	SeverityFatal       = "fatal"
	SeverityError       = "error"
	SeverityWarning     = "warning"
	SeverityInformation = "information"

	CodeInvalid         = "invalid"
	CodeStructure       = "structure"
	CodeRequired        = "required"
	CodeValue           = "value"
	CodeInvariant       = "invariant"
	CodeSecurity        = "security"
	CodeLogin           = "login"
	CodeForbidden       = "forbidden"
	CodeNotSupported    = "not-supported"
	CodeDuplicate       = "duplicate"
	CodeMultipleMatches = "multiple-matches"
	CodeNotFound        = "not-found"
	CodeDeleted         = "deleted"
	CodeTooLong         = "too-long"
	CodeConflict        = "conflict"
	CodeException       = "exception"
	CodeTimeout         = "timeout"
	CodeProcessing      = "processing"
	CodeInformational   = "informational"
	CodeTooCostly       = "too-costly"
)

// Issue is one OperationOutcome.issue.
type Issue struct {
	Severity    string
	Code        string
	Diagnostics string
	// Expression holds FHIRPath expressions naming the offending elements.
	Expression []string
}

// Error is the single error type of medbridge's domain. Every failure a
// client can cause is an *Error; the HTTP layer renders it as an
// OperationOutcome with Status. Any other error reaching the HTTP layer is
// an internal error and is rendered as a 500 without its text.
type Error struct {
	Status int
	Issues []Issue
}

// Errorf returns an *Error with one issue of severity error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Issues: []Issue{{
		Severity:    SeverityError,
		Code:        code,
		Diagnostics: fmt.Sprintf(format, args...),
	}}}
}

// At sets the FHIRPath expression of the error's first issue and returns e.
func (e *Error) At(expression ...string) *Error {
	if len(e.Issues) > 0 {
		e.Issues[0].Expression = expression
	}
	return e
}

func (e *Error) Error() string {
	parts := make([]string, 0, len(e.Issues))
	for _, is := range e.Issues {
		s := is.Code + ": " + is.Diagnostics
		if len(is.Expression) > 0 {
			s += " (at " + strings.Join(is.Expression, ", ") + ")"
		}
		parts = append(parts, s)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), strings.Join(parts, "; "))
}

// NotFound reports that typ/id has never existed.
func NotFound(typ, id string) *Error {
	return Errorf(http.StatusNotFound, CodeNotFound, "%s/%s is not known", typ, id)
}

// Gone reports that typ/id was deleted.
func Gone(typ, id string) *Error {
	return Errorf(http.StatusGone, CodeDeleted, "%s/%s has been deleted", typ, id)
}
