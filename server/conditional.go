package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

// Conditional create, update, delete and patch find their target with a
// search (strict: an unknown parameter is a 400, never ignored, since
// ignoring it would widen the criteria). The search is confined like any
// search of the token, so a confined token neither finds nor changes
// resources outside its reach.
//
// Race safety. Conditional create, and conditional update when nothing
// matches, search and then create: two requests with the same criteria
// could both find nothing and both create. The server serializes them with
// a lock record in the store (storage.Record kind conditionLockKind) keyed
// by the type and the canonical criteria (parameters sorted, values
// normalized by search.Query.Encode). PutRecord is a compare-and-swap in
// the shared store, so the lock holds across every server process of a
// cluster. The holder searches again and creates only when there is still
// no match; the others wait, search again and find the winner's resource.
// A holder that dies leaves the lock to expire after conditionLockTTL; a
// live holder works under a deadline of half of it, so the lock never
// expires under a working holder.
//
// What this does not cover: requests whose criteria differ
// (identifier=a|1 and identifier=a|1&active=true, or another parameter
// matching the same identifier) take different locks, and a plain create
// takes none; such requests can still create duplicates.
const (
	conditionLockKind = "conditional-lock"
	conditionLockTTL  = 30 * time.Second
	// maxConditionalDeletes bounds a conditional delete with
	// _multiple=true; more matches are refused with 412.
	maxConditionalDeletes = 100
	// multipleParam opts a conditional delete into deleting every match.
	multipleParam = "_multiple"
)

// controlParams are search result parameters, which do not select
// resources and are left out of a condition's key.
var controlParams = []string{"_type", "_sort", "_count", "_total", "_summary", "_elements", "_include", "_revinclude"}

// condition is the search criteria of a conditional interaction.
type condition struct {
	typ   string
	query *search.Query
	// key names the criteria canonically, as the id of their lock.
	key string
}

// parseCondition parses the criteria of a conditional interaction on typ;
// criteria without any filter are a 400.
func (s *Server) parseCondition(typ string, params url.Values) (*condition, error) {
	q, err := search.ParseQuery(s.spec, []string{typ}, params, search.Options{Strict: true, BaseURL: s.baseURL})
	if err != nil {
		return nil, err
	}
	if len(q.Filters) == 0 {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeRequired,
			"a conditional interaction needs search criteria that select %s resources, e.g. ?identifier=system|value", typ)
	}
	enc := q.Encode()
	for _, k := range controlParams {
		enc.Del(k)
	}
	for _, vs := range enc {
		slices.Sort(vs)
	}
	sum := sha256.Sum256([]byte(typ + "?" + enc.Encode()))
	return &condition{typ: typ, query: q, key: hex.EncodeToString(sum[:])}, nil
}

// criteriaParams reads an If-None-Exist header: a query such as
// identifier=http://x|1, optionally written as ?… or Type?….
func criteriaParams(typ, header string) (url.Values, error) {
	if before, after, ok := strings.Cut(header, "?"); ok {
		if before != "" && before != typ && !strings.HasSuffix(before, "/"+typ) {
			return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid,
				"If-None-Exist %q searches %s, but the body is a %s", header, before, typ)
		}
		header = after
	}
	params, err := url.ParseQuery(header)
	if err != nil {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid, "If-None-Exist %q is not a search query: %v", header, err)
	}
	return params, nil
}

// findMatches returns up to n resources that match cond, inside the
// token's confinement.
func (s *Server) findMatches(c echo.Context, cond *condition, n int) ([]fhir.Resource, error) {
	confine, err := s.confinement(c, cond.typ)
	if err != nil {
		return nil, err
	}
	q := search.Query{
		Types:   cond.query.Types,
		Filters: append(slices.Clone(cond.query.Filters), confine...),
		Count:   n,
		Total:   "none",
	}
	page, err := s.store.Search(c.Request().Context(), &q)
	if err != nil {
		return nil, err
	}
	return page.Resources, nil
}

