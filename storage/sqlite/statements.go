package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// statements are the hot paths' SQL, prepared once per connection.
type statements struct {
	// On the reader.
	readCurrent, readVersion *sql.Stmt
	// On the writer.
	insertCurrent, updateCurrent, supersede *sql.Stmt
}

func (st *statements) prepare(ctx context.Context, writer, reader *sql.DB) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		db   *sql.DB
		sql  string
	}{
		{&st.readCurrent, reader, `
			SELECT version, last_updated, deleted, method, json
			FROM resources WHERE type = ? AND id = ?`},
		{&st.readVersion, reader, `
			SELECT last_updated, deleted, method, json
			FROM history WHERE type = ? AND id = ? AND version = ?`},
		// The compare-and-swap for a create: no row at all, deleted or not.
		{&st.insertCurrent, writer, `
			INSERT INTO resources (type, id, version, last_updated, deleted, method, json)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (type, id) DO NOTHING
			RETURNING rid`},
		// The compare-and-swap for an update: the row at the expected version.
		{&st.updateCurrent, writer, `
			UPDATE resources SET version = ?, last_updated = ?, deleted = ?, method = ?, json = ?
			WHERE type = ? AND id = ? AND version = ?
			RETURNING rid`},
		{&st.supersede, writer, `
			UPDATE history SET superseded_at = ?
			WHERE type = ? AND id = ? AND version = ? AND superseded_at IS NULL`},
	} {
		stmt, err := p.db.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.stmt = stmt
	}
	return nil
}

func (st *statements) close() error {
	var errs []error
	for _, stmt := range []*sql.Stmt{
		st.readCurrent, st.readVersion,
		st.insertCurrent, st.updateCurrent, st.supersede,
	} {
		if stmt != nil {
			errs = append(errs, stmt.Close())
		}
	}
	return errors.Join(errs...)
}
