package server

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// delete serves DELETE /fhir/:type/:id: a logical delete that writes a
// deletion version (later reads answer 410, history keeps it). Deleting a
// deleted resource writes nothing; an unknown one is 404. If-Match is a
// compare-and-swap as in update.
func (s *Server) delete(c echo.Context) error {
	typ, id := c.Param("type"), c.Param("id")
	if err := checkID(typ, id); err != nil {
		return err
	}
	want, err := ifMatch(c)
	if err != nil {
		return err
	}
	r, err := s.remove(c, typ, id, want)
	if err != nil {
		return err
	}
	versionHeaders(c, r)
	return c.NoContent(http.StatusNoContent)
}

// remove writes the deletion version of typ/id and returns it, or the
// deletion that is already current. want is If-Match as in save.
func (s *Server) remove(c echo.Context, typ, id string, want int64) (*fhir.Resource, error) {
	ctx := c.Request().Context()
	for attempt := 1; ; attempt++ {
		prev, err := s.store.Read(ctx, typ, id)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, fhir.NotFound(typ, id)
		}
		if err != nil {
			return nil, err
		}
		if err := checkPrecondition(want, prev, typ, id); err != nil {
			return nil, err
		}
		if prev.Deleted {
			return prev, nil
		}
		r := fhir.Resource{Type: typ, ID: id, Version: prev.Version + 1, LastUpdated: s.nextTime(prev), Deleted: true, Method: http.MethodDelete}
		err = s.commit(c, storage.Write{Resource: r, Expected: prev.Version}, prev)
		if errors.Is(err, storage.ErrVersionConflict) && want == 0 && attempt < maxWriteAttempts {
			continue
		}
		if err != nil {
			return nil, versionConflict(err, want, typ, id)
		}
		return &r, nil
	}
}
