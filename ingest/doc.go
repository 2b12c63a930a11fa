package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/medbridge/medbridge/fhir"
)

// How a resource built by a mapping is validated and serialized.
//
// Everything the REST API stores goes through google/fhir/go's validating
// parser and is serialized by its marshaller. That round trip costs about
// a quarter of a millisecond, more than everything else ingest does per
// reading. A trusted mapping (Mapping.Trusted) builds its Observations
// from typed values into one fixed shape per reading type (the templates
// and the built-in Open mHealth mapping do), so the service validates the
// first reading of each type of each mapping with the parser and encodes
// all of them with encoding/json (resourceType first, then the elements
// in name order): the shape is proven once, the values are numbers,
// strings and times the mapping produced. Mappings that pass through what
// a device sent (the PHD gateway Bundles) are parsed reading by reading.

// doc is a resource on its way to the store.
type doc interface {
	// encode serializes the resource as version v, last updated t.
	encode(v int64, t time.Time) ([]byte, error)
}

// parsedDoc is a resource parsed and validated by the FHIR codec.
type parsedDoc struct {
	codec *fhir.Codec
	p     *fhir.Parsed
}

func (d parsedDoc) encode(v int64, t time.Time) ([]byte, error) {
	d.p.SetMeta(v, t)
	return d.codec.Marshal(d.p)
}

// mapDoc is a resource of a trusted mapping, as built.
type mapDoc map[string]any

func (d mapDoc) encode(v int64, t time.Time) ([]byte, error) {
	m := maps.Clone(map[string]any(d))
	meta := map[string]any{}
	if old, ok := m["meta"].(map[string]any); ok {
		maps.Copy(meta, old)
	}
	meta["versionId"] = fmt.Sprint(v)
	meta["lastUpdated"] = t.UTC().Format(fhir.InstantFormat)
	m["meta"] = meta
	typ := m["resourceType"]
	delete(m, "resourceType")
	rest, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	head, err := json.Marshal(typ)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	var b bytes.Buffer
	b.Grow(len(rest) + len(head) + 20)
	b.WriteString(`{"resourceType":`)
	b.Write(head)
	if len(rest) > 2 {
		b.WriteByte(',')
		b.Write(rest[1:])
	} else {
		b.WriteByte('}')
	}
	return b.Bytes(), nil
}

// shapes remembers which reading types of which trusted mappings had a
// reading validated by the parser.
type shapes struct{ seen sync.Map }

// newDoc validates a resource a mapping built and returns it ready to
// encode: for a trusted mapping after the parser has accepted one reading
// of its type (key), for others always through the parser.
func (s *Service) newDoc(m *Mapping, key string, resource map[string]any) (doc, error) {
	if m.Trusted {
		if _, ok := s.shapes.seen.Load(m.Name + "\x00" + key); ok {
			return mapDoc(resource), nil
		}
	}
	p, err := s.parse(resource)
	if err != nil {
		return nil, err
	}
	if !m.Trusted {
		return parsedDoc{s.codec, p}, nil
	}
	s.shapes.seen.Store(m.Name+"\x00"+key, true)
	return mapDoc(resource), nil
}
