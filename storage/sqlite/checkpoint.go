package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// Checkpoints. A checkpoint copies the pages committed to the write-ahead
// log into the database file and fsyncs it. SQLite runs one in the
// committing connection whenever the log passes wal_autocheckpoint pages,
// which would be the writer goroutine, between two commits: with
// Observations spread over a dozen index b-trees, a commit of a hundred
// writes dirties hundreds of pages, and the writer would spend about a
// fifth of its time checkpointing. So a goroutine of its own checkpoints
// on a connection of its own, beside the writer (a PASSIVE checkpoint
// blocks neither writers nor readers), after the commits. The writer's
// own autocheckpoint stays, at walSafetyPages, for when that goroutine
// falls behind. Durability does not change: a commit is durable once its
// log frames are synced, before any checkpoint.

// walSafetyPages is the writer's wal_autocheckpoint: the log size at which
// it checkpoints itself.
const walSafetyPages = 10000

// checkpointInterval is the least time between two background
// checkpoints, so that a stream of small commits does not make one (and
// an fsync of the database file) per commit.
const checkpointInterval = 50 * time.Millisecond

// checkpointLoop checkpoints after commits (signalled on s.committed)
// until quit is closed, then closes checkpointerDone.
func (s *Store) checkpointLoop() {
	defer close(s.checkpointerDone)
	for {
		select {
		case <-s.committed:
		case <-s.quit:
			return
		}
		// A failed checkpoint leaves the log as it was; the next one, or
		// the writer's, copies it.
		s.checkpointer.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
		select {
		case <-time.After(checkpointInterval):
		case <-s.quit:
			return
		}
	}
}

// signalCommit tells checkpointLoop that a transaction committed.
func (s *Store) signalCommit() {
	select {
	case s.committed <- struct{}{}:
	default: // one is pending already
	}
}

// openCheckpointer opens the checkpointer's connection, with the writer's
// settings (synchronous=FULL: the checkpoint syncs the database file).
func openCheckpointer(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	return db, nil
}
