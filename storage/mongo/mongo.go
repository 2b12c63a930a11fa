// Package mongo is medbridge's production store: storage.Store on MongoDB
// (a replica set in production; FerretDB v1 in tests).
//
// Two collections hold the data:
//
//	resources  the current version of every resource
//	           {_id: "Type/id", type, id, version, lastUpdated, deleted,
//	            method, json, txn, pending, k, d, ix, o}
//	history    every version, the current one included
//	           {_id: "Type/id/version", type, id, version, lastUpdated,
//	            deleted, method, json, txn, committed, supersededAt}
//
// lastUpdated and supersededAt are int64 microseconds since the Unix epoch
// (a BSON date would lose the microseconds medbridge keeps); supersededAt is
// absent while a version is current. json is the canonical FHIR JSON as a
// string, absent for deletions. txn is a random token naming the Write that
// produced the version; pending and committed drive crash recovery (see
// Store.Write). k, d, ix and o are the version's search index, absent for
// deletions (see index.go); being part of the current document, they change
// with it atomically.
//
// MongoDB has multi-document transactions but FerretDB, used in tests, has
// none, and a history append is the only multi-document write, so Write
// uses none: the current document is the commit point and every other write
// is idempotent repair work that readers, later writers and Recover finish.
// Only WriteAtomic needs a transaction, and refuses with
// storage.ErrNoTransactions on a server that has none (atomic.go).
package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

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
	// transactions is whether the server runs multi-document
	// transactions, asked once by Open.
	transactions bool
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
	var err error
	if s.transactions, err = s.supportsTransactions(ctx); err != nil {
		return err
	}
	if err := s.createIndexes(ctx); err != nil {
		return err
	}
	return s.Recover(ctx)
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