// findOne returns the one resource that matches cond, nil when none does,
// and a 412 when several do.
func (s *Server) findOne(c echo.Context, cond *condition) (*fhir.Resource, error) {
	found, err := s.findMatches(c, cond, 2)
	switch {
	case err != nil:
		return nil, err
	case len(found) > 1:
		return nil, fhir.Errorf(http.StatusPreconditionFailed, fhir.CodeMultipleMatches,
			"the criteria match more than one %s; make them more selective", cond.typ)
	case len(found) == 1:
		return &found[0], nil
	}
	return nil, nil
}

// resolve returns the one resource that matches cond; when none does, it
// runs onNone under the criteria's lock (after searching again) and
// returns nil. Several matches are a 412.
func (s *Server) resolve(c echo.Context, cond *condition, onNone func() error) (*fhir.Resource, error) {
	ctx := c.Request().Context()
	giveUp := time.Now().Add(conditionLockTTL)
	wait := time.Millisecond
	for {
		found, err := s.findOne(c, cond)
		if err != nil || found != nil {
			return found, err
		}
		lock := storage.Record{Kind: conditionLockKind, ID: cond.key, Expires: time.Now().Add(conditionLockTTL)}
		err = s.store.PutRecord(ctx, lock, 0)
		if err == nil {
			return s.underLock(c, cond, onNone)
		}
		if !errors.Is(err, storage.ErrVersionConflict) {
			return nil, err
		}
		if time.Now().After(giveUp) {
			return nil, fhir.Errorf(http.StatusServiceUnavailable, fhir.CodeTimeout,
				"another request with the same criteria has been running for %v; try again", conditionLockTTL)
		}
		// Jitter keeps the waiters from polling the store in step.
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait/2 + rand.N(wait)):
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// underLock runs the critical section of resolve while holding cond's
// lock, and releases it.
func (s *Server) underLock(c echo.Context, cond *condition, onNone func() error) (*fhir.Resource, error) {
	req := c.Request()
	ctx, cancel := context.WithTimeout(req.Context(), conditionLockTTL/2)
	defer func() {
		cancel()
		c.SetRequest(req)
		// The lock must go even when the request was cancelled.
		err := s.store.DeleteRecord(context.WithoutCancel(req.Context()), conditionLockKind, cond.key)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			logger(c).Warn("conditional lock not released; it expires by itself", "error", err.Error())
		}
	}()
	c.SetRequest(req.WithContext(ctx))
	found, err := s.findOne(c, cond)
	if err != nil || found != nil {
		return found, err
	}
	return nil, onNone()
}

// conditionalCreate is POST /fhir/:type with If-None-Exist: no match
// creates (201), one answers it (200), several are a 412.
func (s *Server) conditionalCreate(c echo.Context, p *fhir.Parsed, criteria string) error {
	params, err := criteriaParams(p.Type, criteria)
	if err != nil {
		return err
	}
	cond, err := s.parseCondition(p.Type, params)
	if err != nil {
		return err
	}
	var created *fhir.Resource
	found, err := s.resolve(c, cond, func() (err error) {
		created, err = s.insert(c, p, http.MethodPost)
		return err
	})
	switch {
	case err != nil:
		return err
	case found != nil:
		return s.writeWritten(c, http.StatusOK, found)
	}
	return s.writeWritten(c, http.StatusCreated, created)
}

