package server

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

const pageBeforeParam = "_page_before"

// searchType serves GET /fhir/:type and POST /fhir/:type/_search.
func (s *Server) searchType(c echo.Context) error {
	params, err := searchParams(c)
	if err != nil {
		return err
	}
	return s.runSearch(c, []string{c.Param("type")}, params, nil)
}

// searchSystem serves GET /fhir and POST /fhir/_search (types from _type,
// every type without it).
func (s *Server) searchSystem(c echo.Context) error {
	params, err := searchParams(c)
	if err != nil {
		return err
	}
	return s.runSearch(c, nil, params, nil)
}

// searchParams returns the search parameters of a GET (the query) or a
// POST _search (the query and the form body).
func searchParams(c echo.Context) (url.Values, error) {
	params := url.Values{}
	for k, vs := range c.QueryParams() {
		params[k] = append(params[k], vs...)
	}
	if c.Request().Method != http.MethodPost {
		return params, nil
	}
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return nil, fhir.Errorf(http.StatusUnsupportedMediaType, fhir.CodeNotSupported,
			"POST _search takes application/x-www-form-urlencoded parameters, not %q", c.Request().Header.Get("Content-Type"))
	}
	form, err := c.FormParams()
	if err != nil {
		return nil, err
	}
	for k, vs := range form {
		params[k] = append(params[k], vs...)
	}
	return params, nil
}

// strict reports whether the client asked for Prefer: handling=strict.
func strict(c echo.Context) bool {
	for _, part := range strings.Split(c.Request().Header.Get("Prefer"), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		if strings.EqualFold(strings.TrimSpace(k), "handling") && strings.EqualFold(strings.Trim(strings.TrimSpace(v), `"`), "strict") {
			return true
		}
	}
	return false
}

// runSearch parses params for types, adds the extra filters (a
// compartment's), runs the search with its includes and answers a
// searchset Bundle.
func (s *Server) runSearch(c echo.Context, types []string, params url.Values, extra []search.Filter) error {
	q, err := search.ParseQuery(s.spec, types, params, search.Options{Strict: strict(c), BaseURL: s.baseURL})
	if err != nil {
		return err
	}
	if err := dropRevIncludeAll(q, strict(c)); err != nil {
		return err
	}
	q.After, q.Before = params.Get(pageTokenParam), params.Get(pageBeforeParam)
	if q.Summary == "count" {
		q.Count, q.Total = 0, "accurate"
	}
	if q.Total == "" {
		q.Total = "accurate"
	}
	ctx := c.Request().Context()
	// The extra filters run but stay out of the links, whose path already
	// carries them (Patient/1/Observation).
	run := *q
	confine, err := s.confinement(c, firstType(types, q.Types))
	if err != nil {
		return err
	}
	run.Filters = append(append(slices.Clone(q.Filters), extra...), confine...)
	page, err := s.store.Search(ctx, &run)
	if errors.Is(err, storage.ErrBadCursor) {
		return fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid, "the page token is not valid; start the search again").At(pageTokenParam)
	}
	if err != nil {
		return err
	}
	included, err := s.includedVisible(c, q, page.Resources)
	if err != nil {
		return err
	}
	b := newBundle("searchset", s.now())
	if page.Total >= 0 {
		total := page.Total
		b.Total = &total
	}
	b.Link = s.searchLinks(c, q, page)
	for i := range page.Resources {
		e, err := s.searchEntry(q, &page.Resources[i], "match")
		if err != nil {
			return err
		}
		b.Entry = append(b.Entry, e)
	}
	for i := range included {
		e, err := s.searchEntry(q, &included[i], "include")
		if err != nil {
			return err
		}
		b.Entry = append(b.Entry, e)
	}
	if len(q.Unknown) > 0 {
		b.Entry = append(b.Entry, bundleEntry{
			Resource: outcomeJSON([]fhir.Issue{{
				Severity:    fhir.SeverityWarning,
				Code:        fhir.CodeNotSupported,
				Diagnostics: "ignored unknown or unsupported search parameters: " + strings.Join(q.Unknown, ", "),
				Expression:  q.Unknown,
			}}),
			Search: &entrySearch{Mode: "outcome"},
		})
	}
	body, err := jsonBody(b)
	if err != nil {
		return err
	}
	writeJSON(c, http.StatusOK, body)
	return nil
}

func (s *Server) searchEntry(q *search.Query, r *fhir.Resource, mode string) (bundleEntry, error) {
	body := r.JSON
	if keep, ok := s.searchSubset(q, r.Type); ok && mode == "match" {
		var err error
		if body, err = fhir.Subset(body, keep); err != nil {
			return bundleEntry{}, err
		}
	}
	return bundleEntry{FullURL: s.fullURL(r), Resource: body, Search: &entrySearch{Mode: mode}}, nil
}

// searchSubset returns the keep function of _summary/_elements, if any.
func (s *Server) searchSubset(q *search.Query, typ string) (func(string) bool, bool) {
	switch {
	case q.Summary != "" && q.Summary != "false" && q.Summary != "count":
		return s.spec.SummaryKeep(typ, q.Summary)
	case len(q.Elements) > 0:
		return s.spec.ElementsKeep(typ, q.Elements), true
	}
	return nil, false
}

// searchLinks builds self, first, next and prev from the canonical form of
// the query (unknown parameters left out) and the page's cursors.
func (s *Server) searchLinks(c echo.Context, q *search.Query, page *storage.SearchPage) []bundleLink {
	base := s.baseURL + strings.TrimPrefix(strings.TrimSuffix(c.Request().URL.Path, "/_search"), "/fhir")
	link := func(rel string, extra url.Values) bundleLink {
		v := q.Encode()
		for k, vs := range extra {
			v[k] = vs
		}
		u := base
		if enc := v.Encode(); enc != "" {
			u += "?" + enc
		}
		return bundleLink{Relation: rel, URL: u}
	}
	var self url.Values
	switch {
	case q.After != "":
		self = url.Values{pageTokenParam: {q.After}}
	case q.Before != "":
		self = url.Values{pageBeforeParam: {q.Before}}
	}
	links := []bundleLink{link("self", self), link("first", nil)}
	if page.Next != "" {
		links = append(links, link("next", url.Values{pageTokenParam: {page.Next}}))
	}
	if page.Prev != "" {
		links = append(links, link("previous", url.Values{pageBeforeParam: {page.Prev}}))
	}
	return links
}

// firstType is the type a confined search runs on: authorization let it
// through with one type only (see authorizeSystemSearch).
func firstType(types, queried []string) string {
	if len(types) > 0 {
		return types[0]
	}
	if len(queried) > 0 {
		return queried[0]
	}
	return ""
}

// includedVisible runs q's _include/_revinclude for matches and keeps
// what the token may read.
func (s *Server) includedVisible(c echo.Context, q *search.Query, matches []fhir.Resource) ([]fhir.Resource, error) {
	included, err := s.includes(c.Request().Context(), q, matches)
	if err != nil {
		return nil, err
	}
	return s.visible(c, included)
}
