package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// finishTimeout bounds the history bookkeeping after a Write's commit point,
// which runs even when the caller's context is cancelled: the write has
// happened, and finishing now spares the next writer the repair.
const finishTimeout = 30 * time.Second

// Write implements storage.Store.Write without multi-document transactions.
// The current document (resources/"Type/id") is the commit point: the Write
// has happened exactly when it holds the new version, together with the
// version's search index (w.Index, in the fields of index.go), so searches
// see the old version's index or the new one's, never a mix. Writing version v
// (= Expected+1) takes these steps, each one document write:
//
//  1. stage: upsert history "Type/id/v" with committed=false and a random
//     txn, unless a committed document has that _id (then the version
//     exists: ErrVersionConflict). An uncommitted leftover of a writer that
//     died, or of a concurrent writer, is overwritten.
//  2. commit: compare-and-swap the current document. Expected 0 inserts
//     "Type/id" (duplicate key: ErrVersionConflict); otherwise ReplaceOne
//     filtered on {_id, version: Expected, pending: false}. The new current
//     document carries the txn and pending=true. If nothing matched and the
//     current version is Expected but pending, the previous Write is
//     finished first (steps 3–5 from the current document) and the swap
//     retried; any other mismatch is ErrVersionConflict, after deleting our
//     staged document if it is still uncommitted and still ours (same txn).
//  3. set supersededAt on history v-1 to v's lastUpdated.
//  4. upsert history v from the version's fields with committed=true. This
//     rewrites the whole version, so it also repairs a staged document that
//     a concurrent loser overwrote in step 1 or deleted while cleaning up.
//  5. clear pending on the current document (filtered on version and txn).
//
// Steps 3–5 depend only on the current document, so anyone can run them:
// Write after its commit, the next Write to the same resource (step 2),
// and Recover. Invariants: a version's history document is committed only
// after its predecessor's supersededAt is set (3 before 4), and the current
// document leaves version v only after history v is committed (pending
// blocks the swap), so the content of every version reaches history before
// the current document is overwritten.
//
// A crash (of the writer, or of anything between it and the database)
// after step
//   - 0 or 1: nothing is committed; at most an uncommitted history v is
//     left. Readers ignore it (the current version is below v); the next
//     writer of v overwrites it; Recover deletes it.
//   - 2: v is committed and Read returns it; history v is uncommitted (or
//     missing, or a concurrent loser's, which readers tell by the txn) and
//     v-1 lacks supersededAt. Readers treat history v as committed when the
//     current document has version v and the same txn, and take the
//     supersession time from the current document; the next Write to the
//     resource, or Recover, runs steps 3–5.
//   - 3 or 4: the same, with fewer steps left to redo.
//   - 5: done.
//
// Step 1 of a loser may overwrite the winner's staged document and its
// cleanup may delete it; step 4 and the pending flag make that harmless
// (until then the version is missing from History, never wrong). Why not
// the simpler order without the pending flag: a loser's staged document
// could then replace the winner's, the winner die before step 4, and the
// next Write overwrite the current document, losing the winner's content.
//
// The design needs only what MongoDB guarantees for a single document: a
// write's filter is checked atomically with the write. (FerretDB v1 does
// not guarantee even that; see storage/mongo/mongotest.)
// A nil error means the commit (step 2) was acknowledged with the store's
// write concern; errors from steps 3–5 are not reported because the write
// has happened and they are repaired later.
func (s *Store) Write(ctx context.Context, w storage.Write) error {
	r := w.Resource
	if w.Expected < 0 || r.Version != w.Expected+1 {
		return fmt.Errorf("%w: version %d does not follow %d", storage.ErrVersionConflict, r.Version, w.Expected)
	}
	if r.Type == "" || r.ID == "" {
		return fmt.Errorf("storage/mongo: write without type or id")
	}
	doc := newCurrentDoc(r)
	if !r.Deleted {
		if err := doc.setIndex(w.Index); err != nil {
			return err
		}
	}
	if err := s.stage(ctx, doc); err != nil {
		return err
	}
	if err := s.commit(ctx, doc, w.Expected); err != nil {
		s.discard(ctx, doc)
		return err
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	_ = s.finish(fctx, doc)
	return nil
}

// newCurrentDoc is the current document a Write of r commits, with a
// fresh txn.
func newCurrentDoc(r fhir.Resource) *currentDoc {
	doc := &currentDoc{
		Key:         currentKey(r.Type, r.ID),
		Type:        r.Type,
		ID:          r.ID,
		Version:     r.Version,
		LastUpdated: micros(r.LastUpdated),
		Deleted:     r.Deleted,
		Method:      r.Method,
		Txn:         newTxn(),
		Pending:     true,
	}
	if !r.Deleted {
		doc.JSON = string(r.JSON)
	}
	return doc
}

// stage is step 1 of Write.
func (s *Store) stage(ctx context.Context, doc *currentDoc) error {
	h := historyDoc{
		Key:         historyKey(doc.Type, doc.ID, doc.Version),
		Type:        doc.Type,
		ID:          doc.ID,
		Version:     doc.Version,
		LastUpdated: doc.LastUpdated,
		Deleted:     doc.Deleted,
		Method:      doc.Method,
		JSON:        doc.JSON,
		Txn:         doc.Txn,
	}
	filter := bson.D{{Key: "_id", Value: h.Key}, {Key: "committed", Value: false}}
	var err error
	// A duplicate key means a committed document (the version exists) or a
	// concurrent stager that inserted first; the retry replaces the latter.
	for range 3 {
		_, err = s.history.ReplaceOne(ctx, filter, h, options.Replace().SetUpsert(true))
		if err == nil || !isDuplicate(err) {
			break
		}
		var got historyDoc
		ferr := s.history.FindOne(ctx, bson.D{{Key: "_id", Value: h.Key}}).Decode(&got)
		if ferr == nil && got.Committed {
			return fmt.Errorf("%w: %s exists", storage.ErrVersionConflict, h.Key)
		}
	}
	if err != nil {
		return fmt.Errorf("storage/mongo: staging %s: %w", h.Key, err)
	}
	return nil
}

// commit is step 2 of Write, the compare-and-swap on the current document.
func (s *Store) commit(ctx context.Context, doc *currentDoc, expected int64) error {
	if expected == 0 {
		_, err := s.resources.InsertOne(ctx, doc)
		if err == nil {
			return nil
		}
		if isDuplicate(err) {
			if _, ferr := s.current(ctx, doc.Key); ferr == nil {
				return fmt.Errorf("%w: %s exists", storage.ErrVersionConflict, doc.Key)
			}
		}
		return fmt.Errorf("storage/mongo: creating %s: %w", doc.Key, err)
	}
	// Each retry follows a finish of the previous version, which only its
	// own writer, a helper or Recover can make pending again: never.
	return s.swap(ctx, doc, expected, 3)
}

// swap replaces the current document at version expected by doc: a
// ReplaceOne filtered on the version and not pending. A pending current
// document at that version (a Write between its steps) is finished first,
// up to tries times; any other version is ErrVersionConflict.
func (s *Store) swap(ctx context.Context, doc *currentDoc, expected int64, tries int) error {
	filter := bson.D{
		{Key: "_id", Value: doc.Key},
		{Key: "version", Value: expected},
		{Key: "pending", Value: false},
	}
	for range tries {
		res, err := s.resources.ReplaceOne(ctx, filter, doc)
		if err != nil {
			return fmt.Errorf("storage/mongo: updating %s: %w", doc.Key, err)
		}
		if res.MatchedCount == 1 {
			return nil
		}
		cur, err := s.current(ctx, doc.Key)
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("%w: %s does not exist", storage.ErrVersionConflict, doc.Key)
		}
		if err != nil {
			return err
		}
		if cur.Version != expected {
			return fmt.Errorf("%w: %s is at version %d, not %d", storage.ErrVersionConflict, doc.Key, cur.Version, expected)
		}
		if cur.Pending {
			if err := s.finish(ctx, cur); err != nil {
				return err
			}
		}
	}
	return fmt.Errorf("storage/mongo: %s version %d stays pending", doc.Key, expected)
}