// conditionalUpdate serves PUT /fhir/:type?criteria. One match is updated
// (a body id must be its id, else 400); several are a 412. No match
// creates: with a server id when the body has none, else with the body's
// id unless a live resource holds it (409). If-Match applies to the match.
func (s *Server) conditionalUpdate(c echo.Context) error {
	typ := c.Param("type")
	cond, err := s.parseCondition(typ, c.QueryParams())
	if err != nil {
		return err
	}
	want, err := ifMatch(c)
	if err != nil {
		return err
	}
	p, err := s.parseBody(c, typ)
	if err != nil {
		return err
	}
	var (
		r      *fhir.Resource
		status int
	)
	found, err := s.resolve(c, cond, func() (err error) {
		switch {
		case want > 0:
			return fhir.Errorf(http.StatusPreconditionFailed, fhir.CodeConflict,
				"If-Match names version %d but no %s matches the criteria", want, typ)
		case p.ID() == "":
			status = http.StatusCreated
			r, err = s.insert(c, p, http.MethodPut)
			return err
		}
		r, status, err = s.save(c, typ, p.ID(), 0, http.MethodPut, createOnly(p))
		return err
	})
	if err != nil {
		return err
	}
	if found != nil {
		if id := p.ID(); id != "" && id != found.ID {
			return fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid,
				"the body's id %q differs from %s/%s, which the criteria match", id, typ, found.ID).At(typ + ".id")
		}
		p.SetID(found.ID)
		if r, status, err = s.save(c, typ, found.ID, want, http.MethodPut, replaceWith(p)); err != nil {
			return err
		}
	}
	return s.writeWritten(c, status, r)
}

// createOnly is the nextContent of a conditional update that matched
// nothing and names an id: it may create that resource (or re-create a
// deleted one) but not replace a live one the criteria did not match.
func createOnly(p *fhir.Parsed) nextContent {
	return func(cur *fhir.Resource) (*fhir.Parsed, error) {
		if cur != nil && !cur.Deleted {
			return nil, fhir.Errorf(http.StatusConflict, fhir.CodeConflict,
				"no %s matches the criteria, and %s/%s exists but does not match them", p.Type, p.Type, p.ID()).At(p.Type + ".id")
		}
		return p, nil
	}
}

// conditionalDelete serves DELETE /fhir/:type?criteria. By default it
// deletes the one match and refuses several (412); with _multiple=true it
// deletes every match, up to maxConditionalDeletes (more: 412), each on
// its own (not atomically). It answers 200 with an OperationOutcome that
// lists what it deleted, and ETag when it deleted one resource.
func (s *Server) conditionalDelete(c echo.Context) error {
	typ := c.Param("type")
	params := maps.Clone(c.QueryParams())
	multiple, err := parseMultiple(params)
	if err != nil {
		return err
	}
	cond, err := s.parseCondition(typ, params)
	if err != nil {
		return err
	}
	want, err := ifMatch(c)
	if err != nil {
		return err
	}
	limit := 1
	if multiple {
		if want > 0 {
			return fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid, "If-Match names one version; it cannot apply to %s=true", multipleParam)
		}
		limit = maxConditionalDeletes
	}
	found, err := s.findMatches(c, cond, limit+1)
	switch {
	case err != nil:
		return err
	case len(found) > limit && multiple:
		return fhir.Errorf(http.StatusPreconditionFailed, fhir.CodeTooCostly,
			"more than %d %s resources match; make the criteria more selective", limit, typ)
	case len(found) > limit:
		return fhir.Errorf(http.StatusPreconditionFailed, fhir.CodeMultipleMatches,
			"the criteria match more than one %s; make them more selective, or add %s=true to delete every match", typ, multipleParam)
	}
	deleted := make([]string, 0, len(found))
	for _, m := range found {
		r, err := s.remove(c, typ, m.ID, want)
		if err != nil {
			return err
		}
		if len(found) == 1 {
			versionHeaders(c, r)
		}
		deleted = append(deleted, typ+"/"+m.ID)
	}
	msg := "no " + typ + " matches the criteria; nothing was deleted"
	if len(deleted) > 0 {
		msg = "deleted " + strings.Join(deleted, ", ")
	}
	writeJSON(c, http.StatusOK, outcomeJSON([]fhir.Issue{{Severity: fhir.SeverityInformation, Code: fhir.CodeInformational, Diagnostics: msg}}))
	return nil
}

// parseMultiple reads and removes _multiple from params.
func parseMultiple(params url.Values) (bool, error) {
	v, ok := params[multipleParam]
	delete(params, multipleParam)
	switch {
	case !ok:
		return false, nil
	case len(v) == 1 && (v[0] == "true" || v[0] == "false"):
		return v[0] == "true", nil
	}
	return false, fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid, "%s takes true or false", multipleParam).At(multipleParam)
}
