package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/medbridge/medbridge/audit"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/mappers"
	"github.com/medbridge/medbridge/storage"
)

// maxWriteAttempts bounds the retries of a write that lost a race with
// another writer of the same resource.
const maxWriteAttempts = 16

// batch is one Ingest call in progress.
type batch struct {
	s   *Service
	m   *Mapping
	res *Result
	ids *identities
	// obs holds the Observations to store by id, in order of first sight.
	obs   map[string]*obsState
	order []string
	// rejected lists the messages that go to the dead-letter collection.
	rejected []rejection
	// err is the first store failure; once set, nothing more is done.
	err error
	// messages are the request's messages as received.
	messages [][]byte
}

type rejection struct {
	msg int
	err error
}

// reading is one validated reading of an accepted message.
type reading struct {
	typ   string
	obs   map[string]any
	doc   doc
	merge mappers.Merger
	// msg is the message's position in the request; device and patient
	// are the resolved references ("Device/…", "Patient/…").
	msg             int
	device, patient string
}

// obsState is what the batch does to one Observation: its readings in
// order, and, once settled against the stored version, the counts and the
// version to write.
type obsState struct {
	id                          string
	mapping                     *Mapping
	readings                    []*reading
	created, updated, unchanged int
	next                        *fhir.Resource // nil when nothing changed
	expected                    int64
}

func newBatch(s *Service, m *Mapping, res *Result, messages [][]byte) *batch {
	return &batch{s: s, m: m, res: res, ids: s.identities(m), obs: map[string]*obsState{}, messages: messages}
}

// add maps one message and resolves its readings' identities. A message
// that fails is rejected whole: none of its readings is stored.
func (b *batch) add(ctx context.Context, msg int, payload []byte) {
	if b.err != nil {
		return
	}
	if !json.Valid(payload) {
		b.rejected = append(b.rejected, rejection{msg, errors.New("the message is not valid JSON")})
		return
	}
	found, err := b.m.Mapper.Map(payload)
	if err != nil {
		b.rejected = append(b.rejected, rejection{msg, err})
		return
	}
	prepared := make([]*reading, 0, len(found))
	for i := range found {
		rd, err := b.prepare(ctx, msg, &found[i])
		if err != nil {
			var fe *fhir.Error
			if !errors.As(err, &fe) {
				b.err = err
				return
			}
			b.rejected = append(b.rejected, rejection{msg, err})
			return
		}
		prepared = append(prepared, rd)
	}
	b.res.Readings += len(prepared)
	for _, rd := range prepared {
		id := rd.obs["id"].(string)
		st := b.obs[id]
		if st == nil {
			st = &obsState{id: id, mapping: b.m}
			b.obs[id] = st
			b.order = append(b.order, id)
		}
		st.readings = append(st.readings, rd)
	}
}

// prepare resolves r's identities and builds and validates its
// Observation. Errors that reject the message are *fhir.Error.
func (b *batch) prepare(ctx context.Context, msg int, r *mappers.Reading) (*reading, error) {
	var res mappers.Resolved
	var err error
	if res.Patient, err = b.ids.patient(ctx, r.Patient); err != nil {
		return nil, err
	}
	if res.Device, err = b.ids.device(ctx, r.Device, res.Patient); err != nil {
		return nil, err
	}
	for _, g := range r.Gateways {
		if _, err := b.ids.device(ctx, g, ""); err != nil {
			return nil, err
		}
	}
	if r.Encounter.Value != "" {
		if res.Encounter, err = b.ids.lookup(ctx, "Encounter", r.Encounter); err != nil {
			return nil, err
		}
	}
	obs := mappers.Finish(r, res)
	d, err := b.s.newDoc(b.m, r.Type, obs)
	if err != nil {
		return nil, err
	}
	return &reading{typ: r.Type, obs: obs, doc: d, merge: r.Merge, msg: msg, device: res.Device, patient: res.Patient}, nil
}