// discard removes the history document a failed Write staged, if it is
// still uncommitted and still ours.
func (s *Store) discard(ctx context.Context, doc *currentDoc) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	_, _ = s.history.DeleteOne(ctx, bson.D{
		{Key: "_id", Value: historyKey(doc.Type, doc.ID, doc.Version)},
		{Key: "txn", Value: doc.Txn},
		{Key: "committed", Value: false},
	})
}

// finish runs steps 3–5 of Write for cur, the current document; every
// step is idempotent.
func (s *Store) finish(ctx context.Context, cur *currentDoc) error {
	if err := s.supersede(ctx, cur); err != nil {
		return err
	}
	if err := s.commitHistory(ctx, cur); err != nil {
		return err
	}
	return s.clearPending(ctx, cur)
}

// supersede is step 3.
func (s *Store) supersede(ctx context.Context, cur *currentDoc) error {
	if cur.Version <= 1 {
		return nil
	}
	prev := historyKey(cur.Type, cur.ID, cur.Version-1)
	_, err := s.history.UpdateOne(ctx, bson.D{{Key: "_id", Value: prev}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "supersededAt", Value: cur.LastUpdated}}}})
	if err != nil {
		return fmt.Errorf("storage/mongo: superseding %s: %w", prev, err)
	}
	return nil
}

