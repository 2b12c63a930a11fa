package sqlite

import (
	"context"
	"errors"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

// LastN: see storage.Store. (stub, being implemented)
func (s *Store) LastN(ctx context.Context, q *search.Query, max int) ([]fhir.Resource, error) {
	return nil, errors.New("sqlite: LastN not implemented yet")
}

// Stats: see storage.Store. (stub, being implemented)
func (s *Store) Stats(ctx context.Context, q *search.Query, param string, quantiles []float64) ([]storage.Stats, error) {
	return nil, errors.New("sqlite: Stats not implemented yet")
}
