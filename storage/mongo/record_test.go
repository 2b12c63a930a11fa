package mongo

import (
	"context"
	"math"
	"reflect"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/medbridge/medbridge/storage"
)

// The record documents are a format an operator's TTL index and queries
// depend on: until exact to the microsecond, expires a date rounded up to
// the millisecond (absent for a record that never expires), and an _id
// that keeps a "/" in a kind from clashing.
func TestRecordDocumentShapes(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	expires := time.Date(2026, 3, 1, 12, 0, 0, 1_500_000, time.UTC) // 1.5 ms
	for _, r := range []storage.Record{
		{Kind: "code", ID: "c1", Data: []byte{0, 1}, Expires: expires},
		{Kind: "client/x", ID: "y", Data: []byte("z")},
	} {
		if err := s.PutRecord(ctx, r, 0); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]bson.M{
		"code/c1": {"_id": "code/c1", "kind": "code", "id": "c1", "data": bson.Binary{Data: []byte{0, 1}},
			"version": int64(1), "until": expires.UnixMicro(),
			"expires": bson.NewDateTimeFromTime(expires.Truncate(time.Millisecond).Add(time.Millisecond))},
		"client%2Fx/y": {"_id": "client%2Fx/y", "kind": "client/x", "id": "y", "data": bson.Binary{Data: []byte("z")},
			"version": int64(1), "until": int64(math.MaxInt64)},
	}
	for key, w := range want {
		var got bson.M
		if err := s.recordCollection().FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&got); err != nil {
			t.Fatalf("records %s: %v", key, err)
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("records %s:\n got %v\nwant %v", key, got, w)
		}
	}
}
