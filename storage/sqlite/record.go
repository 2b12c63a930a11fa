package sqlite

import (
	"context"
	"errors"

	"github.com/medbridge/medbridge/storage"
)

var errRecordsTODO = errors.New("sqlite: records are not implemented yet")

// PutRecord: see storage.Store. (stub, being implemented)
func (s *Store) PutRecord(ctx context.Context, r storage.Record, expected int64) error {
	return errRecordsTODO
}

// GetRecord: see storage.Store. (stub, being implemented)
func (s *Store) GetRecord(ctx context.Context, kind, id string) (*storage.Record, error) {
	return nil, errRecordsTODO
}

// DeleteRecord: see storage.Store. (stub, being implemented)
func (s *Store) DeleteRecord(ctx context.Context, kind, id string) error { return errRecordsTODO }

// ListRecords: see storage.Store. (stub, being implemented)
func (s *Store) ListRecords(ctx context.Context, kind string) ([]storage.Record, error) {
	return nil, errRecordsTODO
}
