package ingest

import (
	"context"
	"errors"
	"net/http"

	"github.com/medbridge/medbridge/audit"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/mappers"
	"github.com/medbridge/medbridge/storage"
)

// deadLetterID names a rejected message: the same message sent to the same
// mapping again is the same dead letter (its attempts count up), not a
// second one.
func deadLetterID(mapping string, payload []byte) string {
	return mappers.ID(mapping + "\x00" + string(payload))
}

// deadLetter stores a rejected message durably with the reason.
func (s *Service) deadLetter(ctx context.Context, mapping string, payload []byte, cause error) error {
	d := storage.DeadLetter{
		ID: deadLetterID(mapping, payload), Mapping: mapping, Received: s.now().UTC(),
		Payload: payload, Reason: reason(cause), Expression: expression(cause), Attempts: 1,
	}
	prev, err := s.store.ReadDeadLetter(ctx, d.ID)
	switch {
	case err == nil:
		d.Attempts = prev.Attempts + 1
	case !errors.Is(err, storage.ErrNotFound):
		return err
	}
	s.log.Warn("device message dead-lettered", "mapping", mapping, "deadLetter", d.ID, "reason", d.Reason)
	return s.store.PutDeadLetter(ctx, d)
}

// DeadLetters lists dead letters newest first.
func (s *Service) DeadLetters(ctx context.Context, q storage.DeadLetterQuery) (storage.DeadLetterPage, error) {
	return s.store.DeadLetters(ctx, q)
}

// DeadLetter returns one dead letter, or a 404 fhir.Error.
func (s *Service) DeadLetter(ctx context.Context, id string) (*storage.DeadLetter, error) {
	d, err := s.store.ReadDeadLetter(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fhir.Errorf(http.StatusNotFound, fhir.CodeNotFound, "there is no dead letter %q (it may have been replayed)", id)
	}
	return d, err
}

// Replay ingests a dead letter's message again, with the mapping as it is
// now. When the message is stored the dead letter is removed; when it is
// rejected again the dead letter stays, with the new reason and one more
// attempt, and the Result says why. ev is the replay's audit record, as
// for Ingest.
func (s *Service) Replay(ctx context.Context, id string, ev *audit.Event) (*Result, error) {
	d, err := s.DeadLetter(ctx, id)
	if err != nil {
		return nil, err
	}
	if _, err := s.Mapping(d.Mapping); err != nil {
		return nil, err
	}
	res, err := s.Ingest(ctx, d.Mapping, [][]byte{d.Payload}, ev)
	if err != nil || res.Rejected > 0 {
		return res, err
	}
	if err := s.store.DeleteDeadLetter(ctx, id); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	return res, nil
}

// Discard removes a dead letter without replaying it.
func (s *Service) Discard(ctx context.Context, id string) error {
	err := s.store.DeleteDeadLetter(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return fhir.Errorf(http.StatusNotFound, fhir.CodeNotFound, "there is no dead letter %q", id)
	}
	return err
}
