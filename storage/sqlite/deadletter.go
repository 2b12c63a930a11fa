package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/medbridge/medbridge/storage"
)

// Dead letters live in their own table (schema migration 4) and are written
// straight on the writer connection rather than through the writer
// goroutine: they are rare, touch no resource, and need no group commit.
// database/sql hands the one connection to them between the writer's
// transactions.

// PutDeadLetter stores d, replacing a dead letter with the same ID; see
// storage.Store.
func (s *Store) PutDeadLetter(ctx context.Context, d storage.DeadLetter) error {
	if d.ID == "" {
		return errors.New("sqlite: put dead letter: no id")
	}
	payload := d.Payload
	if payload == nil {
		payload = []byte{} // NOT NULL; nil would bind as NULL
	}
	_, err := s.writer.ExecContext(ctx, `
		INSERT INTO dead_letters (id, mapping, received, payload, reason, expression, attempts)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET mapping = excluded.mapping, received = excluded.received,
			payload = excluded.payload, reason = excluded.reason,
			expression = excluded.expression, attempts = excluded.attempts`,
		d.ID, d.Mapping, d.Received.UnixMicro(), payload, d.Reason, d.Expression, d.Attempts)
	if err != nil {
		return fmt.Errorf("sqlite: put dead letter %s: %w", d.ID, err)
	}
	return nil
}

const deadLetterColumns = "id, mapping, received, payload, reason, expression, attempts"

// DeadLetters lists dead letters newest first; see storage.Store. A cursor
// it did not make gives storage.ErrBadCursor.
func (s *Store) DeadLetters(ctx context.Context, q storage.DeadLetterQuery) (storage.DeadLetterPage, error) {
	if q.Count <= 0 {
		return storage.DeadLetterPage{}, fmt.Errorf("sqlite: dead letters: count %d, want > 0", q.Count)
	}
	query, args, err := deadLetterQuery(q)
	if err != nil {
		return storage.DeadLetterPage{}, fmt.Errorf("sqlite: dead letters: %w", err)
	}
	rows, err := s.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return storage.DeadLetterPage{}, fmt.Errorf("sqlite: dead letters: %w", err)
	}
	defer rows.Close()
	var page storage.DeadLetterPage
	for rows.Next() {
		if len(page.Letters) == q.Count {
			last := page.Letters[len(page.Letters)-1]
			page.Next = storage.EncodeDeadLetterCursor(last.Received.UnixMicro(), last.ID)
			break
		}
		d, err := scanDeadLetter(rows)
		if err != nil {
			return storage.DeadLetterPage{}, fmt.Errorf("sqlite: dead letters: %w", err)
		}
		page.Letters = append(page.Letters, *d)
	}
	if err := rows.Err(); err != nil {
		return storage.DeadLetterPage{}, fmt.Errorf("sqlite: dead letters: %w", err)
	}
	return page, nil
}

// deadLetterQuery is the statement listing a page of q, with one letter
// more than the page holds to tell whether there is a next page.
func deadLetterQuery(q storage.DeadLetterQuery) (string, []any, error) {
	var where []string
	var args []any
	if q.Mapping != "" {
		where = append(where, "mapping = ?")
		args = append(args, q.Mapping)
	}
	if q.After != "" {
		received, id, err := storage.DecodeDeadLetterCursor(q.After)
		if err != nil {
			return "", nil, err
		}
		// The first term bounds the index range; the second drops the
		// letters of the same instant up to the cursor's.
		where = append(where, "received <= ?", "(received < ? OR id > ?)")
		args = append(args, received, received, id)
	}
	query := "SELECT " + deadLetterColumns + " FROM dead_letters"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY received DESC, id LIMIT ?"
	return query, append(args, q.Count+1), nil
}

// ReadDeadLetter returns the dead letter id, or storage.ErrNotFound.
func (s *Store) ReadDeadLetter(ctx context.Context, id string) (*storage.DeadLetter, error) {
	row := s.reader.QueryRowContext(ctx, "SELECT "+deadLetterColumns+" FROM dead_letters WHERE id = ?", id)
	d, err := scanDeadLetter(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: dead letter %s: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: dead letter %s: %w", id, err)
	}
	return d, nil
}

// DeleteDeadLetter removes the dead letter id, or returns
// storage.ErrNotFound when there is none.
func (s *Store) DeleteDeadLetter(ctx context.Context, id string) error {
	res, err := s.writer.ExecContext(ctx, "DELETE FROM dead_letters WHERE id = ?", id)
	if err = oneRow(res, err); errors.Is(err, errNoRow) {
		err = storage.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("sqlite: delete dead letter %s: %w", id, err)
	}
	return nil
}

// scanDeadLetter reads one row of deadLetterColumns.
func scanDeadLetter(row interface{ Scan(...any) error }) (*storage.DeadLetter, error) {
	var d storage.DeadLetter
	var received int64
	if err := row.Scan(&d.ID, &d.Mapping, &received, &d.Payload, &d.Reason, &d.Expression, &d.Attempts); err != nil {
		return nil, err
	}
	d.Received = time.UnixMicro(received).UTC()
	return &d, nil
}
