package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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

// readChunk bounds the resources of one ReadCurrent query.
const readChunk = 500

// ReadCurrent returns the current, non-deleted versions of refs that
// exist, each once, reading up to readChunk of them per query through the
// (type, id) index.
func (s *Store) ReadCurrent(ctx context.Context, refs []storage.Ref) ([]fhir.Resource, error) {
	seen := make(map[storage.Ref]bool, len(refs))
	keys := make([]storage.Ref, 0, len(refs))
	for _, r := range refs {
		if r.Type != "" && r.ID != "" && !seen[r] {
			seen[r] = true
			keys = append(keys, r)
		}
	}
	var out []fhir.Resource
	for chunk := range slices.Chunk(keys, readChunk) {
		types, ids := make([]string, len(chunk)), make([]string, len(chunk))
		for i, r := range chunk {
			types[i], ids[i] = r.Type, r.ID
		}
		query := cat("SELECT type, id, version, last_updated, method, json FROM resources",
			" WHERE ", inPairs("type", "id", types, ids), " AND deleted = 0")
		rows, err := s.searches.query(ctx, s.reader, query)
		if err != nil {
			return nil, fmt.Errorf("sqlite: read current versions: %w", err)
		}
		for rows.Next() {
			var r fhir.Resource
			var lastUpdated int64
			if err := rows.Scan(&r.Type, &r.ID, &r.Version, &lastUpdated, &r.Method, &r.JSON); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: read current versions: %w", err)
			}
			r.LastUpdated = fromMicros(lastUpdated)
			out = append(out, r)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("sqlite: read current versions: %w", err)
		}
	}
	return out, nil
}
