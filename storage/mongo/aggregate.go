package mongo

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

// LastN and Stats read two fields that setIndex writes besides the search
// index:
//
//	lastn  string    an Observation's LastN group: its subject, then its
//	                 codings, sorted (see lastNGroup)
//	qv     [{p, s, c, k, x}]
//	                 the values of quantity parameters, three elements
//	                 per distinct (parameter, unit system, unit code,
//	                 value), the unit as written: with k "v" x is the
//	                 value, with k "n" 1 and with k "sq" the value's
//	                 square, so that one $group by (s, c, k) with one $sum
//	                 yields the count, the sum and the sum of squares
//	                 (FerretDB v1 has no accumulator but $sum and $count,
//	                 feeds the documents of a group to its first
//	                 accumulator only, and flattens a nested $unwind)
//
// Documents written before these fields existed have neither, and LastN
// and Stats do not see them until they are written again.
type quantityDoc struct {
	Param  string  `bson:"p"`
	System string  `bson:"s"`
	Code   string  `bson:"c"`
	Kind   string  `bson:"k"`
	Value  float64 `bson:"x"`
}

// lastNGroup is the LastN group of an Observation with the index entries
// entries: its "subject" reference as "Type/id" (else its URL, else "")
// and the set of its "code" codings, escaped as in keys and joined by "|"
// ("Patient/1|http://loinc.org|8867-4"; an Observation without codings
// has "Patient/1|").
func lastNGroup(entries []storage.IndexEntry) string {
	var refs, urls, codings []string
	for i := range entries {
		e := &entries[i]
		switch {
		case e.Param == "subject" && e.Type == conformance.ParamReference:
			if e.RefType != "" && e.RefID != "" {
				refs = append(refs, e.RefType+"/"+e.RefID)
			} else if e.URL != "" {
				urls = append(urls, e.URL)
			}
		case e.Param == "code" && e.Type == conformance.ParamToken && (e.System != "" || e.Code != ""):
			var b strings.Builder
			escapeTo(&b, e.System)
			b.WriteByte('|')
			escapeTo(&b, e.Code)
			codings = append(codings, b.String())
		}
	}
	subject := ""
	switch {
	case len(refs) > 0:
		subject = slices.Min(refs)
	case len(urls) > 0:
		subject = slices.Min(urls)
	}
	var b strings.Builder
	escapeTo(&b, subject)
	b.WriteByte('|')
	slices.Sort(codings)
	b.WriteString(strings.Join(slices.Compact(codings), "|"))
	return b.String()
}

// quantityValues are the qv elements of the index entries entries.
func quantityValues(entries []storage.IndexEntry) []quantityDoc {
	var out []quantityDoc
	for i := range entries {
		e := &entries[i]
		if e.Type != conformance.ParamQuantity {
			continue
		}
		v := quantityDoc{Param: e.Param, System: e.System, Code: e.Code, Kind: "v", Value: e.Number}
		if slices.Contains(out, v) || math.IsInf(e.Number*e.Number, 0) {
			// A value beyond ±1.3e154 (R4's own Observation-decimal example
			// has -1E+245) has no finite square, which MongoDB servers may
			// refuse (FerretDB does): it is left out of $stats, never out
			// of the write.
			continue
		}
		n, sq := v, v
		n.Kind, n.Value = "n", 1
		sq.Kind, sq.Value = "sq", e.Number*e.Number
		out = append(out, v, n, sq)
	}
	return out
}

// LastN returns the max most recent Observations of each subject and code
// among the matches of q; see storage.Store. It reads the groups of the
// matches with Distinct on lastn, then each group's first max matches
// sorted by the "date" sort key descending (o.date.d: the latest start;
// undated last) and _id, which the index {type, lastn, o.date.d, _id}
// serves in that order. Groups come in the order of their keys, each
// newest first.
func (s *Store) LastN(ctx context.Context, q *search.Query, max int) ([]fhir.Resource, error) {
	if len(q.Types) > 0 && !slices.Equal(q.Types, []string{"Observation"}) {
		return nil, fmt.Errorf("storage/mongo: lastn: types %v: LastN is of Observations only", q.Types)
	}
	if max < 1 {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeValue, "max must be at least 1, not %d", max)
	}
	types := []string{"Observation"}
	c := &compiler{s: s, now: time.Now()}
	cd, err := c.filters(ctx, types, q.Filters, 0)
	if err != nil {
		return nil, err
	}
	var groups []string
	if err := s.resources.Distinct(ctx, "lastn", where(types, cd)).Decode(&groups); err != nil {
		return nil, fmt.Errorf("storage/mongo: lastn: %w", err)
	}
	slices.Sort(groups)
	ord, err := newOrder([]search.SortKey{{Param: &conformance.SearchParam{Code: "date", Type: conformance.ParamDate}, Descending: true}})
	if err != nil {
		return nil, err
	}
	var out []fhir.Resource
	for _, g := range groups {
		hits, err := s.scan(ctx, types, allOf{cd, inGroup(g)}, ord, nil, false, max)
		if err != nil {
			return nil, err
		}
		for _, h := range hits {
			out = append(out, *h.doc.resource())
		}
	}
	return out, nil
}

