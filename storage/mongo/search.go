package mongo

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

// Search implements storage.Store.Search on the index fields of the
// current documents (see index.go for their shapes and indexes.go for the
// MongoDB index that serves each kind of condition).
//
// The filters compile to a cond (cond.go, filter.go); chains and _has run
// their inner searches first (compile.go). A page is read in the order's
// keyset: sorted by the sort-key fields and _id, starting strictly after
// (or, for Before, before) the cursor's position, Count+1 documents to
// learn whether another page follows. When the cond is not exact in
// MongoDB, the documents read are checked in Go and the read continues
// after the last document read until the page is full, so pages stay full
// and cursors stay exact. The read starts at the cursor's own resource:
// found there, it proves a page on the other side; gone (deleted or
// changed), one more read of one match looks, so that Prev and Next are
// set only when a neighbouring page exists.
//
// Total: on the first page, when it holds every match, its size; else
// CountDocuments when the cond is exact, else a count of the documents
// that pass the Go check. "estimate" counts only in the exact case.
func (s *Store) Search(ctx context.Context, q *search.Query) (*storage.SearchPage, error) {
	ord, err := newOrder(q.Sort)
	if err != nil {
		return nil, err
	}
	var from *position
	backward := false
	switch {
	case q.After != "" && q.Before != "":
		return nil, fmt.Errorf("%w: both After and Before", storage.ErrBadCursor)
	case q.After != "":
		from, err = ord.decode(q.After)
	case q.Before != "":
		from, err = ord.decode(q.Before)
		backward = true
	}
	if err != nil {
		return nil, err
	}
	c := &compiler{s: s, now: time.Now()}
	cd, err := c.filters(ctx, q.Types, q.Filters, 0)
	if err != nil {
		return nil, err
	}

	page := &storage.SearchPage{Total: -1}
	complete := false // the page holds every match
	if q.Count > 0 {
		// Count+1 matches tell whether another page follows; the cursor's
		// own resource, when it is still where the cursor says, tells that
		// a page precedes without another read.
		want := q.Count + 1
		if from != nil {
			want++
		}
		hits, err := s.scan(ctx, q.Types, cd, ord, from, backward, want)
		if err != nil {
			return nil, err
		}
		atFrom := from != nil && len(hits) > 0 && hits[0].pos.equal(from)
		if atFrom {
			hits = hits[1:]
		}
		more := len(hits) > q.Count
		hits = hits[:min(len(hits), q.Count)]
		if backward {
			slices.Reverse(hits)
		}
		complete = from == nil && !more
		for _, h := range hits {
			page.Resources = append(page.Resources, *h.doc.resource())
		}
		if err := s.setCursors(ctx, q.Types, cd, ord, page, hits, from, backward, more, atFrom); err != nil {
			return nil, err
		}
	}

	switch {
	case q.Total != "accurate" && (q.Total != "estimate" || !cd.exact()):
	case complete:
		page.Total = len(page.Resources)
	default:
		if page.Total, err = s.count(ctx, q.Types, cd); err != nil {
			return nil, err
		}
	}
	return page, nil
}

// setCursors sets the page's Next and Prev. more says whether the read
// found a match beyond the page in its direction, atFrom whether it found
// the cursor's resource on the other side.
func (s *Store) setCursors(ctx context.Context, types []string, cd cond, ord order, page *storage.SearchPage,
	hits []hit, from *position, backward, more, atFrom bool) error {
	first, last := from, from
	if len(hits) > 0 {
		first, last = hits[0].pos, hits[len(hits)-1].pos
	}
	// The side the read went to is known, and so is the other side when
	// the cursor's resource is still there; otherwise it needs a look,
	// except before the start of a first page.
	ahead, behind := more, atFrom
	if backward {
		ahead, behind = atFrom, more
	}
	var err error
	if !backward && from != nil && !atFrom {
		behind, err = s.exists(ctx, types, cd, ord, first, true)
	}
	if backward && !atFrom {
		ahead, err = s.exists(ctx, types, cd, ord, last, false)
	}
	if err != nil {
		return err
	}
	if ahead && last != nil {
		page.Next = last.encode()
	}
	if behind && first != nil {
		page.Prev = first.encode()
	}
	return nil
}

