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

// Read returns the current version of typ/id, or storage.ErrNotFound.
func (s *Store) Read(ctx context.Context, typ, id string) (*fhir.Resource, error) {
	cur, err := s.current(ctx, currentKey(typ, id))
	if err != nil {
		return nil, err
	}
	return cur.resource(), nil
}

// ReadVersion returns one version of typ/id, or storage.ErrNotFound. An
// uncommitted history document counts only when the current document shows
// its Write committed (see Write).
func (s *Store) ReadVersion(ctx context.Context, typ, id string, version int64) (*fhir.Resource, error) {
	if version < 1 {
		return nil, storage.ErrNotFound
	}
	key := historyKey(typ, id, version)
	var h historyDoc
	err := s.history.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&h)
	found := err == nil
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("storage/mongo: reading %s: %w", key, err)
	}
	if found && h.Committed {
		return h.resource(), nil
	}
	cur, err := s.current(ctx, currentKey(typ, id))
	if err != nil {
		return nil, err
	}
	switch {
	case cur.Version == version:
		return cur.resource(), nil
	case found && cur.Version > version:
		return h.resource(), nil
	}
	return nil, storage.ErrNotFound
}

// historySort is the history order of storage.HistoryQuery.
var historySort = bson.D{
	{Key: "lastUpdated", Value: -1},
	{Key: "type", Value: 1},
	{Key: "id", Value: 1},
	{Key: "version", Value: -1},
}

// History returns a page of versions in the history order. The query reads
// Count+1 documents to know whether a next page exists; documents that turn
// out not to be visible (staged by unfinished Writes) are skipped and the
// page is topped up from after the last document read.
func (s *Store) History(ctx context.Context, q storage.HistoryQuery) (storage.HistoryPage, error) {
	if q.Count <= 0 {
		return storage.HistoryPage{}, fmt.Errorf("storage/mongo: history count %d is not positive", q.Count)
	}
	want := q.Count + 1
	var out []fhir.Resource
	after := q.After
	for len(out) < want {
		limit := want - len(out)
		var batch []*historyDoc
		opts := options.Find().SetSort(historySort).SetLimit(int64(limit))
		if err := findAll(ctx, s.history, historyFilter(q, after), &batch, opts); err != nil {
			return storage.HistoryPage{}, fmt.Errorf("storage/mongo: history: %w", err)
		}
		kept, err := s.visible(ctx, batch, q)
		if err != nil {
			return storage.HistoryPage{}, err
		}
		out = append(out, kept...)
		if len(batch) < limit {
			break
		}
		last := batch[len(batch)-1]
		after = &storage.HistoryCursor{LastUpdated: fromMicros(last.LastUpdated), Type: last.Type, ID: last.ID, Version: last.Version}
	}
	page := storage.HistoryPage{Versions: out}
	if len(out) > q.Count {
		page.Versions = out[:q.Count]
		last := out[q.Count-1]
		page.Next = &storage.HistoryCursor{LastUpdated: last.LastUpdated, Type: last.Type, ID: last.ID, Version: last.Version}
	}
	return page, nil
}

