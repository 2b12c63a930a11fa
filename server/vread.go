package server

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// vread serves GET /fhir/:type/:id/_history/:vid.
func (s *Server) vread(c echo.Context) error {
	typ, id, vid := c.Param("type"), c.Param("id"), c.Param("vid")
	version, err := strconv.ParseInt(vid, 10, 64)
	if err != nil || version < 1 || !fhir.ValidID(id) {
		return fhir.Errorf(http.StatusNotFound, fhir.CodeNotFound, "%s/%s has no version %q", typ, id, vid)
	}
	r, err := s.store.ReadVersion(c.Request().Context(), typ, id, version)
	if errors.Is(err, storage.ErrNotFound) {
		return fhir.Errorf(http.StatusNotFound, fhir.CodeNotFound, "%s/%s has no version %d", typ, id, version)
	}
	if err != nil {
		return err
	}
	if r.Deleted {
		versionHeaders(c, r)
		return fhir.Errorf(http.StatusGone, fhir.CodeDeleted, "version %d of %s/%s is its deletion", version, typ, id)
	}
	return s.writeResource(c, http.StatusOK, r)
}
