package mongo

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/medbridge/medbridge/fhir"
)

// currentDoc is a document of the resources collection.
type currentDoc struct {
	Key         string `bson:"_id"`
	Type        string `bson:"type"`
	ID          string `bson:"id"`
	Version     int64  `bson:"version"`
	LastUpdated int64  `bson:"lastUpdated"`
	Deleted     bool   `bson:"deleted"`
	Method      string `bson:"method"`
	JSON        string `bson:"json,omitempty"`
	Txn         string `bson:"txn"`
	// Pending is true from the commit point until the version's history
	// document is committed; a Write cannot replace a pending document.
	Pending bool `bson:"pending"`

	// The search index of the version (see index.go); none for deletions.
	Keys    []string             `bson:"k,omitempty"`
	Ranges  map[string]*rangeDoc `bson:"d,omitempty"`
	Entries []entryDoc           `bson:"ix,omitempty"`
	Sort    map[string]sortDoc   `bson:"o,omitempty"`
	// For LastN and Stats (see aggregate.go).
	LastN      string        `bson:"lastn,omitempty"`
	Quantities []quantityDoc `bson:"qv,omitempty"`
}

// withoutIndex is the projection of a current document that leaves out
// its search index, for readers that do not search.
var withoutIndex = bson.D{{Key: "k", Value: 0}, {Key: "d", Value: 0}, {Key: "ix", Value: 0}, {Key: "o", Value: 0},
	{Key: "lastn", Value: 0}, {Key: "qv", Value: 0}}

// historyDoc is a document of the history collection.
type historyDoc struct {
	Key         string `bson:"_id"`
	Type        string `bson:"type"`
	ID          string `bson:"id"`
	Version     int64  `bson:"version"`
	LastUpdated int64  `bson:"lastUpdated"`
	Deleted     bool   `bson:"deleted"`
	Method      string `bson:"method"`
	JSON        string `bson:"json,omitempty"`
	Txn         string `bson:"txn"`
	// Committed is false while the Write that staged the document has not
	// finished; such a document may belong to a writer that lost or died.
	Committed bool `bson:"committed"`
	// SupersededAt is the next version's lastUpdated, absent while current.
	SupersededAt *int64 `bson:"supersededAt,omitempty"`
}

func currentKey(typ, id string) string { return typ + "/" + id }

func historyKey(typ, id string, version int64) string {
	return typ + "/" + id + "/" + strconv.FormatInt(version, 10)
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func newTxn() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand docs)
	return hex.EncodeToString(b[:])
}

func (d *currentDoc) resource() *fhir.Resource {
	return toResource(d.Type, d.ID, d.Version, d.LastUpdated, d.Deleted, d.Method, d.JSON)
}

func (d *historyDoc) resource() *fhir.Resource {
	return toResource(d.Type, d.ID, d.Version, d.LastUpdated, d.Deleted, d.Method, d.JSON)
}

func toResource(typ, id string, version, lastUpdated int64, deleted bool, method, js string) *fhir.Resource {
	r := &fhir.Resource{
		Type:        typ,
		ID:          id,
		Version:     version,
		LastUpdated: fromMicros(lastUpdated),
		Deleted:     deleted,
		Method:      method,
	}
	if !deleted {
		r.JSON = []byte(js)
	}
	return r
}

// versionFields are the fields a version's history document shares with
// the current document, for $set.
func (d *currentDoc) versionFields() bson.D {
	f := bson.D{
		{Key: "type", Value: d.Type},
		{Key: "id", Value: d.ID},
		{Key: "version", Value: d.Version},
		{Key: "lastUpdated", Value: d.LastUpdated},
		{Key: "deleted", Value: d.Deleted},
		{Key: "method", Value: d.Method},
		{Key: "txn", Value: d.Txn},
	}
	if !d.Deleted {
		f = append(f, bson.E{Key: "json", Value: d.JSON})
	}
	return f
}

// isDuplicate reports whether err may be a unique-index violation. MongoDB
// reports E11000; FerretDB v1 reports some violations from upserts as
// InternalError (code 1), so callers treat that as "maybe" and look.
func isDuplicate(err error) bool {
	if mongo.IsDuplicateKeyError(err) {
		return true
	}
	var se mongo.ServerError
	return errors.As(err, &se) && se.HasErrorCode(1)
}
