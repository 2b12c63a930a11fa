package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/medbridge/medbridge/storage"
)

// Write makes w.Resource the current version of its Type/ID and appends it to
// the history in one transaction; see storage.Store. The compare-and-swap is
// the transaction's own UPDATE or INSERT on the current row, so two writers
// expecting the same version cannot both succeed. A Version that does not
// follow Expected is ErrVersionConflict, as the contract says; a resource
// without a type or id, or a deletion carrying JSON, is refused with another
// error.
func (s *Store) Write(ctx context.Context, w storage.Write) error {
	r := w.Resource
	if r.Type == "" || r.ID == "" {
		return fmt.Errorf("sqlite: write %q/%q: resource needs a type and an id", r.Type, r.ID)
	}
	if r.Deleted && len(r.JSON) > 0 {
		return fmt.Errorf("sqlite: write %s/%s: a deletion has no JSON", r.Type, r.ID)
	}
	if w.Expected < 0 || r.Version != w.Expected+1 {
		return fmt.Errorf("sqlite: write %s/%s version %d at expected version %d: %w",
			r.Type, r.ID, r.Version, w.Expected, storage.ErrVersionConflict)
	}
	var json any = r.JSON
	if r.Deleted {
		json = nil // NULL, rather than an empty blob
	}
	lastUpdated := r.LastUpdated.UnixMicro()

	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		var res sql.Result
		var err error
		if w.Expected == 0 {
			res, err = tx.StmtContext(ctx, s.stmts.insertCurrent).ExecContext(ctx,
				r.Type, r.ID, r.Version, lastUpdated, r.Deleted, r.Method, json)
		} else {
			res, err = tx.StmtContext(ctx, s.stmts.updateCurrent).ExecContext(ctx,
				r.Version, lastUpdated, r.Deleted, r.Method, json, r.Type, r.ID, w.Expected)
		}
		if err := oneRow(res, err); err != nil {
			if errors.Is(err, errNoRow) {
				return storage.ErrVersionConflict
			}
			return fmt.Errorf("current version: %w", err)
		}
		if w.Expected > 0 {
			res, err := tx.StmtContext(ctx, s.stmts.supersede).ExecContext(ctx,
				lastUpdated, r.Type, r.ID, w.Expected)
			// The history row of the version just replaced must exist
			// and be current; anything else means the tables disagree.
			if err := oneRow(res, err); err != nil {
				return fmt.Errorf("supersede version %d: %w", w.Expected, err)
			}
		}
		_, err = tx.StmtContext(ctx, s.stmts.insertHistory).ExecContext(ctx,
			r.Type, r.ID, r.Version, lastUpdated, r.Deleted, r.Method, json)
		if err != nil {
			return fmt.Errorf("history: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: write %s/%s version %d: %w", r.Type, r.ID, r.Version, err)
	}
	return nil
}

// inWriteTx runs f in a write transaction and commits it when f returns nil.
func (s *Store) inWriteTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := f(tx); err != nil {
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			err = errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
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
