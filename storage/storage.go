// Package storage declares the store interface medbridge's two stores
// implement: storage/sqlite (the embedded default) and storage/mongo (the
// production store). Both pass the shared suite in storage/storagetest.
package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/search"
)

var (
	// ErrNotFound is returned when a resource or version never existed.
	ErrNotFound = errors.New("storage: not found")
	// ErrVersionConflict is returned by Write when the current version is not
	// the one the writer expected; nothing was written.
	ErrVersionConflict = errors.New("storage: version conflict")
	// ErrBadCursor is returned by Search for a cursor it cannot read.
	ErrBadCursor = errors.New("storage: bad page cursor")
	// ErrNoTransactions is returned by WriteAtomic when the store cannot
	// make several writes atomic (a MongoDB server without multi-document
	// transactions: a standalone server, FerretDB); nothing was written.
	ErrNoTransactions = errors.New("storage: the store does not support transactions")
)

// Store keeps the current version of every resource and its full history.
// Implementations are safe for concurrent use.
type Store interface {
	// Write makes w.Resource the current version of its Type/ID and appends
	// it to the history, atomically. It is a compare-and-swap on the current
	// version: it succeeds only when the stored current version equals
	// w.Expected (0: the resource must not exist at all, not even as
	// deleted), and w.Resource.Version must be w.Expected+1. Otherwise it
	// returns ErrVersionConflict and writes nothing. A nil error means the
	// write is durable.
	Write(ctx context.Context, w Write) error

	// Read returns the current version of typ/id; when the resource was
	// deleted that is the deletion version (Deleted true, no JSON). It
	// returns ErrNotFound when typ/id never existed.
	Read(ctx context.Context, typ, id string) (*fhir.Resource, error)

	// ReadVersion returns one version of typ/id, or ErrNotFound.
	ReadVersion(ctx context.Context, typ, id string, version int64) (*fhir.Resource, error)

	// History returns versions newest first (see HistoryQuery for the order),
	// at most q.Count of them, and a cursor for the next page when there is one.
	History(ctx context.Context, q HistoryQuery) (HistoryPage, error)

	// Search returns one page of the current, non-deleted resources that
	// match q's Types and Filters (chains, _has and Or alternatives
	// included), in q's Sort order (default: type, then id), at most
	// q.Count of them, starting after q.After or ending before q.Before.
	// The page's cursors stay valid across restarts and concurrent writes:
	// resources already seen are not returned again and none that existed
	// when paging began is skipped. _include/_revinclude are not the
	// store's concern. A cursor the store did not make gives ErrBadCursor.
	Search(ctx context.Context, q *search.Query) (*SearchPage, error)

	// ReadCurrent returns the current, non-deleted versions of the given
	// resources that exist, in no particular order; unknown and deleted
	// ones are left out.
	ReadCurrent(ctx context.Context, refs []Ref) ([]fhir.Resource, error)

	// WriteBatch applies each of ws as Write does, each with its own
	// compare-and-swap, and commits them together where the store can (the
	// embedded store: one transaction, one fsync). errs[i] is the outcome
	// of ws[i]; a nil error means that write is durable. It is not atomic:
	// some writes may succeed while others conflict or fail. Writes of the
	// same resource apply in their order in ws, so one batch may hold
	// versions 1 and 2 of a resource.
	WriteBatch(ctx context.Context, ws []Write) (errs []error)

	// WriteAtomic applies each of ws as Write does, each with its own
	// compare-and-swap, and commits them all together or not at all:
	// either every write becomes durable and visible at once (no reader
	// sees some of them without the others), or none is written. Writes of
	// the same resource apply in their order in ws, so one call may hold
	// versions 1 and 2 of a resource. A nil error means every write is
	// durable; an empty ws writes nothing and returns nil.
	//
	// When one write cannot be made (a failed compare-and-swap, a refused
	// write), WriteAtomic writes nothing and returns an *AtomicError whose
	// Index is that write's position in ws and whose Err wraps
	// ErrVersionConflict or the cause; when several fail, it names one of
	// them. A failure that belongs to no single write (a cancelled
	// context, a commit the database refused, a closed store) is returned
	// as it is, also with nothing written. A store that cannot commit
	// several writes atomically returns ErrNoTransactions for every call,
	// having written nothing.
	WriteAtomic(ctx context.Context, ws []Write) error

	// LastN serves Observation/$lastn: among the current Observations that
	// match q's Filters it groups those with the same subject and the same
	// code (all of Observation.code's codings, as a set) and returns the
	// max most recent of each group by the "date" parameter (effective
	// time; later first, then by id), groups in no particular order. It
	// uses indexes and does not read the other Observations.
	LastN(ctx context.Context, q *search.Query, max int) ([]fhir.Resource, error)

	// Stats serves Observation/$stats: it summarizes the values of the
	// quantity search parameter param (e.g. "value-quantity") of the
	// current resources of q's Types that match q's Filters, one Stats per
	// unit (system and code as written), computed by the store (SQL
	// aggregates, Mongo aggregation), not by reading the resources.
	// quantiles (each in [0,1]) asks for those order statistics.
	Stats(ctx context.Context, q *search.Query, param string, quantiles []float64) ([]Stats, error)

	// PutDeadLetter stores d durably (d.ID set by the caller, unique);
	// storing the same ID again replaces it.
	PutDeadLetter(ctx context.Context, d DeadLetter) error
	// DeadLetters lists dead letters newest first (Received descending,
	// then ID), at most q.Count, from q.After on.
	DeadLetters(ctx context.Context, q DeadLetterQuery) (DeadLetterPage, error)
	// ReadDeadLetter returns one dead letter or ErrNotFound.
	ReadDeadLetter(ctx context.Context, id string) (*DeadLetter, error)
	// DeleteDeadLetter removes one (after a successful replay); ErrNotFound
	// when there is none.
	DeleteDeadLetter(ctx context.Context, id string) error

	// PutRecord stores r, a piece of the server's own state (see Record).
	// It is a compare-and-swap like Write: it succeeds only when the
	// stored record's Version equals expected (0: there must be none, or
	// only an expired one), and stores r with Version expected+1;
	// otherwise ErrVersionConflict and nothing is written.
	PutRecord(ctx context.Context, r Record, expected int64) error
	// GetRecord returns the record kind/id, or ErrNotFound (also when it
	// has expired).
	GetRecord(ctx context.Context, kind, id string) (*Record, error)
	// DeleteRecord removes kind/id and reports ErrNotFound when there was
	// none (or it had expired). Of two concurrent deletes exactly one
	// succeeds, so deleting is how a single-use record is consumed.
	DeleteRecord(ctx context.Context, kind, id string) error
	// ListRecords returns the unexpired records of a kind, by ID.
	ListRecords(ctx context.Context, kind string) ([]Record, error)

	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error

	// Close releases the store; writes acknowledged before it stay durable.
	Close() error
}

