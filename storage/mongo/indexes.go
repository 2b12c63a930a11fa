package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// indexes are the indexes the queries use, per collection.
//
// Search (see index.go for the fields) on real MongoDB:
//
//	shape                                     served by
//	token, reference, uri, string :exact,     {type, k}: equality or $in on k
//	  :of-type, :in, chains (k $in refs),
//	  quantity unit, :missing=false
//	string (starts-with), token :text,        {type, k}: the regex is anchored
//	  uri :below                              with a literal prefix, so the
//	                                          scan is bounded to that prefix
//	string :contains                          {type, k}: scan of the
//	                                          parameter's "param|n|" keys
//	date, number, quantity value              {d.$**}: range on d.<p>.s/e/v/c
//	:missing=true, :not, :not-in              {type, _id}-ordered scan of the
//	                                          type ($nor cannot use an index)
//	_has, ReadCurrent                         _id: $in
//	no filter, default order (_id)            _id, bounded by type
//	_sort=_lastUpdated / -_lastUpdated        {type, o._lastUpdated.a|d, _id}
//	other _sort                               {o.$**} when the filter is on
//	                                          the same key, else an in-memory
//	                                          top-k sort of the matches
//	LastN: one group, newest first            {type, lastn, o.date.d, _id}
//
// DeadLetters reads deadletters by {received, _id}, or by {mapping,
// received, _id} for one mapping, in the listing order.
//
// Records (record.go) are written, read and deleted by _id; ListRecords
// reads {kind, id} in the listing order. A TTL index on expires lets
// MongoDB delete expired records.
//
// FerretDB v1 can create neither wildcard nor TTL indexes (and uses no
// index anyway), so those are created on MongoDB only. Without the TTL
// index expired records stay, invisible, since until decides expiry.
var indexes = map[string][]mongo.IndexModel{
	"resources": {
		// Recover finds writes that stopped after their commit point.
		{Keys: bson.D{{Key: "pending", Value: 1}}},
		// Search: lookup keys.
		{Keys: bson.D{{Key: "type", Value: 1}, {Key: "k", Value: 1}}},
		// Search: the default order within a type, and :missing=true.
		{Keys: bson.D{{Key: "type", Value: 1}, {Key: "_id", Value: 1}}},
		// Search: the most common sort.
		{Keys: bson.D{{Key: "type", Value: 1}, {Key: "o._lastUpdated.a", Value: -1}, {Key: "_id", Value: 1}}},
		{Keys: bson.D{{Key: "type", Value: 1}, {Key: "o._lastUpdated.d", Value: -1}, {Key: "_id", Value: 1}}},
		// LastN: a group's Observations newest first (see aggregate.go).
		{Keys: bson.D{{Key: "type", Value: 1}, {Key: "lastn", Value: 1}, {Key: "o.date.d", Value: -1}, {Key: "_id", Value: 1}}},
	},
	"history": {
		// Instance history; also keeps one document per version.
		{Keys: bson.D{{Key: "type", Value: 1}, {Key: "id", Value: 1}, {Key: "version", Value: -1}},
			Options: options.Index().SetUnique(true)},
		// System history, in the history order.
		{Keys: bson.D{{Key: "lastUpdated", Value: -1}, {Key: "type", Value: 1}, {Key: "id", Value: 1}, {Key: "version", Value: -1}}},
		// Type history, in the history order.
		{Keys: bson.D{{Key: "type", Value: 1}, {Key: "lastUpdated", Value: -1}, {Key: "id", Value: 1}, {Key: "version", Value: -1}}},
		// Recover finds uncommitted versions.
		{Keys: bson.D{{Key: "committed", Value: 1}}},
	},
	"deadletters": {
		// DeadLetters, in the listing order.
		{Keys: bson.D{{Key: "received", Value: -1}, {Key: "_id", Value: 1}}},
		// DeadLetters of one mapping, in the listing order.
		{Keys: bson.D{{Key: "mapping", Value: 1}, {Key: "received", Value: -1}, {Key: "_id", Value: 1}}},
	},
	"records": {
		// ListRecords, in the listing order.
		{Keys: bson.D{{Key: "kind", Value: 1}, {Key: "id", Value: 1}}},
	},
}

// mongoDBOnlyIndexes are created on MongoDB only (see indexes).
var mongoDBOnlyIndexes = map[string][]mongo.IndexModel{
	"resources": {
		// Search: date, number and quantity ranges on d.<param>.
		{Keys: bson.D{{Key: "d.$**", Value: 1}}},
		// Search: sorting by any parameter.
		{Keys: bson.D{{Key: "o.$**", Value: 1}}},
	},
	"records": {
		// Deletes a record once expires has passed (a record without
		// expires never expires).
		{Keys: bson.D{{Key: "expires", Value: 1}}, Options: options.Index().SetExpireAfterSeconds(0)},
	},
}

// createIndexes creates the indexes; creating an index that exists with
// the same keys and options is a no-op. One index per command: FerretDB
// v1.24 panics on a createIndexes listing two or more existing indexes
// (it deletes from the list by a stale position).
func (s *Store) createIndexes(ctx context.Context) error {
	ferret, err := s.isFerretDB(ctx)
	if err != nil {
		return err
	}
	for _, c := range []*mongo.Collection{s.resources, s.history, s.deadLetterCollection(), s.recordCollection()} {
		models := indexes[c.Name()]
		if !ferret {
			models = append(models[:len(models):len(models)], mongoDBOnlyIndexes[c.Name()]...)
		}
		for _, m := range models {
			if _, err := c.Indexes().CreateOne(ctx, m); err != nil {
				return fmt.Errorf("storage/mongo: creating %s index: %w", c.Name(), err)
			}
		}
	}
	return nil
}

// isFerretDB reports whether the server is FerretDB, whose buildInfo has
// a ferretdbVersion.
func (s *Store) isFerretDB(ctx context.Context) (bool, error) {
	var info bson.M
	err := s.client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info)
	if err != nil {
		return false, fmt.Errorf("storage/mongo: buildInfo: %w", err)
	}
	_, ok := info["ferretdbVersion"]
	return ok, nil
}
