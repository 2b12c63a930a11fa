package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/medbridge/medbridge/audit"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// Repairs after lost races. The batch writes each Observation, Binary and
// Provenance with a compare-and-swap; when another writer got there first
// (two requests with the same messages, a REST write in between), the
// Observation is settled and written again (retry in batch.go), and the
// Binaries and Provenances are made to say what was finally written.

// settleSources repairs the Binaries and Provenances of srcs after the
// batch (ws, with outcomes errs): a Binary another request wrote first
// is there; a Provenance whose write lost a race, or whose Observations
// were written again (retried), is made to name the versions finally
// written.
func (s *Service) settleSources(ctx context.Context, srcs []*source, ws []storage.Write, errs []error, retried map[*obsState]bool, who *audit.Who) error {
	outcome := make(map[string]error, len(ws))
	for i, w := range ws {
		outcome[w.Resource.Type+"/"+w.Resource.ID] = errs[i]
	}
	for _, src := range srcs {
		err := outcome["Binary/"+src.binary.ID]
		switch {
		case errors.Is(err, storage.ErrVersionConflict):
			if err := s.ensureBinary(ctx, src); err != nil {
				return err
			}
		case err != nil:
			return err
		}
		for _, p := range src.provs {
			err, wrote := outcome["Provenance/"+p.id]
			if err != nil && !errors.Is(err, storage.ErrVersionConflict) {
				return err
			}
			dirty := err != nil || slices.ContainsFunc(p.obs, func(st *obsState) bool { return retried[st] })
			if !dirty {
				continue
			}
			if err := s.ensureProvenance(ctx, p, wrote && err == nil, who); err != nil {
				return err
			}
		}
	}
	return nil
}

// ensureBinary writes src's Binary unless it is stored (another request
// wrote the same messages).
func (s *Service) ensureBinary(ctx context.Context, src *source) error {
	for attempt := 1; ; attempt++ {
		cur, err := s.store.Read(ctx, "Binary", src.binary.ID)
		switch {
		case err == nil && !cur.Deleted:
			return nil
		case errors.Is(err, storage.ErrNotFound):
			cur = nil
		case err != nil:
			return err
		}
		r := *src.binary
		var expected int64
		if cur != nil {
			expected = cur.Version
			r = *s.binaryVersion(src, cur)
		}
		w, err := s.indexed(&r, expected)
		if err != nil {
			return err
		}
		err = s.store.Write(ctx, w)
		if !errors.Is(err, storage.ErrVersionConflict) || attempt == maxWriteAttempts {
			return err
		}
	}
}

// binaryVersion is src's Binary as the version after prev (deleted).
func (s *Service) binaryVersion(src *source, prev *fhir.Resource) *fhir.Resource {
	var d binaryJSON
	_ = json.Unmarshal(src.binary.JSON, &d) // built by binary: always reads
	t := fhir.NextLastUpdated(s.now(), prev.LastUpdated)
	d.Meta = metaJSON{VersionID: strconv.FormatInt(prev.Version+1, 10), LastUpdated: t.UTC().Format(fhir.InstantFormat)}
	b, _ := json.Marshal(d)
	return &fhir.Resource{Type: "Binary", ID: d.ID, Version: prev.Version + 1, LastUpdated: t, Method: http.MethodPut, JSON: b}
}

// ensureProvenance makes the stored Provenance p name the Observation
// versions this request finally wrote, after writes of the batch lost
// races: a new version when they differ, a deletion of the version the
// batch wrote when none is left.
func (s *Service) ensureProvenance(ctx context.Context, p *provenance, batchWrote bool, who *audit.Who) error {
	targets := p.targets()
	for attempt := 1; ; attempt++ {
		cur, err := s.store.Read(ctx, "Provenance", p.id)
		if errors.Is(err, storage.ErrNotFound) {
			cur, err = nil, nil
		}
		if err != nil {
			return err
		}
		var w storage.Write
		switch {
		case len(targets) == 0:
			// Only the version this batch wrote is withdrawn: an earlier
			// one describes an earlier request.
			if !batchWrote || cur == nil || cur.Deleted || cur.Version != p.written.Version {
				return nil
			}
			t := fhir.NextLastUpdated(s.now(), cur.LastUpdated)
			w = storage.Write{Expected: cur.Version, Resource: fhir.Resource{
				Type: "Provenance", ID: p.id, Version: cur.Version + 1, LastUpdated: t, Deleted: true, Method: http.MethodDelete,
			}}
		default:
			next, err := s.buildProvenance(p, targets, who, cur)
			if err != nil || next == nil {
				return err
			}
			var expected int64
			if cur != nil {
				expected = cur.Version
			}
			if w, err = s.indexed(next, expected); err != nil {
				return err
			}
		}
		err = s.store.Write(ctx, w)
		if !errors.Is(err, storage.ErrVersionConflict) || attempt == maxWriteAttempts {
			return err
		}
	}
}
