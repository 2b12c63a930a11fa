package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/fhir"
)

// etag is the weak ETag of a version.
func etag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// parseETag reads a version from an If-Match / If-None-Match value such as
// W/"3" or "3".
func parseETag(v string) (int64, bool) {
	v = strings.TrimSpace(v)
	v = strings.TrimPrefix(v, "W/")
	v = strings.Trim(v, `"`)
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil && n > 0
}

// ifMatch returns the version demanded by If-Match, 0 when there is none.
func ifMatch(c echo.Context) (int64, error) {
	h := c.Request().Header.Get("If-Match")
	if h == "" {
		return 0, nil
	}
	v, ok := parseETag(h)
	if !ok {
		return 0, fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid,
			`If-Match %q is not a version ETag such as W/"3"`, h)
	}
	return v, nil
}

func (s *Server) location(r *fhir.Resource) string {
	return s.baseURL + "/" + r.Type + "/" + r.ID + "/_history/" + strconv.FormatInt(r.Version, 10)
}

// versionHeaders sets ETag and Last-Modified for r.
func versionHeaders(c echo.Context, r *fhir.Resource) {
	h := c.Response().Header()
	h.Set("ETag", etag(r.Version))
	h.Set("Last-Modified", r.LastUpdated.UTC().Format(http.TimeFormat))
}

// writeResource answers a read with r's JSON, subset by _summary/_elements.
func (s *Server) writeResource(c echo.Context, status int, r *fhir.Resource) error {
	body, err := s.subset(c, r.Type, r.JSON)
	if err != nil {
		return err
	}
	versionHeaders(c, r)
	s.noteResource(c, r, nil)
	writeJSON(c, status, body)
	return nil
}

// writeWritten answers a create or update according to Prefer: return=.
func (s *Server) writeWritten(c echo.Context, status int, r *fhir.Resource) error {
	versionHeaders(c, r)
	c.Response().Header().Set("Location", s.location(r))
	switch preferReturn(c) {
	case "minimal":
		c.Response().WriteHeader(status)
		return nil
	case "OperationOutcome":
		writeJSON(c, status, outcomeJSON([]fhir.Issue{{
			Severity:    fhir.SeverityInformation,
			Code:        fhir.CodeInformational,
			Diagnostics: "stored " + r.Type + "/" + r.ID + " version " + strconv.FormatInt(r.Version, 10),
		}}))
		return nil
	}
	writeJSON(c, status, r.JSON)
	return nil
}

// nextTime is the lastUpdated of the version after prev (nil: the first).
func (s *Server) nextTime(prev *fhir.Resource) time.Time {
	var last time.Time
	if prev != nil {
		last = prev.LastUpdated
	}
	return fhir.NextLastUpdated(s.now(), last)
}
