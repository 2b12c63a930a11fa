package server

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/fhir"
)

const mimeFHIRJSON = "application/fhir+json"

// jsonTypes are the media types medbridge reads and writes; _format accepts
// their short forms too.
var jsonTypes = map[string]bool{
	mimeFHIRJSON: true, "application/json": true, "json": true,
	"application/json+fhir": true, // DSTU2 name some clients still send
}

var xmlTypes = map[string]bool{
	"application/fhir+xml": true, "application/xml": true, "text/xml": true,
	"xml": true, "application/xml+fhir": true,
}

// negotiate checks _format and Accept: medbridge answers JSON only, so a
// request that accepts nothing but XML (or another type) gets a 406.
func negotiate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if f := c.QueryParam("_format"); f != "" {
			mt, _, _ := mime.ParseMediaType(f)
			if !jsonTypes[strings.ToLower(mt)] {
				return fhir.Errorf(http.StatusNotAcceptable, fhir.CodeNotSupported,
					"_format %q is not supported; medbridge serves application/fhir+json only", f).At("_format")
			}
			return next(c)
		}
		if accept := c.Request().Header.Get("Accept"); accept != "" && !acceptsJSON(accept) {
			return fhir.Errorf(http.StatusNotAcceptable, fhir.CodeNotSupported,
				"Accept %q names no supported type; medbridge serves application/fhir+json only", accept)
		}
		return next(c)
	}
}

func acceptsJSON(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if params["q"] == "0" {
			continue
		}
		mt = strings.ToLower(mt)
		if jsonTypes[mt] || mt == "*/*" || mt == "application/*" {
			return true
		}
	}
	return false
}

// readResourceBody returns the request body of a create or update after
// checking its media type; the body size is limited by the bodyLimit
// middleware, so an oversized body surfaces here as *http.MaxBytesError.
func readResourceBody(c echo.Context) ([]byte, error) {
	ct := c.Request().Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case ct == "":
		return nil, fhir.Errorf(http.StatusUnsupportedMediaType, fhir.CodeNotSupported,
			"Content-Type is missing; send application/fhir+json")
	case err != nil || xmlTypes[strings.ToLower(mt)]:
		return nil, fhir.Errorf(http.StatusUnsupportedMediaType, fhir.CodeNotSupported,
			"Content-Type %q is not supported; medbridge accepts application/fhir+json only", ct)
	case !jsonTypes[strings.ToLower(mt)]:
		return nil, fhir.Errorf(http.StatusUnsupportedMediaType, fhir.CodeNotSupported,
			"Content-Type %q is not supported; send application/fhir+json", ct)
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeStructure, "the request body is empty; send a resource")
	}
	return body, nil
}

// writeJSON sends a FHIR JSON body, indented when _pretty=true.
func writeJSON(c echo.Context, status int, body []byte) {
	if c.QueryParam("_pretty") == "true" {
		var buf bytes.Buffer
		if json.Indent(&buf, body, "", "  ") == nil {
			body = buf.Bytes()
		}
	}
	h := c.Response().Header()
	h.Set("Content-Type", mimeFHIRJSON+"; charset=utf-8")
	c.Response().WriteHeader(status)
	_, _ = c.Response().Write(body)
}

// preferReturn is the return preference of the Prefer header:
// "minimal", "representation" (the default) or "OperationOutcome".
func preferReturn(c echo.Context) string {
	for _, part := range strings.Split(c.Request().Header.Get("Prefer"), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "return") {
			switch v = strings.Trim(strings.TrimSpace(v), `"`); v {
			case "minimal", "representation", "OperationOutcome":
				return v
			}
		}
	}
	return "representation"
}