// inGroup holds for the Observations of one LastN group. Its filter is
// exact, and it is only ever evaluated on documents that filter selected,
// so eval holds.
type inGroup string

func (g inGroup) filter() bson.D       { return bson.D{{Key: "lastn", Value: string(g)}} }
func (g inGroup) exact() bool          { return true }
func (g inGroup) eval(*candidate) bool { return true }

// Stats summarizes the values of the quantity parameter param among the
// matches of q; see storage.Store. One aggregation sums each unit's
// values:
//
//	$match <matches> · $project qv · $unwind qv · $match qv.p = param ·
//	$group {_id: {s, c, k}, x: $sum x}
//
// and, per unit, the order statistics are read from its sorted values,
//
//	... · $match {qv.s, qv.c, qv.k: "v"} · $sort qv.x · $skip · $limit
//
// one aggregation per run of nearby ranks (the first, the last and the
// two around each quantile's rank).
// When Mongo's filter for q is not exact, the candidates it selects that
// fail the check in Go are left out by _id.
func (s *Store) Stats(ctx context.Context, q *search.Query, param string, quantiles []float64) ([]storage.Stats, error) {
	for _, p := range quantiles {
		if !(p >= 0 && p <= 1) {
			return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeValue, "a quantile must be in [0, 1], not %v", p)
		}
	}
	c := &compiler{s: s, now: time.Now()}
	cd, err := c.filters(ctx, q.Types, q.Filters, 0)
	if err != nil {
		return nil, err
	}
	match := append(where(q.Types, cd), bson.E{Key: "qv.p", Value: param})
	if !cd.exact() {
		rejected, err := s.rejected(ctx, match, cd)
		if err != nil {
			return nil, err
		}
		match = append(match, bson.E{Key: "_id", Value: bson.D{{Key: "$nin", Value: rejected}}})
	}
	values := bson.A{
		bson.D{{Key: "$match", Value: match}},
		bson.D{{Key: "$project", Value: bson.D{{Key: "qv", Value: 1}}}},
		bson.D{{Key: "$unwind", Value: "$qv"}},
		bson.D{{Key: "$match", Value: bson.D{{Key: "qv.p", Value: param}}}},
	}
	var sums []struct {
		ID struct {
			System string `bson:"s"`
			Code   string `bson:"c"`
			Kind   string `bson:"k"`
		} `bson:"_id"`
		Sum float64 `bson:"x"`
	}
	summary := append(slices.Clone(values),
		bson.D{{Key: "$group", Value: bson.D{
			{Key: "_id", Value: bson.D{{Key: "s", Value: "$qv.s"}, {Key: "c", Value: "$qv.c"}, {Key: "k", Value: "$qv.k"}}},
			{Key: "x", Value: bson.D{{Key: "$sum", Value: "$qv.x"}}},
		}}})
	if err := s.aggregate(ctx, summary, &sums); err != nil {
		return nil, err
	}
	units := map[[2]string]*storage.Stats{}
	for _, sum := range sums {
		unit := [2]string{sum.ID.System, sum.ID.Code}
		st := units[unit]
		if st == nil {
			st = &storage.Stats{System: unit[0], Code: unit[1]}
			units[unit] = st
		}
		switch sum.ID.Kind {
		case "n":
			st.Count = int(sum.Sum)
		case "v":
			st.Sum = sum.Sum
		case "sq":
			st.SumSquares = sum.Sum
		}
	}
	out := make([]storage.Stats, 0, len(units))
	for _, st := range units {
		unit := append(slices.Clone(values), bson.D{{Key: "$match", Value: bson.D{
			{Key: "qv.s", Value: st.System}, {Key: "qv.c", Value: st.Code}, {Key: "qv.k", Value: "v"}}}})
		if err := s.orderStats(ctx, unit, st, quantiles); err != nil {
			return nil, err
		}
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b storage.Stats) int {
		if a.System != b.System {
			return strings.Compare(a.System, b.System)
		}
		return strings.Compare(a.Code, b.Code)
	})
	return out, nil
}

