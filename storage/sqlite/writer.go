package sqlite

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/medbridge/medbridge/storage"
)

// Group commit. With synchronous=FULL every commit waits for an fsync, which
// costs far more than the statements of a write. One goroutine owns the
// write connection; whenever it finishes a commit, it takes every write that
// queued up meanwhile and commits them in one transaction, one fsync for
// all. A lone write is committed at once, so latency is that of a plain
// transaction, and concurrent writers share fsyncs instead of queueing for
// them.

// maxBatch bounds a group commit, and so the time a write waits for the
// others committed with it.
const maxBatch = 64

// writeRequest is a Write waiting for the writer goroutine.
type writeRequest struct {
	ctx  context.Context
	w    storage.Write
	done chan error // buffered: the writer never blocks on it
}

// submit hands w to the writer and waits for the outcome.
func (s *Store) submit(ctx context.Context, w storage.Write) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &writeRequest{ctx: ctx, w: w, done: make(chan error, 1)}
	select {
	case s.requests <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.quit:
		return errClosed
	}
	return <-req.done
}

// writeLoop is the writer goroutine. It returns once quit is closed, having
// finished every request it took.
func (s *Store) writeLoop() {
	defer close(s.writerDone)
	batch := make([]*writeRequest, 0, maxBatch)
	for {
		select {
		case req := <-s.requests:
			batch = append(batch[:0], req)
		case <-s.quit:
			return
		}
	queued:
		for len(batch) < maxBatch {
			select {
			case req := <-s.requests:
				batch = append(batch, req)
			default:
				break queued
			}
		}
		errs := s.commit(batch)
		for i, req := range batch {
			req.done <- errs[i]
			batch[i] = nil
		}
	}
}

// commit applies batch in one transaction and returns each write's outcome.
// A write that fails other than by a conflict is left out and the rest are
// tried again in a new transaction, so one bad write does not fail the
// writes that happened to share its commit.
func (s *Store) commit(batch []*writeRequest) []error {
	errs := make([]error, len(batch))
	pending := make([]int, 0, len(batch))
	for i, req := range batch {
		if errs[i] = req.ctx.Err(); errs[i] == nil {
			pending = append(pending, i)
		}
	}
	for len(pending) > 0 {
		failed := s.attempt(batch, pending, errs)
		if failed < 0 {
			break
		}
		pending = slices.Delete(pending, failed, failed+1)
	}
	return errs
}

// attempt applies the pending writes of batch in one transaction and records
// their outcomes in errs. When one fails other than by a conflict, attempt
// rolls back at once, before SQLite might have ended the transaction itself
// and left later statements to commit one by one, and returns that write's
// position in pending. Otherwise it commits and returns -1.
func (s *Store) attempt(batch []*writeRequest, pending []int, errs []error) int {
	ctx := context.Background() // see apply
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		for _, i := range pending {
			errs[i] = fmt.Errorf("begin: %w", err)
		}
		return -1
	}
	itx := s.newIndexTx(tx)
	written := false
	for p, i := range pending {
		errs[i] = s.apply(tx, itx, batch[i].w)
		switch {
		case errs[i] == nil:
			written = true
		case errors.Is(errs[i], storage.ErrVersionConflict):
			// The compare-and-swap failed and changed nothing.
		default:
			tx.Rollback()
			s.wdict.rollback()
			return p
		}
	}
	if !written {
		tx.Rollback()
		s.wdict.rollback()
		return -1
	}
	if err := tx.Commit(); err != nil {
		s.wdict.rollback()
		for _, i := range pending {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("commit: %w", err)
			}
		}
		return -1
	}
	s.wdict.commit()
	return -1
}
