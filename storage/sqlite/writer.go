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
// this many writes. A WriteBatch or WriteAtomic larger than that is still
// one request and one transaction. It is large enough for several
// transaction Bundles of 100 entries to share a commit (with 64, each was
// committed alone, and concurrent Bundles of 100 Observations got about a
// quarter less throughput); writes queued behind them wait less, not more,
// when they share it too.
const maxBatch = 512

// writeRequest is one Write, the writes of one WriteBatch or those of one
// WriteAtomic, waiting for the writer goroutine. The writer commits a
// request's writes in one transaction, possibly together with other
// requests.
type writeRequest struct {
	ctx context.Context
	ws  []storage.Write
	// atomic requests commit all of ws or none (see applyAtomic); their
	// outcome is err. Otherwise errs[i] is the outcome of ws[i].
	atomic bool
	errs   []error
	err    error
	// done is closed by the writer once the outcomes are in.
	done chan struct{}
}

// submit hands req (without done, which submit makes) to the writer and
// waits for its outcomes. An error means the writer never took req.
func (s *Store) submit(ctx context.Context, req *writeRequest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req.ctx, req.done = ctx, make(chan struct{})
	select {
	case s.requests <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.quit:
		return errClosed
	}
	<-req.done
	return nil
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
		req := &writeRequest{ws: valid, errs: make([]error, len(valid))}
		err := s.submit(ctx, req)
		for j, i := range at {
			if err != nil {
				errs[i] = err
			} else {
				errs[i] = req.errs[j]
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

// queued is one unit of a commit: one write of a request (i its position
// in the request's ws), or a whole atomic request (i -1).
type queued struct {
	req *writeRequest
	i   int
}

// commit applies the writes of batch in one transaction and records the
// outcomes in their requests. A unit that fails other than by a conflict
// is left out and the rest are tried again in a new transaction, so one bad
// write, or one atomic request with a bad write, does not fail the writes
// that happened to share its commit.
func (s *Store) commit(batch []*writeRequest) {
	var pending []queued
	for _, req := range batch {
		err := req.ctx.Err()
		if req.atomic {
			if req.err = err; err == nil {
				pending = append(pending, queued{req, -1})
			}
			continue
		}
		for i := range req.ws {
			if req.errs[i] = err; err == nil {
				pending = append(pending, queued{req, i})
			}
		}
	}
	each := false
	for len(pending) > 0 {
		failed, redo := s.attempt(pending, each)
		if redo {
			// Writing the queued index rows failed, and no single write is
			// to blame: again, each write's rows written with it.
			each = true
			continue
		}
		if failed < 0 {
			break
		}
		pending = slices.Delete(pending, failed, failed+1)
	}
}

// attempt applies the pending units in one transaction and records their
// outcomes. When one fails other than by a conflict, attempt rolls back at
// once, before SQLite might have ended the transaction itself and left
// later statements to commit one by one, and returns that unit's position
// in pending. Otherwise it commits and returns -1. The units' index rows
// are written together before the commit (see indexTx), or, when each is
// set, with each write; redo reports that writing them together failed,
// having rolled back: the units are to be tried again with each set, to
// find the one that fails.
func (s *Store) attempt(pending []queued, each bool) (failed int, redo bool) {
	wtx, err := s.begin()
	if err != nil {
		for _, q := range pending {
			*q.outcome() = fmt.Errorf("begin: %w", err)
		}
		return -1, false
	}
	wtx.each = each
	tx := wtx.tx
	rollback := func() {
		tx.Rollback()
		s.wdict.rollback()
	}
	written := false
	// rids holds the compare-and-swaps of a run of plain creates, done
	// together (createAll) when the run's first unit comes up.
	var rids []int64
	for p, q := range pending {
		var err error
		switch {
		case q.i < 0:
			err = wtx.applyAtomic(q.req.ws)
		case len(rids) > 0:
			err = storage.ErrVersionConflict
			if rids[0] != 0 {
				err = wtx.follow(q.write(), rids[0])
			}
			rids = rids[1:]
		case !each && q.write().Expected == 0 && p+1 < len(pending) && pending[p+1].creates():
			run := []storage.Write{*q.write()}
			for _, next := range pending[p+1:] {
				if !next.creates() {
					break
				}
				run = append(run, *next.write())
			}
			if rids, err = wtx.createAll(run); err != nil {
				err = &flushError{err}
				break
			}
			err = storage.ErrVersionConflict
			if rids[0] != 0 {
				err = wtx.follow(q.write(), rids[0])
			}
			rids = rids[1:]
		default:
			err = wtx.apply(q.write())
		}
		*q.outcome() = err
		var fe *flushError
		switch {
		case err == nil:
			written = true
		case errors.Is(err, storage.ErrVersionConflict):
			// The compare-and-swap failed and changed nothing.
		case !each && errors.As(err, &fe):
			rollback()
			return -1, true
		default:
			rollback()
			return p, false
		}
	}
	if !written {
		rollback()
		return -1, false
	}
	if err := wtx.itx.flush(); err != nil {
		rollback()
		if !each {
			return -1, true
		}
		for _, q := range pending {
			if o := q.outcome(); *o == nil {
				*o = err
			}
		}
		return -1, false
	}
	if err := tx.Commit(); err != nil {
		s.wdict.rollback()
		for _, q := range pending {
			if o := q.outcome(); *o == nil {
				*o = fmt.Errorf("commit: %w", err)
			}
		}
		return -1, false
	}
	s.wdict.commit()
	s.signalCommit()
	return -1, false
}

// write is q's write; q must not be atomic.
func (q queued) write() *storage.Write { return &q.req.ws[q.i] }

// creates reports whether q is a plain create (not atomic, Expected 0).
func (q queued) creates() bool { return q.i >= 0 && q.req.ws[q.i].Expected == 0 }

// outcome is where q's outcome goes.
func (q queued) outcome() *error {
	if q.i < 0 {
		return &q.req.err
	}
	return &q.req.errs[q.i]
}
