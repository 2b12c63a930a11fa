// Package ingest stores device readings as FHIR resources. A message goes
// through its mapping (mappers/…) into readings; the service resolves each
// reading's Device and Patient (creating them on first sight when the
// mapping allows), turns it into an Observation with a deterministic id and
// writes what changed in one batch. Re-sending a message changes nothing;
// a message that cannot be stored goes, whole and as sent, to the
// dead-letter collection with the reason, from where it can be replayed.
// Each Observation version written gets a Provenance naming the Device
// and the messages as received (a Binary); each request leaves an
// AuditEvent, committed with its writes. Ingest returns only when
// everything it reports is durable.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"github.com/medbridge/medbridge/audit"
	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/mappers"
	"github.com/medbridge/medbridge/storage"
)

// Mapping is a named way of reading device messages.
type Mapping struct {
	Name   string
	Mapper mappers.Mapper
	// Lookup makes patient identity resolution look up only: a reading of
	// a patient medbridge does not know is dead-lettered. Otherwise (the
	// default, iomt-fhir's "Create") the Patient is created on first sight.
	Lookup bool
	// Trusted says the mapping builds every reading from typed values into
	// one shape per reading type, so that validating one reading of each
	// type proves them all (see doc.go).
	Trusted bool
	// Description is what GET /ingest/mappings shows of the mapping.
	Description any
}

// Config is what a Service needs.
type Config struct {
	Store    storage.Store
	Spec     *conformance.Spec
	Codec    *fhir.Codec
	Mappings []*Mapping
	// BaseURL is the FHIR base; references in indexes resolve against it.
	BaseURL string
	Logger  *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Service ingests device messages.
type Service struct {
	store     storage.Store
	spec      *conformance.Spec
	codec     *fhir.Codec
	extractor *storage.Extractor
	mappings  map[string]*Mapping
	names     []string
	baseURL   string
	log       *slog.Logger
	now       func() time.Time
	known     known
	shapes    shapes
}

// New builds a Service. Mapping names must be unique and valid URL path
// segments.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Spec == nil || cfg.Codec == nil {
		return nil, errors.New("ingest: Store, Spec and Codec are required")
	}
	x, err := storage.NewExtractor(cfg.Spec)
	if err != nil {
		return nil, err
	}
	s := &Service{
		store: cfg.Store, spec: cfg.Spec, codec: cfg.Codec,
		extractor: x.WithBase(cfg.BaseURL),
		mappings:  map[string]*Mapping{},
		baseURL:   cfg.BaseURL,
		log:       cfg.Logger, now: cfg.Now,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	for _, m := range cfg.Mappings {
		if !fhir.ValidID(m.Name) {
			return nil, fmt.Errorf("ingest: mapping name %q: use letters, digits, '-' and '.' only", m.Name)
		}
		if _, dup := s.mappings[m.Name]; dup {
			return nil, fmt.Errorf("ingest: two mappings are named %q", m.Name)
		}
		s.mappings[m.Name] = m
		s.names = append(s.names, m.Name)
	}
	sort.Strings(s.names)
	return s, nil
}

// Mappings returns the mappings by name order.
func (s *Service) Mappings() []*Mapping {
	out := make([]*Mapping, len(s.names))
	for i, n := range s.names {
		out[i] = s.mappings[n]
	}
	return out
}

// Mapping returns the named mapping, or a 404 fhir.Error.
func (s *Service) Mapping(name string) (*Mapping, error) {
	m, ok := s.mappings[name]
	if !ok {
		return nil, fhir.Errorf(http.StatusNotFound, fhir.CodeNotFound, "there is no mapping named %q (GET /ingest/mappings lists them)", name)
	}
	return m, nil
}

// Result is the outcome of an ingest request.
type Result struct {
	Mapping  string `json:"mapping"`
	Messages int    `json:"messages"`
	Readings int    `json:"readings"`
	// Created, Updated and Unchanged count Observations by what storing
	// the readings did to them; Rejected counts messages.
	Created    int         `json:"created"`
	Updated    int         `json:"updated"`
	Unchanged  int         `json:"unchanged"`
	Rejected   int         `json:"rejected"`
	Rejections []Rejection `json:"rejections,omitempty"`
}

