// Package mongo is medbridge's production store: storage.Store on MongoDB
// (a replica set in production; FerretDB v1 in tests).
//
// Two collections hold the data:
//
//	resources  the current version of every resource
//	           {_id: "Type/id", type, id, version, lastUpdated, deleted,
//	            method, json, txn, pending}
//	history    every version, the current one included
//	           {_id: "Type/id/version", type, id, version, lastUpdated,
//	            deleted, method, json, txn, committed, supersededAt}
//
// lastUpdated and supersededAt are int64 microseconds since the Unix epoch
// (a BSON date would lose the microseconds medbridge keeps); supersededAt is
// absent while a version is current. json is the canonical FHIR JSON as a
// string, absent for deletions. txn is a random token naming the Write that
// produced the version; pending and committed drive crash recovery (see
// Store.Write).
//
// MongoDB has multi-document transactions but FerretDB, used in tests, has
// none, and a history append is the only multi-document write, so the store
// uses none: the current document is the commit point and every other write
// is idempotent repair work that readers, later writers and Recover finish.
package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"

	"github.com/medbridge/medbridge/storage"
)

// DefaultDatabase is used when neither the URI path nor WithDatabase names one.
const DefaultDatabase = "medbridge"

// Store is a storage.Store on MongoDB.
type Store struct {
	client    *mongo.Client
	resources *mongo.Collection
	history   *mongo.Collection
}

var _ storage.Store = (*Store)(nil)

type config struct {
	database     string
	writeConcern *writeconcern.WriteConcern
	readConcern  *readconcern.ReadConcern
}

// Option configures Open.
type Option func(*config)

// WithDatabase selects the database, overriding the URI's path.
func WithDatabase(name string) Option {
	return func(c *config) { c.database = name }
}

// WithWriteConcern replaces the write concern. The default is
// {w: "majority", j: true} unless the URI sets w or journal, so that an
// acknowledged Write survives a primary failover and a crash.
func WithWriteConcern(wc *writeconcern.WriteConcern) Option {
	return func(c *config) { c.writeConcern = wc }
}

// WithReadConcern replaces the read concern. The default is "majority"
// unless the URI sets readConcernLevel, so that reads never return a write
// a failover could roll back.
func WithReadConcern(rc *readconcern.ReadConcern) Option {
	return func(c *config) { c.readConcern = rc }
}

// configure resolves the database and the concerns from the URI and opts.
// A URI that sets w, journal or readConcernLevel keeps its own concern.
func configure(uri string, opts []Option) (config, error) {
	cs, err := connstring.ParseAndValidate(uri)
	if err != nil {
		return config{}, fmt.Errorf("storage/mongo: %w", err)
	}
	cfg := config{database: cs.Database}
	if cfg.database == "" {
		cfg.database = DefaultDatabase
	}
	if !cs.WNumberSet && cs.WString == "" && !cs.JSet {
		journal := true
		cfg.writeConcern = &writeconcern.WriteConcern{W: "majority", Journal: &journal}
	}
	if cs.ReadConcernLevel == "" {
		cfg.readConcern = readconcern.Majority()
	}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg, nil
}

// Open connects to the MongoDB at uri, creates the indexes the store needs
// and runs Recover. The database is the URI's path, or "medbridge".
func Open(ctx context.Context, uri string, opts ...Option) (*Store, error) {
	cfg, err := configure(uri, opts)
	if err != nil {
		return nil, err
	}
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return nil, fmt.Errorf("storage/mongo: connecting: %w", err)
	}
	dbOpts := options.Database()
	if cfg.writeConcern != nil {
		dbOpts.SetWriteConcern(cfg.writeConcern)
	}
	if cfg.readConcern != nil {
		dbOpts.SetReadConcern(cfg.readConcern)
	}
	db := client.Database(cfg.database, dbOpts)
	s := &Store{
		client:    client,
		resources: db.Collection("resources"),
		history:   db.Collection("history"),
	}
	if err := s.start(ctx); err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, err
	}
	return s, nil
}

func (s *Store) start(ctx context.Context) error {
	if err := s.Ping(ctx); err != nil {
		return err
	}
	if err := s.createIndexes(ctx); err != nil {
		return err
	}
	return s.Recover(ctx)
}

// indexes are the indexes the queries use, per collection.
var indexes = map[string][]mongo.IndexModel{
	"resources": {
		// Recover finds writes that stopped after their commit point.
		{Keys: bson.D{{Key: "pending", Value: 1}}},
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
}

// createIndexes creates the indexes; creating an index that exists with
// the same keys and options is a no-op. One index per command: FerretDB
// v1.24 panics on a createIndexes listing two or more existing indexes
// (it deletes from the list by a stale position).
func (s *Store) createIndexes(ctx context.Context) error {
	for _, c := range []*mongo.Collection{s.resources, s.history} {
		for _, m := range indexes[c.Name()] {
			if _, err := c.Indexes().CreateOne(ctx, m); err != nil {
				return fmt.Errorf("storage/mongo: creating %s index: %w", c.Name(), err)
			}
		}
	}
	return nil
}

// Ping reports whether the primary answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx, readpref.Primary()); err != nil {
		return fmt.Errorf("storage/mongo: ping: %w", err)
	}
	return nil
}

// Close disconnects. Every acknowledged Write was already durable.
func (s *Store) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.client.Disconnect(ctx); err != nil && !errors.Is(err, mongo.ErrClientDisconnected) {
		return fmt.Errorf("storage/mongo: close: %w", err)
	}
	return nil
}
