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
// others committed with it: the writer stops taking requests once it holds
// this many writes. A WriteBatch larger than that is still one request and
// one transaction.
const maxBatch = 64

// writeRequest is one Write, or the writes of one WriteBatch, waiting for
// the writer goroutine. The writer commits a request's writes in one
// transaction, possibly together with other requests.
type writeRequest struct {
	ctx context.Context
	ws  []storage.Write
	// errs[i] is the outcome of ws[i]; the writer fills it in before it
	// closes done.
	errs []error
	done chan struct{}
}

// submit hands ws to the writer and waits for their outcomes. An error
// before the writer took ws applies to all of them.
func (s *Store) submit(ctx context.Context, ws []storage.Write) ([]error, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	req := &writeRequest{ctx: ctx, ws: ws, errs: make([]error, len(ws)), done: make(chan struct{})}
	select {
	case s.requests <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.quit:
		return nil, errClosed
	}
	<-req.done
	return req.errs, nil
}

// WriteBatch applies ws as Write does, each with its own compare-and-swap,
// in order, and commits them in one transaction with one fsync, however
// many there are: a batch is never split, so its writes become durable and
// visible together. A write that fails other than by a conflict is left
// out of that transaction, as in a group commit (see commit). Writes of
// the same resource apply in the order of ws, so a batch may hold version
// 1 and version 2 of one resource. Once the writer has taken the batch,
// WriteBatch waits for the commit even if ctx ends.
func (s *Store) WriteBatch(ctx context.Context, ws []storage.Write) []error {
	errs := make([]error, len(ws))
	valid := make([]storage.Write, 0, len(ws))
	at := make([]int, 0, len(ws)) // at[j] is the position in ws of valid[j]
	for i, w := range ws {
		if errs[i] = validate(w); errs[i] == nil {
			valid = append(valid, w)
			at = append(at, i)
		}
	}
	if len(valid) > 0 {
		outcomes, err := s.submit(ctx, valid)
		for j, i := range at {
			if err != nil {
				errs[i] = err
			} else {
				errs[i] = outcomes[j]
			}
		}
	}
	for i, err := range errs {
		if err != nil {
			r := ws[i].Resource
			errs[i] = fmt.Errorf("sqlite: write %s/%s version %d: %w", r.Type, r.ID, r.Version, err)
		}
	}
	return errs
}

// writeLoop is the writer goroutine. It returns once quit is closed, having
// finished every request it took.
func (s *Store) writeLoop() {
	defer close(s.writerDone)
	batch := make([]*writeRequest, 0, maxBatch)
	for {
		var writes int
		select {
		case req := <-s.requests:
			batch = append(batch[:0], req)
			writes = len(req.ws)
		case <-s.quit:
			return
		}
	queued:
		for writes < maxBatch {
			select {
			case req := <-s.requests:
				batch = append(batch, req)
				writes += len(req.ws)
			default:
				break queued
			}
		}
		s.commit(batch)
		for i, req := range batch {
			close(req.done)
			batch[i] = nil
		}
	}
}

// queuedWrite is one write of a request in a commit.
type queuedWrite struct {
	w   *storage.Write
	err *error // where its outcome goes
}

// commit applies the writes of batch in one transaction and records each
// write's outcome in its request's errs. A write that fails other than by
// a conflict is left out and the rest are tried again in a new
// transaction, so one bad write does not fail the writes that happened to
// share its commit.
func (s *Store) commit(batch []*writeRequest) {
	var pending []queuedWrite
	for _, req := range batch {
		err := req.ctx.Err()
		for i := range req.ws {
			if req.errs[i] = err; err == nil {
				pending = append(pending, queuedWrite{&req.ws[i], &req.errs[i]})
			}
		}
	}
	for len(pending) > 0 {
		failed := s.attempt(pending)
		if failed < 0 {
			break
		}
		pending = slices.Delete(pending, failed, failed+1)
	}
}

// attempt applies the pending writes in one transaction and records their
// outcomes. When one fails other than by a conflict, attempt rolls back at
// once, before SQLite might have ended the transaction itself and left
// later statements to commit one by one, and returns that write's position
// in pending. Otherwise it commits and returns -1.
func (s *Store) attempt(pending []queuedWrite) int {
	wtx, err := s.begin()
	if err != nil {
		for _, q := range pending {
			*q.err = fmt.Errorf("begin: %w", err)
		}
		return -1
	}
	tx := wtx.tx
	written := false
	for p, q := range pending {
		err := wtx.apply(q.w)
		*q.err = err
		switch {
		case err == nil:
			written = true
		case errors.Is(err, storage.ErrVersionConflict):
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
		for _, q := range pending {
			if *q.err == nil {
				*q.err = fmt.Errorf("commit: %w", err)
			}
		}
		return -1
	}
	s.wdict.commit()
	return -1
}