// Rejection says why one message was dead-lettered.
type Rejection struct {
	// Message is the message's position in the request (from 0).
	Message    int    `json:"message"`
	Reason     string `json:"reason"`
	Expression string `json:"expression,omitempty"`
	// DeadLetter is the id under /ingest/errors.
	DeadLetter string `json:"deadLetter"`
}

// Ingest maps and stores messages sent to mapping. Messages that cannot be
// stored are dead-lettered and reported in the Result; an error means the
// store failed and nothing that Ingest did not report as stored can be
// counted on (re-sending is safe).
//
// ev is the request's audit record as the caller knows it (Type, Who,
// Start, Source, an entity naming the request); Ingest completes it (see
// record.go) and commits it with the readings: when it cannot be written,
// Ingest fails. nil means the request is not audited.
func (s *Service) Ingest(ctx context.Context, mapping string, messages [][]byte, ev *audit.Event) (*Result, error) {
	m, err := s.Mapping(mapping)
	if err != nil {
		return nil, err
	}
	res := &Result{Mapping: mapping, Messages: len(messages)}
	b := newBatch(s, m, res, messages)
	for i, msg := range messages {
		b.add(ctx, i, msg)
	}
	if b.err != nil {
		return nil, b.err
	}
	// Dead letters first, so that the record that says so is true.
	for _, rj := range b.rejected {
		if err := s.deadLetter(ctx, mapping, messages[rj.msg], rj.err); err != nil {
			return nil, err
		}
		r := Rejection{Message: rj.msg, Reason: reason(rj.err), Expression: expression(rj.err), DeadLetter: deadLetterID(mapping, messages[rj.msg])}
		res.Rejections = append(res.Rejections, r)
	}
	res.Rejected = len(res.Rejections)
	sort.Slice(res.Rejections, func(i, j int) bool { return res.Rejections[i].Message < res.Rejections[j].Message })
	if err := b.store(ctx, ev); err != nil {
		return nil, err
	}
	return res, nil
}

// Handle ingests one message; it is the MQTT subscriber's handler: nil
// when the message is stored or dead-lettered (durably either way), with
// its audit record. The record names the subscriber's MQTT session as
// the client when ctx carries it (mqtt.OriginOf).
func (s *Service) Handle(ctx context.Context, mapping string, payload []byte) error {
	ev := s.mqttEvent(ctx)
	if _, err := s.Mapping(mapping); err != nil {
		// A message for no mapping is kept too: the operator may add it.
		if err := s.deadLetter(ctx, mapping, payload, err); err != nil {
			return err
		}
		ev.Action, ev.End, ev.Outcome = audit.Create, s.now(), audit.MinorFailure
		ev.Description = fmt.Sprintf("there is no mapping %q: the message was dead-lettered", mapping)
		w, err := s.auditWrite(ev)
		if err != nil {
			return err
		}
		return s.store.Write(ctx, w)
	}
	_, err := s.Ingest(ctx, mapping, [][]byte{payload}, ev)
	return err
}

// reason is an error's text for a dead letter: a fhir.Error's
// diagnostics, else the text.
func reason(err error) string {
	var fe *fhir.Error
	if errors.As(err, &fe) && len(fe.Issues) > 0 {
		return fe.Issues[0].Diagnostics
	}
	return err.Error()
}

// expression is the FHIRPath or template location an error names, if any.
func expression(err error) string {
	var fe *fhir.Error
	if errors.As(err, &fe) && len(fe.Issues) > 0 && len(fe.Issues[0].Expression) > 0 {
		return fe.Issues[0].Expression[0]
	}
	return ""
}

// decode reads a stored resource's JSON into a map.
func decode(r *fhir.Resource) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(r.JSON, &m); err != nil {
		return nil, fmt.Errorf("ingest: stored %s/%s: %w", r.Type, r.ID, err)
	}
	return m, nil
}
