package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/fhir"
)

// dispatch runs entry i (of a batch, or a GET or HEAD of a transaction)
// as the REST request it names, through the server's own routes with the
// Bundle request's credentials, Prefer and request id, and returns its
// response entry. The request is served in full as if sent alone:
// authorization, confinement, conditional headers, validation.
func (s *Server) dispatch(c echo.Context, i int, e *bundleEntry) bundleEntry {
	req, err := s.entryRequest(c, e)
	if err != nil {
		return s.failedEntry(c, i, err)
	}
	rec := &recorder{header: http.Header{}}
	s.echo.ServeHTTP(rec, req)
	return rec.entry()
}

// entryRequest is the HTTP request an entry stands for.
func (s *Server) entryRequest(c echo.Context, e *bundleEntry) (*http.Request, error) {
	u, err := s.parseEntryURL(e.Request.URL)
	if err != nil {
		return nil, err
	}
	body, contentType, err := entryBody(e)
	if err != nil {
		return nil, err
	}
	outer := c.Request()
	req, err := http.NewRequestWithContext(outer.Context(), e.Request.Method, "/fhir/"+u.rel, bytes.NewReader(body))
	if err != nil {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid, "request.url %q: %v", e.Request.URL, err)
	}
	req.Host, req.RemoteAddr = outer.Host, outer.RemoteAddr
	h := req.Header
	h.Set("Accept", mimeFHIRJSON)
	h.Set(headerRequestID, requestID(c))
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	for name, v := range map[string]string{
		"Authorization":     outer.Header.Get("Authorization"),
		"Prefer":            outer.Header.Get("Prefer"),
		"If-Match":          e.Request.IfMatch,
		"If-None-Match":     e.Request.IfNoneMatch,
		"If-None-Exist":     e.Request.IfNoneExist,
		"If-Modified-Since": e.Request.IfModifiedSince,
	} {
		if v != "" {
			h.Set(name, v)
		}
	}
	return req, nil
}

// entryBody is the request body of an entry and its media type: the
// resource of a POST or PUT; for a PATCH, a Binary's data (a JSON Patch)
// or a Parameters resource (a FHIRPath Patch). Other methods have none.
func entryBody(e *bundleEntry) ([]byte, string, error) {
	method := e.Request.Method
	if method != http.MethodPost && method != http.MethodPut && method != http.MethodPatch {
		return nil, "", nil
	}
	if len(e.Resource) == 0 {
		return nil, "", fhir.Errorf(http.StatusBadRequest, fhir.CodeRequired, "a %s entry needs a resource", method)
	}
	if method != http.MethodPatch {
		return e.Resource, mimeFHIRJSON, nil
	}
	var bin struct {
		ResourceType string `json:"resourceType"`
		ContentType  string `json:"contentType"`
		Data         string `json:"data"`
	}
	if err := json.Unmarshal(e.Resource, &bin); err != nil || bin.ResourceType != "Binary" {
		return e.Resource, mimeFHIRJSON, nil
	}
	data, err := base64.StdEncoding.DecodeString(bin.Data)
	if err != nil {
		return nil, "", fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid, "the patch's Binary.data is not base64: %v", err).At("Binary.data")
	}
	return data, bin.ContentType, nil
}

// recorder is the http.ResponseWriter of an entry's request.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// entry is the recorded response as a response entry: a resource answered
// goes in resource, an OperationOutcome (a failure's, or one asked for by
// Prefer) in response.outcome.
func (r *recorder) entry() bundleEntry {
	r.WriteHeader(http.StatusOK)
	resp := &entryResponse{
		Status:       statusLine(r.status),
		Location:     r.header.Get("Location"),
		Etag:         r.header.Get("ETag"),
		LastModified: instant(r.header.Get("Last-Modified")),
	}
	e := bundleEntry{Response: resp}
	if loc, _, ok := strings.Cut(resp.Location, "/_history/"); ok {
		e.FullURL = loc
	}
	switch body := r.body.Bytes(); {
	case len(body) == 0:
	case r.status >= 400 || bytes.HasPrefix(body, []byte(`{"resourceType":"OperationOutcome"`)):
		resp.Outcome = body
	default:
		e.Resource = body
	}
	return e
}
