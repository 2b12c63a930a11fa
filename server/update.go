package server

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// maxWriteAttempts bounds the retries of an unconditional update or delete
// that lost a race with another writer.
const maxWriteAttempts = 16

// update serves PUT /fhir/:type/:id: update, or create with the client's id
// when the resource does not exist (or was deleted). With If-Match the write
// is a compare-and-swap on that version (412 when stale); without it the
// handler retries against the newest version. An update whose content
// equals the current version's writes nothing and answers that version.
func (s *Server) update(c echo.Context) error {
	typ, id := c.Param("type"), c.Param("id")
	if err := checkID(typ, id); err != nil {
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
	switch bodyID := p.ID(); {
	case bodyID == "":
		return fhir.Errorf(http.StatusBadRequest, fhir.CodeRequired, "the body has no id; an update must carry the id of the URL (%s)", id).At(typ + ".id")
	case bodyID != id:
		return fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid, "the body's id %q differs from the URL's %q", bodyID, id).At(typ + ".id")
	}
	r, status, err := s.save(c, typ, id, want, http.MethodPut, replaceWith(p))
	if err != nil {
		return err
	}
	return s.writeWritten(c, status, r)
}

// nextContent makes the content of a resource's next version from its
// current version (nil when the resource never existed; possibly a
// deletion).
type nextContent func(cur *fhir.Resource) (*fhir.Parsed, error)

// replaceWith is the nextContent of an update: p, whatever there was.
func replaceWith(p *fhir.Parsed) nextContent {
	return func(*fhir.Resource) (*fhir.Parsed, error) { return p, nil }
}

// save writes the content next makes as the next version of typ/id and
// returns what is current afterwards with the status to answer (201 when
// it created the resource, else 200). want > 0 is If-Match: a
// compare-and-swap on that version (412 when stale); with want 0 a write
// that lost a race is made again from the newest version. Content equal to
// the current version's writes nothing and returns that version.
func (s *Server) save(c echo.Context, typ, id string, want int64, method string, next nextContent) (*fhir.Resource, int, error) {
	ctx := c.Request().Context()
	for attempt := 1; ; attempt++ {
		prev, err := s.store.Read(ctx, typ, id)
		if errors.Is(err, storage.ErrNotFound) {
			prev, err = nil, nil
		}
		if err != nil {
			return nil, 0, err
		}
		if err := checkPrecondition(want, prev, typ, id); err != nil {
			return nil, 0, err
		}
		if prev != nil && !prev.Deleted {
			if err := refuseChange(typ, "update"); err != nil {
				return nil, 0, err
			}
		}
		p, err := next(prev)
		if err != nil {
			return nil, 0, err
		}
		live := prev != nil && !prev.Deleted
		if live {
			if same, err := s.unchanged(p, prev); err != nil || same {
				return prev, http.StatusOK, err
			}
		}
		w, err := s.prepare(c, p, prev, method)
		if err != nil {
			return nil, 0, err
		}
		err = s.commit(c, w, prev)
		if errors.Is(err, storage.ErrVersionConflict) && want == 0 && attempt < maxWriteAttempts {
			continue
		}
		if err != nil {
			return nil, 0, versionConflict(err, want, typ, id)
		}
		if live {
			return &w.Resource, http.StatusOK, nil
		}
		return &w.Resource, http.StatusCreated, nil
	}
}

// checkPrecondition enforces If-Match (want > 0) against the current version.
func checkPrecondition(want int64, cur *fhir.Resource, typ, id string) error {
	if want == 0 {
		return nil
	}
	if cur == nil {
		return fhir.Errorf(http.StatusPreconditionFailed, fhir.CodeConflict,
			"If-Match names version %d but %s/%s does not exist", want, typ, id)
	}
	if cur.Version != want {
		return fhir.Errorf(http.StatusPreconditionFailed, fhir.CodeConflict,
			"If-Match names version %d but %s/%s is at version %d", want, typ, id, cur.Version)
	}
	return nil
}

// versionConflict translates a lost compare-and-swap: 412 when the client
// named a version, 409 when retries were exhausted.
func versionConflict(err error, want int64, typ, id string) error {
	if !errors.Is(err, storage.ErrVersionConflict) {
		return err
	}
	if want > 0 {
		return fhir.Errorf(http.StatusPreconditionFailed, fhir.CodeConflict,
			"%s/%s changed after version %d (If-Match)", typ, id, want)
	}
	return fhir.Errorf(http.StatusConflict, fhir.CodeConflict,
		"%s/%s is being changed by other writers; try again", typ, id)
}

// unchanged reports whether p has the same content as cur: p serialized
// with cur's meta stamps is byte-identical to cur.
func (s *Server) unchanged(p *fhir.Parsed, cur *fhir.Resource) (bool, error) {
	p.SetMeta(cur.Version, cur.LastUpdated)
	b, err := s.codec.Marshal(p)
	if err != nil {
		return false, err
	}
	return bytes.Equal(b, cur.JSON), nil
}
