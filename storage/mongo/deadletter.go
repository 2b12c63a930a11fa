package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/medbridge/medbridge/storage"
)

// Dead letters are documents of their own collection, one per letter:
//
//	deadletters  {_id: ID, mapping, received, payload, reason, expression,
//	              attempts}
//
// received is int64 microseconds since the Unix epoch, like lastUpdated;
// payload is BSON binary, so it comes back byte for byte.

// deadLetterDoc is a dead letter as stored.
type deadLetterDoc struct {
	ID         string `bson:"_id"`
	Mapping    string `bson:"mapping"`
	Received   int64  `bson:"received"`
	Payload    []byte `bson:"payload"`
	Reason     string `bson:"reason"`
	Expression string `bson:"expression"`
	Attempts   int    `bson:"attempts"`
}

func (d *deadLetterDoc) letter() storage.DeadLetter {
	return storage.DeadLetter{
		ID: d.ID, Mapping: d.Mapping, Received: fromMicros(d.Received), Payload: d.Payload,
		Reason: d.Reason, Expression: d.Expression, Attempts: d.Attempts,
	}
}

// deadLetterCollection is the deadletters collection, in the database and
// with the concerns of the others.
func (s *Store) deadLetterCollection() *mongo.Collection {
	return s.resources.Database().Collection("deadletters")
}

// PutDeadLetter stores d, replacing a dead letter with the same ID; see
// storage.Store.
func (s *Store) PutDeadLetter(ctx context.Context, d storage.DeadLetter) error {
	if d.ID == "" {
		return errors.New("storage/mongo: put dead letter: no id")
	}
	payload := d.Payload
	if payload == nil {
		payload = []byte{} // binary, not null
	}
	doc := deadLetterDoc{
		ID: d.ID, Mapping: d.Mapping, Received: micros(d.Received), Payload: payload,
		Reason: d.Reason, Expression: d.Expression, Attempts: d.Attempts,
	}
	var err error
	// Two concurrent upserts of a missing document can collide; the second
	// try finds the document and replaces it.
	for range 2 {
		_, err = s.deadLetterCollection().ReplaceOne(ctx, bson.D{{Key: "_id", Value: d.ID}}, doc,
			options.Replace().SetUpsert(true))
		if err == nil || !isDuplicate(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("storage/mongo: put dead letter %s: %w", d.ID, err)
	}
	return nil
}

// DeadLetters lists dead letters newest first; see storage.Store. A cursor
// it did not make gives storage.ErrBadCursor.
func (s *Store) DeadLetters(ctx context.Context, q storage.DeadLetterQuery) (storage.DeadLetterPage, error) {
	if q.Count <= 0 {
		return storage.DeadLetterPage{}, fmt.Errorf("storage/mongo: dead letters count %d is not positive", q.Count)
	}
	filter := bson.D{}
	if q.Mapping != "" {
		filter = append(filter, bson.E{Key: "mapping", Value: q.Mapping})
	}
	if q.After != "" {
		received, id, err := storage.DecodeDeadLetterCursor(q.After)
		if err != nil {
			return storage.DeadLetterPage{}, fmt.Errorf("storage/mongo: dead letters: %w", err)
		}
		// $lte bounds the index range; $or drops the letters of the same
		// instant up to the cursor's.
		filter = append(filter,
			bson.E{Key: "received", Value: bson.D{{Key: "$lte", Value: received}}},
			bson.E{Key: "$or", Value: bson.A{
				bson.D{{Key: "received", Value: bson.D{{Key: "$lt", Value: received}}}},
				bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: id}}}},
			}})
	}
	opts := options.Find().
		SetSort(bson.D{{Key: "received", Value: -1}, {Key: "_id", Value: 1}}).
		SetLimit(int64(q.Count) + 1)
	var docs []deadLetterDoc
	if err := findAll(ctx, s.deadLetterCollection(), filter, &docs, opts); err != nil {
		return storage.DeadLetterPage{}, fmt.Errorf("storage/mongo: dead letters: %w", err)
	}
	var page storage.DeadLetterPage
	if len(docs) > q.Count {
		docs = docs[:q.Count]
		last := docs[len(docs)-1]
		page.Next = storage.EncodeDeadLetterCursor(last.Received, last.ID)
	}
	page.Letters = make([]storage.DeadLetter, len(docs))
	for i := range docs {
		page.Letters[i] = docs[i].letter()
	}
	return page, nil
}

// ReadDeadLetter returns the dead letter id, or storage.ErrNotFound.
func (s *Store) ReadDeadLetter(ctx context.Context, id string) (*storage.DeadLetter, error) {
	var doc deadLetterDoc
	err := s.deadLetterCollection().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("storage/mongo: dead letter %s: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("storage/mongo: dead letter %s: %w", id, err)
	}
	d := doc.letter()
	return &d, nil
}

// DeleteDeadLetter removes the dead letter id, or returns
// storage.ErrNotFound when there is none.
func (s *Store) DeleteDeadLetter(ctx context.Context, id string) error {
	res, err := s.deadLetterCollection().DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return fmt.Errorf("storage/mongo: delete dead letter %s: %w", id, err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("storage/mongo: delete dead letter %s: %w", id, storage.ErrNotFound)
	}
	return nil
}
