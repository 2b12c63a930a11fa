package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/medbridge/medbridge/storage"
)

// WriteAtomic applies ws as Write does, each with its own compare-and-swap,
// in order, and commits all of them in one transaction or none; see
// storage.Store. The writes go to the writer goroutine as one request that
// is never split: it may share a group commit with other requests, inside a
// savepoint of its own, so a conflict rolls back only its writes, and a
// write failing otherwise makes the writer retry the others without it (see
// commit). Once the writer has taken ws, WriteAtomic waits for the outcome
// even if ctx ends, so that a nil error means all of ws is durable and an
// error that nothing of ws was written.
func (s *Store) WriteAtomic(ctx context.Context, ws []storage.Write) error {
	if len(ws) == 0 {
		return nil
	}
	for i, w := range ws {
		if err := validate(w); err != nil {
			return atomicError(ws, i, err)
		}
	}
	req := &writeRequest{ws: ws, atomic: true}
	if err := s.submit(ctx, req); err != nil {
		return fmt.Errorf("sqlite: atomic write: %w", err)
	}
	var ae *storage.AtomicError
	switch {
	case req.err == nil:
		return nil
	case errors.As(req.err, &ae):
		return atomicError(ws, ae.Index, ae.Err)
	default:
		return fmt.Errorf("sqlite: atomic write: %w", req.err)
	}
}

// atomicError is the failure of ws[i], named as Write names it.
func atomicError(ws []storage.Write, i int, err error) error {
	r := ws[i].Resource
	return &storage.AtomicError{Index: i, Err: fmt.Errorf("sqlite: write %s/%s version %d: %w", r.Type, r.ID, r.Version, err)}
}

// applyAtomic does the statements of every write of ws in wtx, in order,
// inside a savepoint. When a compare-and-swap fails it rolls back to the
// savepoint, so wtx holds nothing of ws, and returns an
// *storage.AtomicError wrapping ErrVersionConflict; the transaction goes on
// for the other requests in it. Any other failure is returned as an
// *storage.AtomicError too, leaving the savepoint open: the caller rolls
// back the whole transaction, as SQLite may already have.
func (wtx *writeTx) applyAtomic(ws []storage.Write) error {
	ctx := context.Background() // see begin
	// The index rows queued before are not ws's: written now, they stay
	// when a conflict rolls back to the savepoint, and the queue then
	// holds only ws's rows, to discard.
	if err := wtx.itx.flush(); err != nil {
		return err
	}
	if _, err := wtx.tx.ExecContext(ctx, "SAVEPOINT atomic"); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	mark := wtx.itx.dict.mark()
	fail := func(i int, err error) error {
		if !errors.Is(err, storage.ErrVersionConflict) {
			return &storage.AtomicError{Index: i, Err: err}
		}
		for _, stmt := range []string{"ROLLBACK TO atomic", "RELEASE atomic"} {
			if _, rerr := wtx.tx.ExecContext(ctx, stmt); rerr != nil {
				// No longer a conflict: the caller must roll back all.
				return &storage.AtomicError{Index: i, Err: fmt.Errorf("%s after a conflict: %w", stmt, rerr)}
			}
		}
		wtx.itx.dict.rollbackTo(mark)
		wtx.itx.discard()
		return &storage.AtomicError{Index: i, Err: err}
	}
	for i := 0; i < len(ws); {
		if wtx.each || ws[i].Expected > 0 {
			if err := wtx.apply(&ws[i]); err != nil {
				return fail(i, err)
			}
			i++
			continue
		}
		// A run of creates: their compare-and-swaps in a few statements.
		// A conflict rolls back the later creates of the run with the
		// rest; a failure of those statements is to be found again
		// write by write (see attempt).
		j := i + 1
		for j < len(ws) && ws[j].Expected == 0 {
			j++
		}
		rids, err := wtx.createAll(ws[i:j])
		if err != nil {
			return &flushError{err}
		}
		for k := i; k < j; k++ {
			err := storage.ErrVersionConflict
			if rid := rids[k-i]; rid != 0 {
				err = wtx.follow(&ws[k], rid)
			}
			if err != nil {
				return fail(k, err)
			}
		}
		i = j
	}
	if _, err := wtx.tx.ExecContext(ctx, "RELEASE atomic"); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// dictMark is a point in a writerDict's open transaction, to roll back to
// with a savepoint.
type dictMark struct{ params, terms int }

// mark returns the current point of d's open transaction.
func (d *writerDict) mark() dictMark {
	return dictMark{len(d.pendingParams), len(d.pendingTerms)}
}

// rollbackTo forgets the ids assigned since m, whose rows a rollback to a
// savepoint took away.
func (d *writerDict) rollbackTo(m dictMark) {
	for _, k := range d.pendingParams[m.params:] {
		delete(d.params, k)
	}
	for _, t := range d.pendingTerms[m.terms:] {
		delete(d.terms, t)
	}
	d.pendingParams, d.pendingTerms = d.pendingParams[:m.params], d.pendingTerms[:m.terms]
}
