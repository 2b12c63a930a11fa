package server

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// Conditional creates in a transaction — a POST with ifNoneExist, or a
// conditional update, that matches nothing — are race-safe as the REST
// ones are (see conditional.go), with the same lock records: before its
// commit a transaction holds the lock of each such condition. Locks it did
// not hold when it resolved its entries are taken, and then the
// transaction is resolved again under them, since another request may
// have created a match in between; it commits only when an attempt found
// no lock missing, and releases them after. A lock held by another
// request makes it release its own (so that no two requests wait for each
// other), wait and start over, for up to conditionLockTTL.

// errResolveAgain is run's request for another attempt under the locks.
var errResolveAgain = errors.New("server: transaction to resolve again under its locks")

// condLocks are the conditional locks a transaction holds.
type condLocks struct {
	store storage.Store
	held  map[string]bool
	wait  time.Duration
}

// cover makes sure every lock of keys is held; errResolveAgain when it
// had to take one or to wait for one.
func (l *condLocks) cover(ctx context.Context, keys []string) error {
	missing := slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return l.held[k] })
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	for _, k := range slices.Compact(missing) {
		lock := storage.Record{Kind: conditionLockKind, ID: k, Expires: time.Now().Add(conditionLockTTL)}
		err := l.store.PutRecord(ctx, lock, 0)
		if errors.Is(err, storage.ErrVersionConflict) {
			l.release(ctx)
			return l.backOff(ctx)
		}
		if err != nil {
			return err
		}
		l.held[k] = true
	}
	return errResolveAgain
}

// backOff waits a little longer each time, with jitter so that waiters do
// not poll in step, and asks for another attempt.
func (l *condLocks) backOff(ctx context.Context) error {
	l.wait = min(max(2*l.wait, time.Millisecond), 50*time.Millisecond)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(l.wait/2 + rand.N(l.wait)):
		return errResolveAgain
	}
}

// release drops every lock held, also when the request was cancelled.
func (l *condLocks) release(ctx context.Context) {
	for k := range l.held {
		// A lock that cannot be deleted expires by itself.
		_ = l.store.DeleteRecord(context.WithoutCancel(ctx), conditionLockKind, k)
	}
	clear(l.held)
}

// errLocksBusy answers a transaction that waited too long for the locks of
// its conditional creates.
var errLocksBusy = fhir.Errorf(http.StatusServiceUnavailable, fhir.CodeTimeout,
	"other requests with the same conditional-create criteria have been running for %v; try again", conditionLockTTL)
