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
	ctx := c.Request().Context()
	for attempt := 1; ; attempt++ {
		prev, err := s.store.Read(ctx, typ, id)
		if errors.Is(err, storage.ErrNotFound) {
			prev, err = nil, nil
		}
		if err != nil {
			return err
		}
		if err := checkPrecondition(want, prev, typ, id); err != nil {
			return err
		}
		if prev != nil && !prev.Deleted {
			if same, err := s.unchanged(p, prev); err != nil || same {
				if err != nil {
					return err
				}
				return s.writeWritten(c, http.StatusOK, prev)
			}
		}
		r, err := s.newVersion(p, prev, http.MethodPut)
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
		w := storage.Write{Resource: *r, Index: idx}
		if prev != nil {
			w.Expected = prev.Version
		}
		err = s.store.Write(ctx, w)
		if errors.Is(err, storage.ErrVersionConflict) && want == 0 && attempt < maxWriteAttempts {
			continue
		}
		if err != nil {
			return versionConflict(err, want, typ, id)
		}
		status := http.StatusOK
		if prev == nil || prev.Deleted {
			status = http.StatusCreated
		}
		return s.writeWritten(c, status, r)
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
