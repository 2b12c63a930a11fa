package ingest

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"sync"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/mappers"
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

// Identity resolution. A reading names its patient and device by
// identifier. Each is looked up by identifier first (a Patient the EHR
// registered is used as it is); a Device not found is created, and so is a
// Patient unless the mapping only looks up. Created resources get the id
// mappers.IdentifierID of their identifier, so two readings racing to
// create the same Device create one: the loser's compare-and-swap fails and
// it reads the winner's. A Device follows its latest patient (loaned
// devices move): its patient link is updated when a reading names another.
//
// Resolved references are remembered by the service (knownMax entries),
// so steady-state ingest does no lookups. A resource deleted through the
// REST API after it was remembered is not noticed until restart.

// knownMax bounds the service's memory of resolved identities; when full
// it starts over.
const knownMax = 100_000

// known remembers resolved identities across batches.
type known struct {
	mu   sync.Mutex
	refs map[string]string
}

func (k *known) get(key string) (string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	ref, ok := k.refs[key]
	return ref, ok
}

func (k *known) put(key, ref string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.refs == nil || len(k.refs) >= knownMax {
		k.refs = map[string]string{}
	}
	k.refs[key] = ref
}

// identities resolves the identities of one batch's readings.
type identities struct {
	s *Service
	// lookupOnly: patients are not created.
	lookupOnly bool
}

func (s *Service) identities(m *Mapping) *identities {
	return &identities{s: s, lookupOnly: m.Lookup}
}

// patient returns the reference of the Patient with identifier id.
func (ids *identities) patient(ctx context.Context, id mappers.Identifier) (string, error) {
	if id.Value == "" {
		return "", fhir.Errorf(http.StatusUnprocessableEntity, fhir.CodeRequired, "the reading names no patient")
	}
	key := "Patient|" + id.System + "|" + id.Value
	if ref, ok := ids.s.known.get(key); ok {
		return ref, nil
	}
	ref, err := ids.find(ctx, "Patient", id)
	if err != nil || ref != "" {
		if ref != "" {
			ids.s.known.put(key, ref)
		}
		return ref, err
	}
	if ids.lookupOnly {
		return "", fhir.Errorf(http.StatusUnprocessableEntity, fhir.CodeNotFound,
			"no Patient has the identifier %s and the mapping only looks patients up (identity resolution Lookup)", describe(id))
	}
	ref, err = ids.s.ensure(ctx, "Patient", mappers.IdentifierID(id), func(cur map[string]any) (map[string]any, bool) {
		if cur != nil {
			return cur, false
		}
		return map[string]any{"resourceType": "Patient", "identifier": []any{identifier(id)}}, true
	})
	if err == nil {
		ids.s.known.put(key, ref)
	}
	return ref, err
}

// device returns the reference of the Device d, linked to patient (when
// not "").
func (ids *identities) device(ctx context.Context, d mappers.Device, patient string) (string, error) {
	if d.Identifier.Value == "" {
		return "", fhir.Errorf(http.StatusUnprocessableEntity, fhir.CodeRequired, "the reading names no device")
	}
	key := "Device|" + d.Identifier.System + "|" + d.Identifier.Value + "|" + patient
	if ref, ok := ids.s.known.get(key); ok {
		return ref, nil
	}
	id := mappers.IdentifierID(d.Identifier)
	ref, err := ids.find(ctx, "Device", d.Identifier)
	if err != nil {
		return "", err
	}
	if ref != "" {
		id = ref[len("Device/"):]
	}
	ref, err = ids.s.ensure(ctx, "Device", id, func(cur map[string]any) (map[string]any, bool) {
		if cur == nil {
			cur = newDevice(d)
		} else if patient == "" || linked(cur, patient) {
			return cur, false
		}
		if patient != "" {
			cur["patient"] = map[string]any{"reference": patient}
		}
		return cur, true
	})
	if err == nil {
		ids.s.known.put(key, ref)
	}
	return ref, err
}

// lookup returns the reference of the one resource of type typ with
// identifier id; it creates nothing.
func (ids *identities) lookup(ctx context.Context, typ string, id mappers.Identifier) (string, error) {
	key := typ + "|" + id.System + "|" + id.Value
	if ref, ok := ids.s.known.get(key); ok {
		return ref, nil
	}
	ref, err := ids.find(ctx, typ, id)
	if err == nil && ref == "" {
		err = fhir.Errorf(http.StatusUnprocessableEntity, fhir.CodeNotFound, "no %s has the identifier %s", typ, describe(id))
	}
	if err == nil {
		ids.s.known.put(key, ref)
	}
	return ref, err
}