// store settles every Observation against its stored version and writes
// those that changed, the Binaries and Provenances of their messages and
// the request's AuditEvent (ev, when not nil) in one batch. Writes of
// Observations that lost a race are settled and written again one by
// one, and the Provenances naming them corrected.
func (b *batch) store(ctx context.Context, ev *audit.Event) error {
	if b.err != nil {
		return b.err
	}
	var writes []storage.Write
	var written []*obsState
	if len(b.order) > 0 {
		refs := make([]storage.Ref, len(b.order))
		for i, id := range b.order {
			refs[i] = storage.Ref{Type: "Observation", ID: id}
		}
		current, err := b.s.store.ReadCurrent(ctx, refs)
		if err != nil {
			return err
		}
		byID := make(map[string]*fhir.Resource, len(current))
		for i := range current {
			byID[current[i].ID] = &current[i]
		}
		for _, id := range b.order {
			st := b.obs[id]
			// ReadCurrent leaves deleted ones out; a Write expecting version 0
			// then conflicts and the retry below reads the deletion.
			if err := b.s.settle(st, byID[id]); err != nil {
				return err
			}
			if st.next == nil {
				continue
			}
			w, err := b.s.write(st)
			if err != nil {
				return err
			}
			writes = append(writes, w)
			written = append(written, st)
		}
	}
	var who *audit.Who
	if ev != nil {
		who = &ev.Who
	}
	srcs := b.sources(written)
	pws, err := b.s.provenanceWrites(ctx, srcs, who)
	if err != nil {
		return err
	}
	nObs := len(writes)
	writes = append(writes, pws...)
	if ev != nil {
		aw, err := b.s.auditWrite(b.complete(ev, pws))
		if err != nil {
			return err
		}
		writes = append(writes, aw)
	}
	var errs []error
	if len(writes) > 0 {
		errs = b.s.store.WriteBatch(ctx, writes)
	}
	if ev != nil {
		if err := errs[len(errs)-1]; err != nil {
			return fmt.Errorf("ingest: the audit record of the batch could not be written: %w", err)
		}
	}
	retried := map[*obsState]bool{}
	for i, err := range errs[:nObs] {
		switch {
		case errors.Is(err, storage.ErrVersionConflict):
			if err := b.s.retry(ctx, written[i]); err != nil {
				return err
			}
			retried[written[i]] = true
		case err != nil:
			return err
		}
	}
	if err := b.s.settleSources(ctx, srcs, pws, errs[nObs:nObs+len(pws)], retried, who); err != nil {
		return err
	}
	for _, id := range b.order {
		st := b.obs[id]
		b.res.Created += st.created
		b.res.Updated += st.updated
		b.res.Unchanged += st.unchanged
	}
	return nil
}

// retry settles st against the newest stored version and writes it, until
// no other writer interferes.
func (s *Service) retry(ctx context.Context, st *obsState) error {
	for attempt := 1; ; attempt++ {
		cur, err := s.store.Read(ctx, "Observation", st.id)
		if errors.Is(err, storage.ErrNotFound) {
			cur, err = nil, nil
		}
		if err != nil {
			return err
		}
		if err := s.settle(st, cur); err != nil || st.next == nil {
			return err
		}
		w, err := s.write(st)
		if err != nil {
			return err
		}
		err = s.store.Write(ctx, w)
		if !errors.Is(err, storage.ErrVersionConflict) || attempt == maxWriteAttempts {
			return err
		}
	}
}

// settle applies st's readings in order to stored (nil or a deletion: no
// Observation) and sets st's counts and next version.
func (s *Service) settle(st *obsState, stored *fhir.Resource) error {
	st.created, st.updated, st.unchanged, st.next = 0, 0, 0, nil
	cur := stored
	if cur != nil && cur.Deleted {
		cur = nil
	}
	st.expected = 0
	if stored != nil {
		st.expected = stored.Version
	}
	version := st.expected + 1
	var prevTime time.Time
	if stored != nil {
		prevTime = stored.LastUpdated
	}
	for _, rd := range st.readings {
		d := rd.doc
		switch {
		case cur == nil:
			st.created++
		case rd.merge != nil:
			old, err := decode(cur)
			if err != nil {
				return err
			}
			merged, changed, err := rd.merge(old, rd.obs)
			if err != nil {
				return fhir.Errorf(http.StatusUnprocessableEntity, fhir.CodeProcessing, "merging a reading into Observation/%s: %v", st.id, err)
			}
			if !changed {
				st.unchanged++
				continue
			}
			if d, err = s.newDoc(st.mapping, rd.typ, merged); err != nil {
				return err
			}
			st.updated++
		default:
			same, err := same(d, cur)
			if err != nil {
				return err
			}
			if same {
				st.unchanged++
				continue
			}
			st.updated++
		}
		next, err := s.stamp(d, "Observation", st.id, version, prevTime)
		if err != nil {
			return err
		}
		cur, st.next = next, next
	}
	return nil
}

// write is the storage write of st's next version.
func (s *Service) write(st *obsState) (storage.Write, error) {
	idx, err := s.extractor.Extract(st.next.Type, st.next.JSON)
	if err != nil {
		return storage.Write{}, err
	}
	return storage.Write{Resource: *st.next, Expected: st.expected, Index: idx}, nil
}

// parse validates a resource built as a map and returns it parsed.
func (s *Service) parse(m map[string]any) (*fhir.Parsed, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	return s.codec.Parse(body)
}

// same reports whether d has cur's content: d serialized with cur's meta
// stamps is byte-identical to cur.
func same(d doc, cur *fhir.Resource) (bool, error) {
	b, err := d.encode(cur.Version, cur.LastUpdated)
	if err != nil {
		return false, err
	}
	return bytes.Equal(b, cur.JSON), nil
}

// stamp makes d version v of typ/id, last updated now (and after prev),
// serialized.
func (s *Service) stamp(d doc, typ, id string, v int64, prev time.Time) (*fhir.Resource, error) {
	t := fhir.NextLastUpdated(s.now(), prev)
	b, err := d.encode(v, t)
	if err != nil {
		return nil, err
	}
	return &fhir.Resource{Type: typ, ID: id, Version: v, LastUpdated: t, Method: http.MethodPut, JSON: b}, nil
}
