package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

var errClosed = errors.New("store is closed")

// Write makes w.Resource the current version of its Type/ID and appends it to
// the history; see storage.Store. The compare-and-swap is the transaction's
// own UPDATE or INSERT on the current row, so two writers expecting the same
// version cannot both succeed. A Version that does not follow Expected is
// ErrVersionConflict, as the contract says; a resource without a type or id,
// or a deletion carrying JSON, is refused with another error.
//
// Write hands w to the store's writer goroutine, which may commit it together
// with other waiting writes (a group commit: one fsync for all). Once the
// writer has taken w, Write waits for the commit even if ctx ends, so that an
// error always means nothing was written.
func (s *Store) Write(ctx context.Context, w storage.Write) error {
	r := w.Resource
	if err := validate(w); err != nil {
		return fmt.Errorf("sqlite: write %s/%s version %d: %w", r.Type, r.ID, r.Version, err)
	}
	req := &writeRequest{ws: []storage.Write{w}, errs: make([]error, 1)}
	err := s.submit(ctx, req)
	if err == nil {
		err = req.errs[0]
	}
	if err != nil {
		return fmt.Errorf("sqlite: write %s/%s version %d: %w", r.Type, r.ID, r.Version, err)
	}
	return nil
}

func validate(w storage.Write) error {
	r := w.Resource
	switch {
	case r.Type == "" || r.ID == "":
		return errors.New("resource needs a type and an id")
	case r.Deleted && len(r.JSON) > 0:
		return errors.New("a deletion has no JSON")
	case w.Expected < 0 || r.Version != w.Expected+1:
		return fmt.Errorf("version does not follow expected version %d: %w", w.Expected, storage.ErrVersionConflict)
	}
	return nil
}

// writeTx is one transaction of the writer: the tx, its index writer and
// the writer's statements bound to it once, not once per write (binding
// allocates a statement each time).
type writeTx struct {
	tx  *sql.Tx
	itx *indexTx
	// each makes every write flush its index rows (see attempt).
	each                                    bool
	insertCurrent, updateCurrent, supersede *sql.Stmt
}

// begin starts a writer transaction.
func (s *Store) begin() (*writeTx, error) {
	// The writer's statements run without the caller's context: cancelling
	// one statement would abort the whole transaction, other callers'
	// writes included. The writer checks the caller's context before.
	ctx := context.Background()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &writeTx{
		tx:            tx,
		itx:           s.newIndexTx(tx),
		insertCurrent: tx.StmtContext(ctx, s.stmts.insertCurrent),
		updateCurrent: tx.StmtContext(ctx, s.stmts.updateCurrent),
		supersede:     tx.StmtContext(ctx, s.stmts.supersede),
	}, nil
}

// apply does w's statements in wtx: the compare-and-swap on the current
// row, then follow's. When the compare-and-swap fails it returns
// ErrVersionConflict having changed nothing.
func (wtx *writeTx) apply(w *storage.Write) error {
	r := w.Resource
	ctx := context.Background() // see begin
	// Both statements return the row's rid, and no row when the
	// compare-and-swap fails.
	var rid int64
	var err error
	if w.Expected == 0 {
		err = wtx.insertCurrent.QueryRowContext(ctx,
			r.Type, r.ID, r.Version, r.LastUpdated.UnixMicro(), r.Deleted, r.Method, storedJSON(&r)).Scan(&rid)
	} else {
		err = wtx.updateCurrent.QueryRowContext(ctx,
			r.Version, r.LastUpdated.UnixMicro(), r.Deleted, r.Method, storedJSON(&r), r.Type, r.ID, w.Expected).Scan(&rid)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return storage.ErrVersionConflict
	}
	if err != nil {
		return fmt.Errorf("current version: %w", err)
	}
	return wtx.follow(w, rid)
}

// storedJSON is r's JSON as a column value: NULL for a deletion, rather
// than an empty blob.
func storedJSON(r *fhir.Resource) any {
	if r.Deleted {
		return nil
	}
	return r.JSON
}

// createAll does the compare-and-swap of the creates ws (each with
// Expected 0) with multi-row INSERTs: rids[i] is the new row of ws[i], 0
// when its resource exists already (a conflict, also when an earlier
// write of ws creates it). Each write's follow is the caller's. An error
// belongs to no single write.
func (wtx *writeTx) createAll(ws []storage.Write) (rids []int64, err error) {
	created := make(map[resourceKey]int64, len(ws))
	args := make([]any, 0, 7*min(len(ws), maxRowsPerStatement))
	for rest := ws; len(rest) > 0; {
		k := rowStatementSizes - 1
		for 1<<k > len(rest) {
			k--
		}
		args = args[:0]
		for i := range 1 << k {
			r := &rest[i].Resource
			args = append(args, r.Type, r.ID, r.Version, r.LastUpdated.UnixMicro(), r.Deleted, r.Method, storedJSON(r))
		}
		if err := wtx.itx.query(wtx.itx.ix.create[k], args, func(rows *sql.Rows) error {
			var key resourceKey
			var rid int64
			if err := rows.Scan(&key.typ, &key.id, &rid); err != nil {
				return err
			}
			created[key] = rid
			return nil
		}); err != nil {
			return nil, fmt.Errorf("current versions: %w", err)
		}
		rest = rest[1<<k:]
	}
	// Of several creates of one resource the first took the row.
	rids = make([]int64, len(ws))
	for i := range ws {
		key := resourceKey{ws[i].Resource.Type, ws[i].Resource.ID}
		if rid, ok := created[key]; ok {
			rids[i] = rid
			delete(created, key)
		}
	}
	return rids, nil
}

// follow does the rest of w's statements once its compare-and-swap made
// rid its current row: marking the replaced version superseded, the new
// history row and the replacement of the resource's index rows by w.Index
// (by none for a deletion).
func (wtx *writeTx) follow(w *storage.Write, rid int64) error {
	r := w.Resource
	lastUpdated := r.LastUpdated.UnixMicro()
	ctx := context.Background() // see begin
	// The history row of the version just replaced must exist and be
	// current; anything else means the tables disagree.
	if w.Expected > 0 && !wtx.itx.supersedeQueued(r.Type, r.ID, w.Expected, lastUpdated) {
		res, err := wtx.supersede.ExecContext(ctx, lastUpdated, r.Type, r.ID, w.Expected)
		if err := oneRow(res, err); err != nil {
			return fmt.Errorf("supersede version %d: %w", w.Expected, err)
		}
	}
	wtx.itx.queueHistory(r.Type, r.ID, r.Version, lastUpdated, r.Deleted, r.Method, storedJSON(&r))
	var entries []storage.IndexEntry
	if !r.Deleted {
		entries = w.Index
	}
	if err := wtx.itx.replace(rid, r.Type, entries, w.Expected > 0); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	if wtx.each {
		if err := wtx.itx.flush(); err != nil {
			return fmt.Errorf("index: %w", err)
		}
	}
	return nil
}

var errNoRow = errors.New("no row matched")

// oneRow checks that a statement's result changed exactly one row.
func oneRow(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	switch {
	case err != nil:
		return err
	case n == 0:
		return errNoRow
	case n > 1:
		return fmt.Errorf("%d rows matched, want 1", n)
	}
	return nil
}
