package server

import (
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// create serves POST /fhir/:type: the server assigns the id (an id in the
// body is replaced, as the spec says) and stores version 1. With
// If-None-Exist it is a conditional create (see conditional.go).
func (s *Server) create(c echo.Context) error {
	typ := c.Param("type")
	p, err := s.parseBody(c, typ)
	if err != nil {
		return err
	}
	if criteria := c.Request().Header.Get("If-None-Exist"); criteria != "" {
		return s.conditionalCreate(c, p, criteria)
	}
	r, err := s.insert(c, p, http.MethodPost)
	if err != nil {
		return err
	}
	return s.writeWritten(c, http.StatusCreated, r)
}

// insert stores p as version 1 of a new resource whose id the server
// assigns; method is the request's, for the history.
func (s *Server) insert(c echo.Context, p *fhir.Parsed, method string) (*fhir.Resource, error) {
	p.SetID(uuid.NewString())
	w, err := s.prepare(c, p, nil, method)
	if err != nil {
		return nil, err
	}
	if err := s.commit(c, w, nil); err != nil {
		return nil, err // a fresh UUID cannot conflict; anything here is internal
	}
	return &w.Resource, nil
}

// prepare makes the write of p as the version after prev (nil: the
// first): stamped, serialized, indexed, inside what the token may write
// and conforming to the profiles it claims (see checkClaims).
func (s *Server) prepare(c echo.Context, p *fhir.Parsed, prev *fhir.Resource, method string) (storage.Write, error) {
	r, err := s.newVersion(p, prev, method)
	if err != nil {
		return storage.Write{}, err
	}
	idx, err := s.extractor.Extract(r.Type, r.JSON)
	if err != nil {
		return storage.Write{}, err
	}
	if err := s.checkWrite(c, r, idx); err != nil {
		return storage.Write{}, err
	}
	if err := s.checkClaims(c, r.JSON); err != nil {
		return storage.Write{}, err
	}
	w := storage.Write{Resource: *r, Index: idx}
	if prev != nil {
		w.Expected = prev.Version
	}
	return w, nil
}

// parseBody reads, parses and validates a resource of type typ.
func (s *Server) parseBody(c echo.Context, typ string) (*fhir.Parsed, error) {
	body, err := readResourceBody(c)
	if err != nil {
		return nil, err
	}
	return s.parseAs(body, typ)
}

// parseAs parses and validates body, which must be a resource of type typ.
func (s *Server) parseAs(body []byte, typ string) (*fhir.Parsed, error) {
	p, err := s.codec.Parse(body)
	if err != nil {
		return nil, err
	}
	if p.Type != typ {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid,
			"the body is a %s but the URL names %s", p.Type, typ).At("resourceType")
	}
	return p, nil
}

// newVersion stamps p as the version after prev (nil: the first) and
// serializes it.
func (s *Server) newVersion(p *fhir.Parsed, prev *fhir.Resource, method string) (*fhir.Resource, error) {
	r := &fhir.Resource{Type: p.Type, ID: p.ID(), Version: 1, LastUpdated: s.nextTime(prev), Method: method}
	if prev != nil {
		r.Version = prev.Version + 1
	}
	p.SetMeta(r.Version, r.LastUpdated)
	b, err := s.codec.Marshal(p)
	if err != nil {
		return nil, err
	}
	r.JSON = b
	return r, nil
}