// commitHistory is step 4.
func (s *Store) commitHistory(ctx context.Context, cur *currentDoc) error {
	key := historyKey(cur.Type, cur.ID, cur.Version)
	set := append(cur.versionFields(), bson.E{Key: "committed", Value: true})
	update := bson.D{{Key: "$set", Value: set}}
	if cur.Deleted {
		update = append(update, bson.E{Key: "$unset", Value: bson.D{{Key: "json", Value: ""}}})
	}
	var err error
	// Two concurrent upserts of a missing document can collide; the second
	// try finds the document and updates it.
	for range 2 {
		_, err = s.history.UpdateOne(ctx, bson.D{{Key: "_id", Value: key}}, update, options.UpdateOne().SetUpsert(true))
		if err == nil || !isDuplicate(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("storage/mongo: committing %s: %w", key, err)
	}
	return nil
}

// clearPending is step 5.
func (s *Store) clearPending(ctx context.Context, cur *currentDoc) error {
	_, err := s.resources.UpdateOne(ctx, bson.D{
		{Key: "_id", Value: cur.Key},
		{Key: "version", Value: cur.Version},
		{Key: "txn", Value: cur.Txn},
	}, bson.D{{Key: "$set", Value: bson.D{{Key: "pending", Value: false}}}})
	if err != nil {
		return fmt.Errorf("storage/mongo: finishing %s: %w", cur.Key, err)
	}
	return nil
}

// Recover finishes every Write that stopped after its commit point and
// removes the staged history of every Write that stopped before it. Open
// runs it; it is safe to run at any time, concurrently with Writes.
func (s *Store) Recover(ctx context.Context) error {
	var pending []*currentDoc
	if err := findAll(ctx, s.resources, bson.D{{Key: "pending", Value: true}}, &pending); err != nil {
		return fmt.Errorf("storage/mongo: recover: %w", err)
	}
	for _, cur := range pending {
		if err := s.finish(ctx, cur); err != nil {
			return fmt.Errorf("storage/mongo: recover: %w", err)
		}
	}
	var staged []*historyDoc
	if err := findAll(ctx, s.history, bson.D{{Key: "committed", Value: false}}, &staged); err != nil {
		return fmt.Errorf("storage/mongo: recover: %w", err)
	}
	for _, h := range staged {
		if err := s.settle(ctx, h); err != nil {
			return fmt.Errorf("storage/mongo: recover: %w", err)
		}
	}
	return nil
}

// settle resolves one uncommitted history document.
func (s *Store) settle(ctx context.Context, h *historyDoc) error {
	cur, err := s.current(ctx, currentKey(h.Type, h.ID))
	switch {
	case errors.Is(err, storage.ErrNotFound) || err == nil && cur.Version < h.Version:
		// Staged by a Write that never committed.
		_, err = s.history.DeleteOne(ctx, bson.D{
			{Key: "_id", Value: h.Key}, {Key: "txn", Value: h.Txn}, {Key: "committed", Value: false},
		})
		return err
	case err != nil:
		return err
	case cur.Version == h.Version:
		// Committed; finishing also replaces a loser's content by the winner's.
		return s.finish(ctx, cur)
	default:
		// Committed and superseded. The pending flag makes this unreachable
		// for documents this package wrote; commit it anyway, as the
		// current version proves it was committed.
		if err := s.supersede(ctx, &currentDoc{Type: h.Type, ID: h.ID, Version: h.Version, LastUpdated: h.LastUpdated}); err != nil {
			return err
		}
		_, err = s.history.UpdateOne(ctx, bson.D{{Key: "_id", Value: h.Key}, {Key: "txn", Value: h.Txn}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "committed", Value: true}}}})
		return err
	}
}

// current reads the current document of key, or storage.ErrNotFound.
func (s *Store) current(ctx context.Context, key string) (*currentDoc, error) {
	var d currentDoc
	err := s.resources.FindOne(ctx, bson.D{{Key: "_id", Value: key}}, options.FindOne().SetProjection(withoutIndex)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, storage.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage/mongo: reading %s: %w", key, err)
	}
	return &d, nil
}

func findAll[T any](ctx context.Context, c *mongo.Collection, filter bson.D, out *[]T, opts ...options.Lister[options.FindOptions]) error {
	cur, err := c.Find(ctx, filter, opts...)
	if err != nil {
		return err
	}
	return cur.All(ctx, out)
}
