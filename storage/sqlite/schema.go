package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations bring the schema from version i (PRAGMA user_version) to i+1.
// Append to the list; never edit an entry that has shipped, since databases
// that already ran it will not run it again.
//
// Instants are integer microseconds since the Unix epoch, UTC: the precision
// medbridge keeps, and integers compare and index cheaply.
var migrations = []string{
	// 1: current versions and the full history.
	`
CREATE TABLE resources (
	type         TEXT    NOT NULL,
	id           TEXT    NOT NULL,
	version      INTEGER NOT NULL,
	last_updated INTEGER NOT NULL,
	deleted      INTEGER NOT NULL,
	method       TEXT    NOT NULL,
	json         BLOB,
	PRIMARY KEY (type, id)
) STRICT;

-- superseded_at is the LastUpdated of the next version, NULL while the
-- version is current; it answers _at without looking at the next row.
CREATE TABLE history (
	type          TEXT    NOT NULL,
	id            TEXT    NOT NULL,
	version       INTEGER NOT NULL,
	last_updated  INTEGER NOT NULL,
	superseded_at INTEGER,
	deleted       INTEGER NOT NULL,
	method        TEXT    NOT NULL,
	json          BLOB,
	PRIMARY KEY (type, id, version)
) STRICT;

-- System, type and instance history read these in exactly the history
-- order, so a page is an index range scan that stops after Count rows (the
-- primary key would leave an instance's versions to be sorted on every
-- page). superseded_at rides along so that the _at filter is decided from
-- the index alone.
CREATE INDEX history_system ON history (last_updated DESC, type, id, version DESC, superseded_at);
CREATE INDEX history_type ON history (type, last_updated DESC, id, version DESC, superseded_at);
CREATE INDEX history_instance ON history (type, id, last_updated DESC, version DESC, superseded_at);
`,
}

// migrate brings the database's schema up to the newest version in one
// transaction, so a failure leaves it as it was.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	var current int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
		return fmt.Errorf("migrate: read schema version: %w", err)
	}
	if current > len(migrations) {
		return fmt.Errorf("migrate: schema version %d is newer than this medbridge (%d)", current, len(migrations))
	}
	for v := current; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrate to schema version %d: %w", v+1, err)
		}
	}
	if current == len(migrations) {
		return nil
	}
	// PRAGMA takes no parameters; the value is an int we control.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
		return fmt.Errorf("migrate: set schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
