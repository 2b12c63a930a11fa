// Package sqlite is medbridge's embedded store: a storage.Store in one SQLite
// database file, through the pure-Go modernc.org/sqlite driver.
//
// The database runs in WAL mode with synchronous=FULL, so a Write that
// returned nil survives a crash of the process or the machine. Writes go
// through a single connection owned by one goroutine, since SQLite admits one
// writer at a time and queueing in Go is cheaper than SQLite's busy-wait; that
// goroutine commits concurrent writes together (writer.go). Reads use a pool
// of read-only connections that WAL lets run beside the writer.
//
// Search runs on index tables holding the search index entries of each
// resource's current version (schema.go), which the writer replaces in the
// version's transaction. A search is one statement of index lookups
// (compile.go, search.go); only a search without a filter an index can
// look up reads through a type, in (type, id) order.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/medbridge/medbridge/storage"
)

// FileName is the name of the database file inside the store's directory.
const FileName = "medbridge.db"

// Store is the SQLite storage.Store. It is safe for concurrent use.
type Store struct {
	writer *sql.DB // one connection, used by writeLoop (and Open, Close)
	reader *sql.DB // read-only connections
	// requests feeds writeLoop; closing quit stops it, and it closes
	// writerDone when it has.
	requests         chan *writeRequest
	quit, writerDone chan struct{}
	// checkpointer is checkpointLoop's connection; committed signals it,
	// and it closes checkpointerDone when it stops (checkpoint.go).
	checkpointer     *sql.DB
	committed        chan struct{}
	checkpointerDone chan struct{}
	stmts            statements
	index            indexStatements // on the writer
	wdict            *writerDict     // the writer goroutine's
	dict             readerDict
	searches         stmtCache
	// queries caches prepared history statements by SQL text; there are a
	// few dozen query shapes at most.
	queries sync.Map // string → *sql.Stmt

	closeOnce sync.Once
	closeErr  error
}

var _ storage.Store = (*Store)(nil)

// Open opens the store in dir, creating dir and the database when they do
// not exist and bringing an older schema up to date.
func Open(ctx context.Context, dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sqlite: create store directory: %w", err)
	}
	path, err := filepath.Abs(filepath.Join(dir, FileName))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	s := &Store{}
	s.writer, err = sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.writer.SetMaxOpenConns(1)
	s.writer.SetMaxIdleConns(1)
	s.writer.SetConnMaxIdleTime(0)
	s.writer.SetConnMaxLifetime(0)
	// The schema must exist, and the file be in WAL mode, before readers open.
	if err := migrate(ctx, s.writer); err != nil {
		s.writer.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	s.reader, err = sql.Open("sqlite", dsn(path, true))
	if err != nil {
		s.writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	readers := max(4, 2*runtime.GOMAXPROCS(0))
	s.reader.SetMaxOpenConns(readers)
	s.reader.SetMaxIdleConns(readers)
	s.reader.SetConnMaxIdleTime(0)
	s.reader.SetConnMaxLifetime(0)
	if err := s.stmts.prepare(ctx, s.writer, s.reader); err != nil {
		s.stmts.close()
		s.reader.Close()
		s.writer.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	if err := s.index.prepare(ctx, s.writer); err != nil {
		s.index.close()
		s.stmts.close()
		s.reader.Close()
		s.writer.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	if s.checkpointer, err = openCheckpointer(path); err != nil {
		s.index.close()
		s.stmts.close()
		s.reader.Close()
		s.writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.wdict = newWriterDict()
	s.requests = make(chan *writeRequest)
	s.quit = make(chan struct{})
	s.writerDone = make(chan struct{})
	s.committed = make(chan struct{}, 1)
	s.checkpointerDone = make(chan struct{})
	go s.writeLoop()
	go s.checkpointLoop()
	return s, nil
}

// dsn is the connection string for the database at path. The pragmas are in
// the DSN, not run once after opening, so that every pooled connection gets
// them.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		// Every write updates a dozen search index b-trees, at places
		// spread over them; a page cache larger than the default 2 MiB
		// keeps their inner pages and hot leaves in memory.
		q.Add("_pragma", "cache_size(-65536)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walSafetyPages))
		q.Add("_pragma", "synchronous(FULL)")
		// A deferred transaction that reads and then writes can fail with
		// SQLITE_BUSY when it upgrades its lock; an immediate one takes the
		// write lock up front and waits for it under busy_timeout.
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}
	return u.String()
}

// Ping reports whether the database answers a query.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.reader.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close waits for the writes in progress, checkpoints the write-ahead log
// into the database file and closes every connection. Writes that returned
// before Close stay durable; writes after it fail. Close may be called more
// than once; later calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.quit)
		<-s.writerDone
		<-s.checkpointerDone
		var errs []error
		errs = append(errs, s.checkpointer.Close())
		s.queries.Range(func(_, v any) bool {
			errs = append(errs, v.(*sql.Stmt).Close())
			return true
		})
		errs = append(errs, s.searches.close())
		errs = append(errs, s.index.close())
		errs = append(errs, s.stmts.close())
		errs = append(errs, s.reader.Close())
		// With the readers gone the checkpoint can copy the whole log and
		// truncate it, leaving a database file that stands on its own.
		if _, err := s.writer.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			errs = append(errs, fmt.Errorf("checkpoint: %w", err))
		}
		errs = append(errs, s.writer.Close())
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("sqlite: close: %w", err)
		}
	})
	return s.closeErr
}
