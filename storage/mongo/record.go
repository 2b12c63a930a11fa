package mongo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/medbridge/medbridge/storage"
)

// Records are documents of their own collection, one per kind/id:
//
//	records  {_id: "kind/id", kind, id, data, version, until, expires}
//
// data is BSON binary, so it comes back byte for byte. until is int64
// microseconds since the Unix epoch, the instant the record stops
// existing (math.MaxInt64: never), and decides expiry in every filter, by
// the clock of the process that runs it. expires is until as a BSON date
// rounded up to the millisecond, absent when the record never expires: the
// TTL index on it lets MongoDB purge expired records (FerretDB v1 cannot
// create a TTL index and keeps them; they are invisible all the same).
// Rounding up keeps MongoDB from purging a record before it has expired.
//
// Every operation is one single-document write whose filter decides it,
// which MongoDB checks atomically with the write, so no transaction is
// needed.

// never is the until of a record that does not expire.
const never = math.MaxInt64

// recordDoc is a record as stored.
type recordDoc struct {
	Key     string    `bson:"_id"`
	Kind    string    `bson:"kind"`
	ID      string    `bson:"id"`
	Data    []byte    `bson:"data"`
	Version int64     `bson:"version"`
	Until   int64     `bson:"until"`
	Expires time.Time `bson:"expires,omitempty"`
}

// newRecordDoc is r as stored with the given version.
func newRecordDoc(r storage.Record, version int64) recordDoc {
	d := recordDoc{
		Key: recordKey(r.Kind, r.ID), Kind: r.Kind, ID: r.ID, Data: r.Data,
		Version: version, Until: never,
	}
	if d.Data == nil {
		d.Data = []byte{} // binary, not null
	}
	if !r.Expires.IsZero() {
		d.Until = micros(r.Expires)
		d.Expires = fromMicros(d.Until).Truncate(time.Millisecond)
		if d.Expires.Before(r.Expires) {
			d.Expires = d.Expires.Add(time.Millisecond)
		}
	}
	return d
}

// record is the stored record d.
func (d *recordDoc) record() storage.Record {
	r := storage.Record{Kind: d.Kind, ID: d.ID, Data: d.Data, Version: d.Version}
	if d.Until != never {
		r.Expires = fromMicros(d.Until)
	}
	return r
}

// recordKey is the _id of kind/id. The kind is path-escaped, which leaves
// the usual kinds as they are and keeps a "/" in a kind from making two
// records share a key.
func recordKey(kind, id string) string { return url.PathEscape(kind) + "/" + id }

// recordCollection is the records collection, in the database and with
// the concerns of the others.
func (s *Store) recordCollection() *mongo.Collection {
	return s.resources.Database().Collection("records")
}

// live is the filter condition that a record has not expired now.
func live() bson.E {
	return bson.E{Key: "until", Value: bson.D{{Key: "$gt", Value: micros(time.Now())}}}
}

// PutRecord stores r with Version expected+1 when the stored, unexpired
// record has Version expected (0: none, or only an expired one), and
// returns storage.ErrVersionConflict otherwise; r.Version is ignored. See
// storage.Store.
func (s *Store) PutRecord(ctx context.Context, r storage.Record, expected int64) error {
	if r.Kind == "" || r.ID == "" {
		return errors.New("storage/mongo: put record: no kind or id")
	}
	var err error
	switch {
	case expected < 0:
		err = storage.ErrVersionConflict
	case expected == 0:
		err = s.createRecord(ctx, newRecordDoc(r, 1))
	default:
		err = s.replaceRecord(ctx, newRecordDoc(r, expected+1),
			bson.D{{Key: "_id", Value: recordKey(r.Kind, r.ID)}, {Key: "version", Value: expected}, live()})
	}
	if err != nil {
		return fmt.Errorf("storage/mongo: put record %s/%s at version %d: %w", r.Kind, r.ID, expected, err)
	}
	return nil
}

// createRecord inserts doc, or replaces the document with its _id if that
// has expired; otherwise it returns storage.ErrVersionConflict. The insert
// is not an upsert because FerretDB reports a duplicate key from an upsert
// as an InternalError, which could be something else. When the replace
// matches nothing, the document that failed the insert may have gone
// meanwhile (purged by the TTL index), so the insert is tried once more.
func (s *Store) createRecord(ctx context.Context, doc recordDoc) error {
	for range 2 {
		_, err := s.recordCollection().InsertOne(ctx, doc)
		if err == nil || !isDuplicate(err) {
			return err
		}
		expired := bson.D{{Key: "_id", Value: doc.Key},
			{Key: "until", Value: bson.D{{Key: "$lte", Value: micros(time.Now())}}}}
		if err := s.replaceRecord(ctx, doc, expired); !errors.Is(err, storage.ErrVersionConflict) {
			return err
		}
	}
	return storage.ErrVersionConflict
}

// replaceRecord replaces the document that matches filter by doc, or
// returns storage.ErrVersionConflict when none does.
func (s *Store) replaceRecord(ctx context.Context, doc recordDoc, filter bson.D) error {
	res, err := s.recordCollection().ReplaceOne(ctx, filter, doc)
	if err != nil {
		return err
	}
	if res.MatchedCount == 0 {
		return storage.ErrVersionConflict
	}
	return nil
}

// GetRecord returns the unexpired record kind/id, or storage.ErrNotFound.
func (s *Store) GetRecord(ctx context.Context, kind, id string) (*storage.Record, error) {
	// Filtering on _id alone, and on expiry here, lets FerretDB look the
	// document up by key instead of scanning the collection.
	var doc recordDoc
	err := s.recordCollection().FindOne(ctx, bson.D{{Key: "_id", Value: recordKey(kind, id)}}).Decode(&doc)
	if err == nil && doc.Until <= micros(time.Now()) {
		err = mongo.ErrNoDocuments
	}
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("storage/mongo: record %s/%s: %w", kind, id, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("storage/mongo: record %s/%s: %w", kind, id, err)
	}
	r := doc.record()
	return &r, nil
}

// DeleteRecord removes the unexpired record kind/id, or returns
// storage.ErrNotFound when there is none. Of concurrent deletes only one
// matches the document, so exactly one succeeds.
func (s *Store) DeleteRecord(ctx context.Context, kind, id string) error {
	res, err := s.recordCollection().DeleteOne(ctx, bson.D{{Key: "_id", Value: recordKey(kind, id)}, live()})
	if err != nil {
		return fmt.Errorf("storage/mongo: delete record %s/%s: %w", kind, id, err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("storage/mongo: delete record %s/%s: %w", kind, id, storage.ErrNotFound)
	}
	return nil
}

// ListRecords returns the unexpired records of kind, by ID.
func (s *Store) ListRecords(ctx context.Context, kind string) ([]storage.Record, error) {
	var docs []recordDoc
	err := findAll(ctx, s.recordCollection(), bson.D{{Key: "kind", Value: kind}, live()}, &docs,
		options.Find().SetSort(bson.D{{Key: "id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("storage/mongo: list records %s: %w", kind, err)
	}
	var out []storage.Record
	for i := range docs {
		out = append(out, docs[i].record())
	}
	return out, nil
}
