package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/medbridge/medbridge/storage"
)

// Records live in their own table (schema migration 5), one row per
// kind/id; expires is in microseconds, NULL when the record never expires.
// Like dead letters they are written straight on the writer connection,
// not through the writer goroutine: the single connection serializes them
// with every other write, so each compare-and-swap is one conditional
// statement that nothing can interleave with.
//
// A record is expired from its Expires instant on, by the clock of this
// process. Expired rows stay in the table, invisible, until a PutRecord of
// any kind purges up to purgeBatch of them, the longest expired first, in
// its transaction. Every row is put by a PutRecord, and each PutRecord
// removes up to purgeBatch expired rows, so the purge keeps pace with the
// puts that make the rows; its cost is bounded per PutRecord and it needs
// no background job.

// purgeBatch bounds the expired rows one PutRecord deletes.
const purgeBatch = 100

// purgeExpired deletes up to its second parameter of the rows expired at
// the instant of its first, reading records_expires.
const purgeExpired = `
	DELETE FROM records WHERE rowid IN (
		SELECT rowid FROM records WHERE expires <= ? ORDER BY expires LIMIT ?)`

// unexpired is the condition on a records row that it has not expired at
// the instant of its parameter.
const unexpired = "(expires IS NULL OR expires > ?)"

// PutRecord stores r with Version expected+1 when the stored, unexpired
// record has Version expected (0: none, or only an expired one), and
// returns storage.ErrVersionConflict otherwise; r.Version is ignored. See
// storage.Store.
func (s *Store) PutRecord(ctx context.Context, r storage.Record, expected int64) error {
	if r.Kind == "" || r.ID == "" {
		return errors.New("sqlite: put record: no kind or id")
	}
	if err := s.putRecord(ctx, r, expected); err != nil {
		return fmt.Errorf("sqlite: put record %s/%s at version %d: %w", r.Kind, r.ID, expected, err)
	}
	return nil
}

// putRecord is PutRecord's compare-and-swap, after the purge, in one
// transaction.
func (s *Store) putRecord(ctx context.Context, r storage.Record, expected int64) error {
	if expected < 0 {
		return storage.ErrVersionConflict
	}
	data := r.Data
	if data == nil {
		data = []byte{} // NOT NULL; nil would bind as NULL
	}
	var expires any // NULL: never
	if !r.Expires.IsZero() {
		expires = r.Expires.UnixMicro()
	}
	// The writer's transactions are IMMEDIATE (see dsn): the write lock is
	// taken here, so the clock is read after it.
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := time.Now().UnixMicro()
	if _, err := tx.ExecContext(ctx, purgeExpired, now, purgeBatch); err != nil {
		return fmt.Errorf("purge expired records: %w", err)
	}
	var res sql.Result
	if expected == 0 {
		// Inserts, or replaces an expired row; an unexpired one makes the
		// DO UPDATE's WHERE false, and nothing changes.
		res, err = tx.ExecContext(ctx, `
			INSERT INTO records (kind, id, data, expires, version) VALUES (?, ?, ?, ?, 1)
			ON CONFLICT (kind, id) DO UPDATE
				SET data = excluded.data, expires = excluded.expires, version = 1
				WHERE records.expires <= ?`,
			r.Kind, r.ID, data, expires, now)
	} else {
		res, err = tx.ExecContext(ctx, `
			UPDATE records SET data = ?, expires = ?, version = version + 1
			WHERE kind = ? AND id = ? AND version = ? AND `+unexpired,
			data, expires, r.Kind, r.ID, expected, now)
	}
	if err = oneRow(res, err); errors.Is(err, errNoRow) {
		return storage.ErrVersionConflict
	}
	if err != nil {
		return err
	}
	return tx.Commit()
}

// GetRecord returns the unexpired record kind/id, or storage.ErrNotFound.
func (s *Store) GetRecord(ctx context.Context, kind, id string) (*storage.Record, error) {
	row := s.reader.QueryRowContext(ctx, `
		SELECT data, expires, version FROM records WHERE kind = ? AND id = ? AND `+unexpired,
		kind, id, time.Now().UnixMicro())
	r := storage.Record{Kind: kind, ID: id}
	var expires sql.NullInt64
	err := row.Scan(&r.Data, &expires, &r.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: record %s/%s: %w", kind, id, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: record %s/%s: %w", kind, id, err)
	}
	r.Expires = fromExpires(expires)
	return &r, nil
}

// DeleteRecord removes the unexpired record kind/id, or returns
// storage.ErrNotFound when there is none. Deletes run one at a time on the
// writer connection, so of concurrent ones exactly one finds the row.
func (s *Store) DeleteRecord(ctx context.Context, kind, id string) error {
	res, err := s.writer.ExecContext(ctx,
		"DELETE FROM records WHERE kind = ? AND id = ? AND "+unexpired,
		kind, id, time.Now().UnixMicro())
	if err = oneRow(res, err); errors.Is(err, errNoRow) {
		err = storage.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("sqlite: delete record %s/%s: %w", kind, id, err)
	}
	return nil
}

// ListRecords returns the unexpired records of kind, by ID.
func (s *Store) ListRecords(ctx context.Context, kind string) ([]storage.Record, error) {
	rows, err := s.reader.QueryContext(ctx, `
		SELECT id, data, expires, version FROM records WHERE kind = ? AND `+unexpired+`
		ORDER BY id`,
		kind, time.Now().UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("sqlite: list records %s: %w", kind, err)
	}
	defer rows.Close()
	var out []storage.Record
	for rows.Next() {
		r := storage.Record{Kind: kind}
		var expires sql.NullInt64
		if err := rows.Scan(&r.ID, &r.Data, &expires, &r.Version); err != nil {
			return nil, fmt.Errorf("sqlite: list records %s: %w", kind, err)
		}
		r.Expires = fromExpires(expires)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list records %s: %w", kind, err)
	}
	return out, nil
}

// fromExpires is the Expires of a row's expires column.
func fromExpires(us sql.NullInt64) time.Time {
	if !us.Valid {
		return time.Time{}
	}
	return time.UnixMicro(us.Int64).UTC()
}