// find searches typ by identifier: the reference of the one match, "" for
// none, a rejection when several match.
func (ids *identities) find(ctx context.Context, typ string, id mappers.Identifier) (string, error) {
	token := search.Escape(id.Value)
	if id.System != "" {
		token = search.Escape(id.System) + "|" + token
	}
	q, err := search.ParseQuery(ids.s.spec, []string{typ}, url.Values{"identifier": {token}, "_count": {"2"}}, search.Options{})
	if err != nil {
		return "", err
	}
	page, err := ids.s.store.Search(ctx, q)
	if err != nil {
		return "", err
	}
	switch len(page.Resources) {
	case 0:
		return "", nil
	case 1:
		return typ + "/" + page.Resources[0].ID, nil
	}
	return "", fhir.Errorf(http.StatusUnprocessableEntity, fhir.CodeMultipleMatches,
		"more than one %s has the identifier %s; medbridge cannot tell which the reading belongs to", typ, describe(id))
}

// ensure makes typ/id exist with the content change derives from its
// current content (nil when it does not exist or was deleted), writing a
// new version only when change reports a change, and returns its reference.
func (s *Service) ensure(ctx context.Context, typ, id string, change func(cur map[string]any) (map[string]any, bool)) (string, error) {
	ref := typ + "/" + id
	for attempt := 1; ; attempt++ {
		stored, err := s.store.Read(ctx, typ, id)
		if errors.Is(err, storage.ErrNotFound) {
			stored, err = nil, nil
		}
		if err != nil {
			return "", err
		}
		var cur map[string]any
		if stored != nil && !stored.Deleted {
			if cur, err = decode(stored); err != nil {
				return "", err
			}
		}
		next, changed := change(cur)
		if !changed {
			return ref, nil
		}
		next["id"] = id
		p, err := s.parse(next)
		if err != nil {
			return "", err
		}
		w := storage.Write{}
		var prev fhir.Resource
		if stored != nil {
			w.Expected, prev = stored.Version, *stored
		}
		r, err := s.stamp(parsedDoc{s.codec, p}, typ, id, w.Expected+1, prev.LastUpdated)
		if err != nil {
			return "", err
		}
		if w.Index, err = s.extractor.Extract(typ, r.JSON); err != nil {
			return "", err
		}
		w.Resource = *r
		err = s.store.Write(ctx, w)
		if errors.Is(err, storage.ErrVersionConflict) && attempt < maxWriteAttempts {
			continue
		}
		if err != nil {
			return "", err
		}
		return ref, nil
	}
}

// newDevice is the Device created on a device's first reading: the one the
// message carried, or one made of what the mapping knows.
func newDevice(d mappers.Device) map[string]any {
	if d.Resource != nil {
		m := maps.Clone(d.Resource)
		m["resourceType"] = "Device"
		return m
	}
	m := map[string]any{"resourceType": "Device", "identifier": []any{identifier(d.Identifier)}}
	if d.Type != nil {
		c := map[string]any{"code": d.Type.Code}
		if d.Type.System != "" {
			c["system"] = d.Type.System
		}
		if d.Type.Display != "" {
			c["display"] = d.Type.Display
		}
		m["type"] = map[string]any{"coding": []any{c}}
	}
	if d.Manufacturer != "" {
		m["manufacturer"] = d.Manufacturer
	}
	if d.Model != "" {
		m["modelNumber"] = d.Model
	}
	return m
}

// linked reports whether a Device's patient link is patient.
func linked(device map[string]any, patient string) bool {
	p, _ := device["patient"].(map[string]any)
	return p != nil && p["reference"] == patient
}

func identifier(id mappers.Identifier) map[string]any {
	m := map[string]any{"value": id.Value}
	if id.System != "" {
		m["system"] = id.System
	}
	return m
}

// describe writes an identifier for messages: system|value, or the value
// alone (any system).
func describe(id mappers.Identifier) string {
	if id.System == "" {
		return id.Value + " (any system)"
	}
	return id.System + "|" + id.Value
}
