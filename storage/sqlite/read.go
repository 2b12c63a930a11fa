package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// Read returns the current version of typ/id, the deletion version when it
// was deleted, or ErrNotFound when typ/id never existed.
func (s *Store) Read(ctx context.Context, typ, id string) (*fhir.Resource, error) {
	r := &fhir.Resource{Type: typ, ID: id}
	var lastUpdated int64
	err := s.stmts.readCurrent.QueryRowContext(ctx, typ, id).
		Scan(&r.Version, &lastUpdated, &r.Deleted, &r.Method, &r.JSON)
	if err != nil {
		return nil, readError(typ, id, 0, err)
	}
	r.LastUpdated = fromMicros(lastUpdated)
	return r, nil
}

// ReadVersion returns version v of typ/id, or ErrNotFound.
func (s *Store) ReadVersion(ctx context.Context, typ, id string, v int64) (*fhir.Resource, error) {
	r := &fhir.Resource{Type: typ, ID: id, Version: v}
	var lastUpdated int64
	err := s.stmts.readVersion.QueryRowContext(ctx, typ, id, v).
		Scan(&lastUpdated, &r.Deleted, &r.Method, &r.JSON)
	if err != nil {
		return nil, readError(typ, id, v, err)
	}
	r.LastUpdated = fromMicros(lastUpdated)
	return r, nil
}

// readError wraps a read's error, turning no rows into ErrNotFound.
func readError(typ, id string, v int64, err error) error {
	what := typ + "/" + id
	if v != 0 {
		what = fmt.Sprintf("%s/_history/%d", what, v)
	}
	if errors.Is(err, sql.ErrNoRows) {
		err = storage.ErrNotFound
	}
	return fmt.Errorf("sqlite: read %s: %w", what, err)
}

// fromMicros is the UTC instant of a stored microsecond timestamp.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
