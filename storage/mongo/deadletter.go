package mongo

import (
	"context"
	"errors"

	"github.com/medbridge/medbridge/storage"
)

var errTODO = errors.New("mongo: not implemented yet")

// WriteBatch: see storage.Store. (stub, being implemented)
func (s *Store) WriteBatch(ctx context.Context, ws []storage.Write) []error {
	errs := make([]error, len(ws))
	for i, w := range ws {
		errs[i] = s.Write(ctx, w)
	}
	return errs
}

// PutDeadLetter: see storage.Store. (stub, being implemented)
func (s *Store) PutDeadLetter(ctx context.Context, d storage.DeadLetter) error { return errTODO }

// DeadLetters: see storage.Store. (stub, being implemented)
func (s *Store) DeadLetters(ctx context.Context, q storage.DeadLetterQuery) (storage.DeadLetterPage, error) {
	return storage.DeadLetterPage{}, errTODO
}

// ReadDeadLetter: see storage.Store. (stub, being implemented)
func (s *Store) ReadDeadLetter(ctx context.Context, id string) (*storage.DeadLetter, error) {
	return nil, errTODO
}

// DeleteDeadLetter: see storage.Store. (stub, being implemented)
func (s *Store) DeleteDeadLetter(ctx context.Context, id string) error { return errTODO }