// exists reports whether a match lies beyond from (backward: before it).
func (s *Store) exists(ctx context.Context, types []string, cd cond, ord order, from *position, backward bool) (bool, error) {
	hits, err := s.scan(ctx, types, cd, ord, from, backward, 2)
	if len(hits) > 0 && hits[0].pos.equal(from) {
		hits = hits[1:]
	}
	return len(hits) > 0, err
}

// hit is a document read for a page and its position.
type hit struct {
	doc *currentDoc
	pos *position
}

// maxBatch bounds the documents one read of a non-exact search fetches.
const maxBatch = 1024

// pageFields are the fields a page's resources need.
var pageFields = []string{"type", "id", "version", "lastUpdated", "deleted", "method", "json"}

// scan returns up to want matches of cd in ord from the position from
// (nil: from the start) on, or back from it going backward (then nearest
// first). The resource at from itself comes first if it is still there.
func (s *Store) scan(ctx context.Context, types []string, cd cond, ord order, from *position, backward bool, want int) ([]hit, error) {
	exact := cd.exact()
	proj := bson.D{}
	for _, f := range pageFields {
		proj = append(proj, bson.E{Key: f, Value: 1})
	}
	for _, p := range ord.params {
		proj = append(proj, bson.E{Key: "o." + p, Value: 1})
	}
	limit := want
	if !exact {
		proj = append(proj, bson.E{Key: "k", Value: 1}, bson.E{Key: "ix", Value: 1})
		limit = max(2*want, 16) // some candidates fail the Go check
	}
	var out []hit
	inclusive := true // only the first read
	for ; len(out) < want; inclusive = false {
		opts := options.Find().SetSort(ord.sort(backward)).SetProjection(proj).SetLimit(int64(limit))
		f := where(types, cd)
		if from != nil {
			f = append(f, bson.E{Key: "$or", Value: bson.A{ord.beyond(from, backward, inclusive)}})
		}
		var batch []*currentDoc
		if err := findAll(ctx, s.resources, f, &batch, opts); err != nil {
			return nil, fmt.Errorf("storage/mongo: search: %w", err)
		}
		for _, d := range batch {
			from = ord.positionOf(d)
			if exact || cd.eval(newCandidate(d)) {
				out = append(out, hit{doc: d, pos: from})
			}
		}
		if len(batch) < limit {
			break
		}
		if !exact {
			// Many candidates failed: read more at a time, up to a bound.
			limit = min(2*limit, maxBatch)
		}
	}
	return out[:min(len(out), want)], nil
}

// count returns the number of matches of cd.
func (s *Store) count(ctx context.Context, types []string, cd cond) (int, error) {
	if cd.exact() {
		n, err := s.resources.CountDocuments(ctx, where(types, cd))
		if err != nil {
			return 0, fmt.Errorf("storage/mongo: counting: %w", err)
		}
		return int(n), nil
	}
	n := 0
	err := s.each(ctx, types, cd, nil, func(*currentDoc) error { n++; return nil })
	return n, err
}

// readChunk bounds the $in of one ReadCurrent query.
const readChunk = 1000

// ReadCurrent returns the current, non-deleted versions of refs that
// exist, with one _id $in query per readChunk refs.
func (s *Store) ReadCurrent(ctx context.Context, refs []storage.Ref) ([]fhir.Resource, error) {
	keys := make([]string, 0, len(refs))
	seen := make(map[string]bool, len(refs))
	for _, r := range refs {
		k := currentKey(r.Type, r.ID)
		if r.Type != "" && r.ID != "" && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	var out []fhir.Resource
	for chunk := range slices.Chunk(keys, readChunk) {
		var docs []*currentDoc
		f := bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: chunk}}}, {Key: "deleted", Value: false}}
		if err := findAll(ctx, s.resources, f, &docs, options.Find().SetProjection(withoutIndex)); err != nil {
			return nil, fmt.Errorf("storage/mongo: reading current versions: %w", err)
		}
		for _, d := range docs {
			out = append(out, *d.resource())
		}
	}
	return out, nil
}
