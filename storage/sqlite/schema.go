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
	// 2: search indexes (see search.go for the queries they serve).
	//
	// resources gets an explicit integer key, rid, which the index
	// tables use instead of repeating type and id: VACUUM keeps an
	// INTEGER PRIMARY KEY but may renumber an implicit rowid. rids are
	// never reused, since a deletion keeps the row (deleted = 1).
	//
	// The index tables hold the entries of the current version of each
	// non-deleted resource (Write replaces them, a deletion removes
	// them), so a row found in one needs no check against resources.
	// Each is WITHOUT ROWID with every column in its primary key, which
	// starts with (pid, value) for lookups by value; a second index on
	// (rid, pid) finds a resource's entries (for replacing them, and for
	// testing one candidate), and holds every column too. pid names
	// (resource type, parameter code) in params; token and quantity
	// systems are interned in terms (0: no system).
	`
CREATE TABLE resources_v2 (
	rid          INTEGER PRIMARY KEY,
	type         TEXT    NOT NULL,
	id           TEXT    NOT NULL,
	version      INTEGER NOT NULL,
	last_updated INTEGER NOT NULL,
	deleted      INTEGER NOT NULL,
	method       TEXT    NOT NULL,
	json         BLOB
) STRICT;
INSERT INTO resources_v2 (type, id, version, last_updated, deleted, method, json)
	SELECT type, id, version, last_updated, deleted, method, json FROM resources ORDER BY type, id;
DROP TABLE resources;
ALTER TABLE resources_v2 RENAME TO resources;
CREATE UNIQUE INDEX resources_type_id ON resources (type, id);

CREATE TABLE params (
	pid  INTEGER PRIMARY KEY,
	code TEXT NOT NULL,
	type TEXT NOT NULL,
	UNIQUE (code, type)
) STRICT;

CREATE TABLE terms (
	id   INTEGER PRIMARY KEY,
	text TEXT NOT NULL UNIQUE
) STRICT;

-- string: norm is lower-cased without accents; exact is the text as
-- written, '' when it equals norm.
CREATE TABLE idx_string (
	pid INTEGER NOT NULL, norm TEXT NOT NULL, exact TEXT NOT NULL, rid INTEGER NOT NULL,
	PRIMARY KEY (pid, norm, exact, rid)
) STRICT, WITHOUT ROWID;
CREATE INDEX idx_string_rid ON idx_string (rid, pid);

-- token: code before system, as "code" without a system is the common
-- search; identifiers of references (:identifier) are here too.
CREATE TABLE idx_token (
	pid INTEGER NOT NULL, code TEXT NOT NULL, sys INTEGER NOT NULL, rid INTEGER NOT NULL,
	PRIMARY KEY (pid, code, sys, rid)
) STRICT, WITHOUT ROWID;
CREATE INDEX idx_token_rid ON idx_token (rid, pid);

-- token :text: normalized display and text.
CREATE TABLE idx_token_text (
	pid INTEGER NOT NULL, text TEXT NOT NULL, rid INTEGER NOT NULL,
	PRIMARY KEY (pid, text, rid)
) STRICT, WITHOUT ROWID;
CREATE INDEX idx_token_text_rid ON idx_token_text (rid, pid);

-- token :of-type: an identifier's value with one of its type codings.
CREATE TABLE idx_token_type (
	pid INTEGER NOT NULL, value TEXT NOT NULL, tcode TEXT NOT NULL, tsys INTEGER NOT NULL, rid INTEGER NOT NULL,
	PRIMARY KEY (pid, value, tcode, tsys, rid)
) STRICT, WITHOUT ROWID;
CREATE INDEX idx_token_type_rid ON idx_token_type (rid, pid);

-- reference: "Type/id" targets, id first so that a bare id is a prefix.
-- Absolute and canonical references as written are in idx_uri.
CREATE TABLE idx_reference (
	pid INTEGER NOT NULL, ref_id TEXT NOT NULL, ref_type TEXT NOT NULL, rid INTEGER NOT NULL,
	PRIMARY KEY (pid, ref_id, ref_type, rid)
) STRICT, WITHOUT ROWID;
CREATE INDEX idx_reference_rid ON idx_reference (rid, pid);

CREATE TABLE idx_uri (
	pid INTEGER NOT NULL, uri TEXT NOT NULL, rid INTEGER NOT NULL,
	PRIMARY KEY (pid, uri, rid)
) STRICT, WITHOUT ROWID;
CREATE INDEX idx_uri_rid ON idx_uri (rid, pid);

-- date: the range [lo, hi) in microseconds; by lo, and by hi for the
-- prefixes that bound the end (gt, ge, eb).
CREATE TABLE idx_date (
	pid INTEGER NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL, rid INTEGER NOT NULL,
	PRIMARY KEY (pid, lo, hi, rid)
) STRICT, WITHOUT ROWID;
CREATE INDEX idx_date_hi ON idx_date (pid, hi);
CREATE INDEX idx_date_rid ON idx_date (rid, pid);

CREATE TABLE idx_number (
	pid INTEGER NOT NULL, num REAL NOT NULL, rid INTEGER NOT NULL,
	PRIMARY KEY (pid, num, rid)
) STRICT, WITHOUT ROWID;
CREATE INDEX idx_number_rid ON idx_number (rid, pid);

-- quantity: unit and value are the canonical UCUM unit and value when
-- known, else the unit code and value as written; sys is the unit's
-- system; num and code are the value and unit code as written (code ''
-- when it equals unit).
CREATE TABLE idx_quantity (
	pid INTEGER NOT NULL, unit TEXT NOT NULL, value REAL NOT NULL, sys INTEGER NOT NULL,
	code TEXT NOT NULL, num REAL NOT NULL, rid INTEGER NOT NULL,
	PRIMARY KEY (pid, unit, value, sys, code, num, rid)
) STRICT, WITHOUT ROWID;
CREATE INDEX idx_quantity_num ON idx_quantity (pid, num);
CREATE INDEX idx_quantity_rid ON idx_quantity (rid, pid);

-- composite: one row per combination of component values of one
-- element. Component i has the slots t<i> (text), s<i> (system or
-- type), n<i> and m<i> (numbers) and u<i> (a unit code); compositeSlots
-- in index.go says which a component type uses. The first component is
-- a token or a reference in every R4 composite.
CREATE TABLE idx_composite (
	pid INTEGER NOT NULL, rid INTEGER NOT NULL,
	t1 ANY, s1 ANY, n1 ANY, m1 ANY, u1 ANY,
	t2 ANY, s2 ANY, n2 ANY, m2 ANY, u2 ANY,
	t3 ANY, s3 ANY, n3 ANY, m3 ANY, u3 ANY
) STRICT;
CREATE INDEX idx_composite_first ON idx_composite (pid, t1, s1);
CREATE INDEX idx_composite_rid ON idx_composite (rid, pid);
`,
	// 3: narrow indexes of resources for search, so that neither testing
	// candidates nor reading through a type touches the rows with their
	// JSON: resources_key answers a candidate's type, id and deletion by
	// rid; resources_live lists the non-deleted resources in (type, id)
	// order, for searches without an indexed filter and for counts.
	`
CREATE INDEX IF NOT EXISTS resources_key ON resources (rid, type, id, deleted);
CREATE INDEX IF NOT EXISTS resources_live ON resources (type, id) WHERE deleted = 0;
`,
	// 4: dead letters (deadletter.go). The payload is a BLOB so that it
	// comes back byte for byte; the table keeps its rowid, as payloads
	// can be large and a WITHOUT ROWID table suits small rows. Listing
	// reads dead_letters_received, or dead_letters_mapping for one
	// mapping, in exactly the listing order.
	`
CREATE TABLE dead_letters (
	id         TEXT    NOT NULL PRIMARY KEY,
	mapping    TEXT    NOT NULL,
	received   INTEGER NOT NULL,
	payload    BLOB    NOT NULL,
	reason     TEXT    NOT NULL,
	expression TEXT    NOT NULL,
	attempts   INTEGER NOT NULL
) STRICT;
CREATE INDEX dead_letters_received ON dead_letters (received DESC, id);
CREATE INDEX dead_letters_mapping ON dead_letters (mapping, received DESC, id);
`,
	// 5: records, the server's own state (record.go). data is a BLOB so
	// that it comes back byte for byte; expires is NULL for a record that
	// never expires. The primary key serves the compare-and-swap, reads
	// and listing a kind by id; records_expires, holding only the rows
	// that can expire, lets PutRecord find the expired rows to purge
	// without reading the others.
	`
CREATE TABLE records (
	kind    TEXT    NOT NULL,
	id      TEXT    NOT NULL,
	data    BLOB    NOT NULL,
	expires INTEGER,
	version INTEGER NOT NULL,
	PRIMARY KEY (kind, id)
) STRICT;
CREATE INDEX records_expires ON records (expires) WHERE expires IS NOT NULL;
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