// historyFilter selects the history documents of q after the position
// after (nil: from the start). It uses only operators FerretDB v1 has.
func historyFilter(q storage.HistoryQuery, after *storage.HistoryCursor) bson.D {
	f := bson.D{}
	if q.Type != "" {
		f = append(f, bson.E{Key: "type", Value: q.Type})
	}
	if q.ID != "" {
		f = append(f, bson.E{Key: "id", Value: q.ID})
	}
	var lu bson.D
	if !q.Since.IsZero() {
		lu = append(lu, bson.E{Key: "$gte", Value: ceilMicros(q.Since)})
	}
	if !q.AtEnd.IsZero() {
		lu = append(lu, bson.E{Key: "$lt", Value: ceilMicros(q.AtEnd)})
	}
	if lu != nil {
		f = append(f, bson.E{Key: "lastUpdated", Value: lu})
	}
	var and bson.A
	if !q.AtStart.IsZero() {
		// Not superseded before or at AtStart. A document without
		// supersededAt may still have been superseded by an unfinished
		// Write; visible checks those against the current document.
		and = append(and, bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "supersededAt", Value: bson.D{{Key: "$exists", Value: false}}}},
			bson.D{{Key: "supersededAt", Value: bson.D{{Key: "$gt", Value: micros(q.AtStart)}}}},
		}}})
	}
	if after != nil {
		// Keyset paging: strictly after the cursor in the history order.
		t := micros(after.LastUpdated)
		and = append(and, bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "lastUpdated", Value: bson.D{{Key: "$lt", Value: t}}}},
			bson.D{{Key: "lastUpdated", Value: t}, {Key: "type", Value: bson.D{{Key: "$gt", Value: after.Type}}}},
			bson.D{{Key: "lastUpdated", Value: t}, {Key: "type", Value: after.Type}, {Key: "id", Value: bson.D{{Key: "$gt", Value: after.ID}}}},
			bson.D{{Key: "lastUpdated", Value: t}, {Key: "type", Value: after.Type}, {Key: "id", Value: after.ID},
				{Key: "version", Value: bson.D{{Key: "$lt", Value: after.Version}}}},
		}}})
	}
	if len(and) > 0 {
		f = append(f, bson.E{Key: "$and", Value: and})
	}
	return f
}

// visible returns the resources of the documents in batch that a reader
// may see, in order: committed documents, and uncommitted ones whose Write
// committed (the current document is past them, or at them with their
// txn). With AtStart it also drops documents that lack supersededAt but
// were superseded, per the current document, before or at AtStart.
func (s *Store) visible(ctx context.Context, batch []*historyDoc, q storage.HistoryQuery) ([]fhir.Resource, error) {
	var keys bson.A
	for _, h := range batch {
		if !h.Committed || !q.AtStart.IsZero() && h.SupersededAt == nil {
			keys = append(keys, currentKey(h.Type, h.ID))
		}
	}
	currents := map[string]*currentDoc{}
	if len(keys) > 0 {
		var docs []*currentDoc
		if err := findAll(ctx, s.resources, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: keys}}}}, &docs); err != nil {
			return nil, fmt.Errorf("storage/mongo: history: %w", err)
		}
		for _, d := range docs {
			currents[d.Key] = d
		}
	}
	out := make([]fhir.Resource, 0, len(batch))
	for _, h := range batch {
		cur := currents[currentKey(h.Type, h.ID)]
		if !h.Committed && (cur == nil || cur.Version < h.Version || cur.Version == h.Version && cur.Txn != h.Txn) {
			continue
		}
		if !q.AtStart.IsZero() && h.SupersededAt == nil && cur != nil && cur.Version > h.Version {
			at, err := s.supersededAt(ctx, h, cur)
			if err != nil {
				return nil, err
			}
			if at <= micros(q.AtStart) {
				continue
			}
		}
		out = append(out, *h.resource())
	}
	return out, nil
}

// supersededAt returns when h was superseded, given a current document past
// it: the next version's lastUpdated.
func (s *Store) supersededAt(ctx context.Context, h *historyDoc, cur *currentDoc) (int64, error) {
	if cur.Version == h.Version+1 {
		return cur.LastUpdated, nil
	}
	var next historyDoc
	key := historyKey(h.Type, h.ID, h.Version+1)
	if err := s.history.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&next); err != nil {
		return 0, fmt.Errorf("storage/mongo: reading %s: %w", key, err)
	}
	return next.LastUpdated, nil
}

// ceilMicros rounds t up to whole microseconds, so that comparing stored
// microseconds with it gives the same answer as comparing instants.
func ceilMicros(t time.Time) int64 {
	us := t.UnixMicro()
	if fromMicros(us).Before(t) {
		us++
	}
	return us
}
