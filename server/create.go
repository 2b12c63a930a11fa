package server

import (
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// create serves POST /fhir/:type: the server assigns the id (an id in the
// body is replaced, as the spec says) and stores version 1.
func (s *Server) create(c echo.Context) error {
	typ := c.Param("type")
	p, err := s.parseBody(c, typ)
	if err != nil {
		return err
	}
	p.SetID(uuid.NewString())
	r, err := s.newVersion(p, nil, http.MethodPost)
	if err != nil {
		return err
	}
	idx, err := s.extractor.Extract(r.Type, r.JSON)
	if err != nil {
		return err
	}
	if err := s.checkWrite(c, r, idx); err != nil {
		return err
	}
	if err := s.store.Write(c.Request().Context(), storage.Write{Resource: *r, Index: idx}); err != nil {
		return err // a fresh UUID cannot conflict; anything here is internal
	}
	return s.writeWritten(c, http.StatusCreated, r)
}

// parseBody reads, parses and validates a resource of type typ.
func (s *Server) parseBody(c echo.Context, typ string) (*fhir.Parsed, error) {
	body, err := readResourceBody(c)
	if err != nil {
		return nil, err
	}
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
