package server

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// read serves GET /fhir/:type/:id with conditional read (If-None-Match,
// If-Modified-Since → 304).
func (s *Server) read(c echo.Context) error {
	typ, id := c.Param("type"), c.Param("id")
	r, err := s.current(c, typ, id)
	if err != nil {
		return err
	}
	if notModified(c, r) {
		versionHeaders(c, r)
		c.Response().WriteHeader(http.StatusNotModified)
		return nil
	}
	return s.writeResource(c, http.StatusOK, r)
}

// current returns the live current version of typ/id: 404 when it never
// existed, 410 when it is deleted.
func (s *Server) current(c echo.Context, typ, id string) (*fhir.Resource, error) {
	if err := checkID(typ, id); err != nil {
		return nil, err
	}
	r, err := s.store.Read(c.Request().Context(), typ, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fhir.NotFound(typ, id)
	}
	if err != nil {
		return nil, err
	}
	if r.Deleted {
		versionHeaders(c, r)
		return nil, fhir.Gone(typ, id)
	}
	return r, nil
}

func notModified(c echo.Context, r *fhir.Resource) bool {
	h := c.Request().Header
	if inm := h.Get("If-None-Match"); inm != "" {
		for _, tag := range strings.Split(inm, ",") {
			if strings.TrimSpace(tag) == "*" {
				return true
			}
			if v, ok := parseETag(tag); ok && v == r.Version {
				return true
			}
		}
		return false
	}
	if ims := h.Get("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil {
			return !r.LastUpdated.Truncate(time.Second).After(t)
		}
	}
	return false
}

// checkID refuses an id in the URL that is not a valid FHIR id.
func checkID(typ, id string) error {
	if !fhir.ValidID(id) {
		return fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid, "%q is not a valid FHIR id", id).At(typ + ".id")
	}
	return nil
}