// Write is one new version of a resource.
type Write struct {
	Resource fhir.Resource
	Expected int64
	// Index holds the search index entries of the new version (see
	// Extractor); the store replaces the resource's previous entries with
	// them. A deletion has none.
	Index []IndexEntry
}

// Ref names one resource.
type Ref struct{ Type, ID string }

// SearchPage is one page of search results.
type SearchPage struct {
	Resources []fhir.Resource
	// Total is the number of matches of the whole search when q.Total is
	// "accurate" (or "estimate" and the store can count cheaply), else -1.
	Total int
	// Next and Prev are cursors for the following and preceding pages,
	// "" when there is none.
	Next, Prev string
}

// HistoryQuery selects versions for a history interaction. Versions come in
// the order LastUpdated descending, then Type, ID ascending, then Version
// descending, so paging by cursor is stable while new versions are written.
type HistoryQuery struct {
	// Type and ID narrow to a type ("" for all) or one instance (ID set).
	Type, ID string
	// Since keeps versions with LastUpdated >= Since (zero: no bound).
	Since time.Time
	// AtStart and AtEnd (both zero: no bound) keep versions that were
	// current at some instant in [AtStart, AtEnd): written before AtEnd and
	// not superseded before or at AtStart.
	AtStart, AtEnd time.Time
	// Count is the page size (> 0).
	Count int
	// After continues a previous page: only versions after this position.
	After *HistoryCursor
}

// HistoryCursor is a position in the history order.
type HistoryCursor struct {
	LastUpdated time.Time
	Type, ID    string
	Version     int64
}

// HistoryPage is one page of a history query.
type HistoryPage struct {
	Versions []fhir.Resource
	// Next is the cursor for the following page, nil on the last page.
	Next *HistoryCursor
}

// Stats summarizes numeric values of one unit (see Store.Stats).
type Stats struct {
	// System and Code name the unit as written ("" when absent).
	System, Code string
	Count        int
	Sum          float64
	// SumSquares is the sum of the squared values (for variance).
	SumSquares float64
	Min, Max   float64
	// Quantiles holds the asked-for order statistics, in the order asked:
	// for p the value at rank p*(Count-1) of the sorted values,
	// interpolated linearly between its neighbours.
	Quantiles []float64
}

// DeadLetter is a device message medbridge could not turn into resources,
// kept with the reason so that an operator can fix the mapping and replay
// it.
type DeadLetter struct {
	ID string
	// Mapping is the name of the mapping the message was sent to.
	Mapping string
	// Received is when medbridge received the message.
	Received time.Time
	// Payload is the message as sent (one JSON value).
	Payload []byte
	// Reason says why it was rejected; Expression, when known, is the
	// template or payload location that failed.
	Reason, Expression string
	// Attempts counts the tries (1 for the first rejection, +1 per
	// replay that failed again).
	Attempts int
}

// DeadLetterQuery selects dead letters.
type DeadLetterQuery struct {
	// Mapping narrows to one mapping ("" for all).
	Mapping string
	// Count is the page size (> 0).
	Count int
	// After continues a previous page (the Next of that page).
	After string
}

// DeadLetterPage is one page of dead letters.
type DeadLetterPage struct {
	Letters []DeadLetter
	// Next is the cursor for the following page, "" on the last page.
	Next string
}

// Record is a piece of the server's own state that is not a FHIR resource
// and must survive restarts and be shared by every server of a cluster:
// OAuth clients and users (with hashed secrets), signing keys,
// authorization codes, refresh tokens, launch contexts, replay caches.
type Record struct {
	Kind, ID string
	// Data is the record's content, opaque to the store.
	Data []byte
	// Expires, when not zero, is when the record stops existing: expired
	// records are not returned and may be purged at any time.
	Expires time.Time
	// Version counts the record's writes (1 for the first).
	Version int64
}

// AtomicError says which write made a WriteAtomic fail; nothing of that
// call was written.
type AtomicError struct {
	// Index is the position of the failed write in the call's writes.
	Index int
	// Err is that write's failure: ErrVersionConflict or the cause.
	Err error
}

func (e *AtomicError) Error() string {
	return fmt.Sprintf("storage: atomic write %d failed, nothing written: %v", e.Index, e.Err)
}

func (e *AtomicError) Unwrap() error { return e.Err }
