package search

import (
	"fmt"
	"net/http"

	"github.com/medbridge/medbridge/fhir"
)

// unknownError reports a parameter name or modifier that ParseQuery does
// not know or support. Lenient handling ignores such a parameter; strict
// handling rejects it.
type unknownError struct{ reason string }

func (e *unknownError) Error() string { return e.reason }

func unknownf(format string, args ...any) error {
	return &unknownError{reason: fmt.Sprintf(format, args...)}
}

// valueError reports a value that does not parse; the caller adds the
// parameter's name.
type valueError struct{ msg string }

func (e *valueError) Error() string { return e.msg }

func valuef(format string, args ...any) error {
	return &valueError{msg: fmt.Sprintf(format, args...)}
}

// invalid is the 400 for a bad value of param.
func invalid(param, format string, args ...any) *fhir.Error {
	return fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid, format, args...).At(param)
}
