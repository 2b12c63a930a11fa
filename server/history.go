package server

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

const (
	defaultHistoryCount = 20
	maxHistoryCount     = 1000
	pageTokenParam      = "_page_token"
)

// history serves the history interaction at system, type and instance
// level, with _since, _at and _count, paging by an opaque keyset cursor
// that stays valid across restarts and concurrent writes.
func (s *Server) history(c echo.Context) error {
	q := storage.HistoryQuery{Type: c.Param("type"), ID: c.Param("id")}
	if q.ID != "" {
		if _, err := s.current(c, q.Type, q.ID); err != nil && !isGone(err) {
			return err
		}
	}
	params := c.QueryParams()
	if err := parseHistoryParams(params, &q); err != nil {
		return err
	}
	page, err := s.store.History(c.Request().Context(), q)
	if err != nil {
		return err
	}
	b := newBundle("history", s.now())
	selfURL := s.requestURL(c, params, "")
	b.Link = append(b.Link, bundleLink{Relation: "self", URL: selfURL})
	if page.Next != nil {
		b.Link = append(b.Link, bundleLink{Relation: "next", URL: s.requestURL(c, params, encodeCursor(page.Next))})
	}
	for i := range page.Versions {
		b.Entry = append(b.Entry, s.historyEntry(&page.Versions[i]))
	}
	body, err := jsonBody(b)
	if err != nil {
		return err
	}
	writeJSON(c, http.StatusOK, body)
	return nil
}

func isGone(err error) bool {
	fe, ok := err.(*fhir.Error)
	return ok && fe.Status == http.StatusGone
}

func (s *Server) historyEntry(r *fhir.Resource) bundleEntry {
	e := bundleEntry{
		FullURL:  s.fullURL(r),
		Request:  &entryRequest{Method: r.Method, URL: r.Type + "/" + r.ID},
		Response: &entryResponse{Etag: etag(r.Version), LastModified: r.LastUpdated.UTC().Format(fhir.InstantFormat)},
	}
	switch {
	case r.Deleted:
		e.Response.Status = "204 No Content"
	case r.Method == http.MethodPost:
		e.Request.URL = r.Type
		e.Response.Status = "201 Created"
		e.Resource = r.JSON
	case r.Version == 1:
		e.Response.Status = "201 Created"
		e.Resource = r.JSON
	default:
		e.Response.Status = "200 OK"
		e.Resource = r.JSON
	}
	e.Response.Location = s.location(r)
	return e
}

func parseHistoryParams(params url.Values, q *storage.HistoryQuery) error {
	q.Count = defaultHistoryCount
	if v := params.Get("_count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid, "_count must be a positive integer, not %q", v).At("_count")
		}
		q.Count = min(n, maxHistoryCount)
	}
	if v := params.Get("_since"); v != "" {
		r, err := search.ParseDateRange(v)
		if err != nil || !strings.Contains(v, "T") {
			return fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid, "_since must be an instant such as 2026-03-04T10:00:00Z, not %q", v).At("_since")
		}
		q.Since = r.Start
	}
	if v := params.Get("_at"); v != "" {
		r, err := search.ParseDateRange(v)
		if err != nil {
			return fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid, "_at: %v", err).At("_at")
		}
		q.AtStart, q.AtEnd = r.Start, r.End
	}
	if v := params.Get(pageTokenParam); v != "" {
		cur, err := decodeCursor(v)
		if err != nil {
			return fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid, "%s is not a valid page token", pageTokenParam).At(pageTokenParam)
		}
		q.After = cur
	}
	return nil
}

// encodeCursor renders a history cursor as an opaque URL-safe token.
func encodeCursor(c *storage.HistoryCursor) string {
	raw := fmt.Sprintf("%d|%s|%s|%d", c.LastUpdated.UnixMicro(), c.Type, c.ID, c.Version)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeCursor(token string) (*storage.HistoryCursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil, err
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 4 {
		return nil, fmt.Errorf("cursor has %d parts", len(parts))
	}
	us, err1 := strconv.ParseInt(parts[0], 10, 64)
	v, err2 := strconv.ParseInt(parts[3], 10, 64)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("cursor numbers")
	}
	return &storage.HistoryCursor{LastUpdated: time.UnixMicro(us).UTC(), Type: parts[1], ID: parts[2], Version: v}, nil
}

// requestURL rebuilds the request's URL on the public base with its query
// parameters, replacing the page token with token ("" drops it).
func (s *Server) requestURL(c echo.Context, params url.Values, token string) string {
	q := url.Values{}
	for k, vs := range params {
		if k != pageTokenParam {
			q[k] = vs
		}
	}
	if token != "" {
		q.Set(pageTokenParam, token)
	}
	path := strings.TrimPrefix(c.Request().URL.Path, "/fhir")
	u := s.baseURL + path
	if enc := q.Encode(); enc != "" {
		u += "?" + enc
	}
	return u
}