// maxRankGap is how far apart two ranks may be and still be read by one
// aggregation (reading the values between them).
const maxRankGap = 8

// orderStats sets st's Min, Max and Quantiles from the values that the
// pipeline values yields, st.Count of them.
func (s *Store) orderStats(ctx context.Context, values bson.A, st *storage.Stats, quantiles []float64) error {
	n := st.Count
	ranks := []int{0, n - 1}
	for _, p := range quantiles {
		k := int(p * float64(n-1))
		ranks = append(ranks, k, min(k+1, n-1))
	}
	slices.Sort(ranks)
	ranks = slices.Compact(ranks)
	at := map[int]float64{}
	for i := 0; i < len(ranks); {
		j := i
		for j+1 < len(ranks) && ranks[j+1]-ranks[j] <= maxRankGap {
			j++
		}
		first, count := ranks[i], ranks[j]-ranks[i]+1
		var docs []struct {
			Q struct {
				Value float64 `bson:"x"`
			} `bson:"qv"`
		}
		pipeline := append(slices.Clone(values),
			bson.D{{Key: "$sort", Value: bson.D{{Key: "qv.x", Value: 1}}}},
			bson.D{{Key: "$skip", Value: int64(first)}},
			bson.D{{Key: "$limit", Value: int64(count)}})
		if err := s.aggregate(ctx, pipeline, &docs); err != nil {
			return err
		}
		if len(docs) != count {
			return fmt.Errorf("storage/mongo: stats: %d values at ranks %d to %d of %d in %s|%s (changed meanwhile?)",
				len(docs), first, first+count-1, n, st.System, st.Code)
		}
		for k, d := range docs {
			at[first+k] = d.Q.Value
		}
		i = j + 1
	}
	st.Min, st.Max = at[0], at[n-1]
	st.Quantiles = make([]float64, len(quantiles))
	for i, p := range quantiles {
		rank := p * float64(n-1)
		k := int(rank)
		st.Quantiles[i] = at[k]
		if k+1 < n {
			st.Quantiles[i] += (rank - float64(k)) * (at[k+1] - at[k])
		}
	}
	return nil
}

func (s *Store) aggregate(ctx context.Context, pipeline bson.A, out any) error {
	cur, err := s.resources.Aggregate(ctx, pipeline)
	if err != nil {
		return fmt.Errorf("storage/mongo: stats: %w", err)
	}
	if err := cur.All(ctx, out); err != nil {
		return fmt.Errorf("storage/mongo: stats: %w", err)
	}
	return nil
}

// rejected returns the _ids of the documents that filter selects but
// that fail cd's check in Go, reading only their index fields; at most
// maxIntermediate of them.
func (s *Store) rejected(ctx context.Context, filter bson.D, cd cond) ([]string, error) {
	proj := bson.D{{Key: "_id", Value: 1}, {Key: "k", Value: 1}, {Key: "ix", Value: 1}}
	cur, err := s.resources.Find(ctx, filter, options.Find().SetProjection(proj))
	if err != nil {
		return nil, fmt.Errorf("storage/mongo: stats: %w", err)
	}
	defer cur.Close(ctx)
	rejected := []string{}
	for cur.Next(ctx) {
		var d currentDoc
		if err := cur.Decode(&d); err != nil {
			return nil, fmt.Errorf("storage/mongo: stats: %w", err)
		}
		if cd.eval(newCandidate(&d)) {
			continue
		}
		if len(rejected) == maxIntermediate {
			return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeTooCostly,
				"more than %d resources fail the date, number or quantity conditions that are checked one by one; narrow the search",
				maxIntermediate)
		}
		rejected = append(rejected, d.Key)
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("storage/mongo: stats: %w", err)
	}
	return rejected, nil
}
