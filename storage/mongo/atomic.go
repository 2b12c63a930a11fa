package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"

	"github.com/medbridge/medbridge/storage"
)

// supportsTransactions asks the server, with hello, whether it can run
// multi-document transactions: a replica set member (setName) or a mongos
// router (msg "isdbgrid") can; a standalone server and FerretDB, which
// reports neither, cannot. Open asks once and the store keeps the answer.
func (s *Store) supportsTransactions(ctx context.Context) (bool, error) {
	var hello struct {
		SetName string `bson:"setName"`
		Msg     string `bson:"msg"`
	}
	err := s.client.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello)
	if err != nil {
		return false, fmt.Errorf("storage/mongo: hello: %w", err)
	}
	return hello.SetName != "" || hello.Msg == "isdbgrid", nil
}

// WriteAtomic implements storage.Store.WriteAtomic with one multi-document
// transaction (read and write concern majority). Inside it every write is
// the compare-and-swap of Write's step 2 followed by steps 3 and 4, with
// the current document written finished (pending false) and the history
// document committed from the start: the transaction commits all of them
// at once or none, so no step is left for Recover, and Write's protocol
// stays correct beside it (a Write staging the same version finds the
// committed history document and conflicts). A current document left
// pending by an unfinished Write is finished inside the transaction first.
// The driver retries the transaction on transient errors (write conflicts
// with concurrent writers, a failover) for up to two minutes.
//
// On a server without transactions (see supportsTransactions) every call,
// an empty one included, returns storage.ErrNoTransactions and writes
// nothing.
func (s *Store) WriteAtomic(ctx context.Context, ws []storage.Write) error {
	if !s.transactions {
		return fmt.Errorf("storage/mongo: the server is neither a replica set nor a sharded cluster: %w", storage.ErrNoTransactions)
	}
	if len(ws) == 0 {
		return nil
	}
	docs := make([]*currentDoc, len(ws))
	for i, w := range ws {
		r := w.Resource
		switch {
		case w.Expected < 0 || r.Version != w.Expected+1:
			return &storage.AtomicError{Index: i, Err: fmt.Errorf("%w: version %d does not follow %d", storage.ErrVersionConflict, r.Version, w.Expected)}
		case r.Type == "" || r.ID == "":
			return &storage.AtomicError{Index: i, Err: errors.New("storage/mongo: write without type or id")}
		}
		docs[i] = newCurrentDoc(r)
		docs[i].Pending = false
		if !r.Deleted {
			if err := docs[i].setIndex(w.Index); err != nil {
				return &storage.AtomicError{Index: i, Err: err}
			}
		}
	}
	sess, err := s.client.StartSession()
	if err != nil {
		return fmt.Errorf("storage/mongo: atomic write: %w", err)
	}
	defer sess.EndSession(context.WithoutCancel(ctx))
	opts := options.Transaction().SetReadConcern(readconcern.Majority()).SetWriteConcern(writeconcern.Majority())
	_, err = sess.WithTransaction(ctx, func(ctx context.Context) (any, error) {
		for i, doc := range docs {
			if err := s.writeInTransaction(ctx, doc, ws[i].Expected); err != nil {
				return nil, &storage.AtomicError{Index: i, Err: err}
			}
		}
		return nil, nil
	}, opts)
	var ae *storage.AtomicError
	if err != nil && !errors.As(err, &ae) {
		return fmt.Errorf("storage/mongo: atomic write: %w", err)
	}
	return err
}

// writeInTransaction writes doc, a finished current document, as version
// expected+1 inside the session's transaction in ctx: the compare-and-swap
// on the current document, then the supersession of the previous version
// and the committed history document.
func (s *Store) writeInTransaction(ctx context.Context, doc *currentDoc, expected int64) error {
	if expected == 0 {
		_, err := s.resources.InsertOne(ctx, doc)
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("%w: %s exists", storage.ErrVersionConflict, doc.Key)
		}
		if err != nil {
			return fmt.Errorf("storage/mongo: creating %s: %w", doc.Key, err)
		}
	} else if err := s.swap(ctx, doc, expected, 2); err != nil {
		return err
	}
	if err := s.supersede(ctx, doc); err != nil {
		return err
	}
	return s.commitHistory(ctx, doc)
}
