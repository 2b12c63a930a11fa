package mongo

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

// order is a search's sort order: the sort-key fields (o.<param>.a for
// ascending, o.<param>.d for descending; see sortkey.go), each sorted
// descending with missing values last, then _id ascending, which is type
// then id because type names are letters and sort after "/".
type order struct {
	params []string // parameter codes
	desc   []bool
	fields []string
	sig    string // the _sort it was made from, checked against cursors
}

func newOrder(keys []search.SortKey) (order, error) {
	var o order
	var sig []string
	for _, k := range keys {
		if k.Param == nil || !validParamCode(k.Param.Code) {
			return order{}, fmt.Errorf("storage/mongo: cannot sort by %v", k.Param)
		}
		field, s := "o."+k.Param.Code+".a", k.Param.Code
		if k.Descending {
			field, s = "o."+k.Param.Code+".d", "-"+s
		}
		o.params = append(o.params, k.Param.Code)
		o.desc = append(o.desc, k.Descending)
		o.fields = append(o.fields, field)
		sig = append(sig, s)
	}
	o.sig = strings.Join(sig, ",")
	return o, nil
}

// sort is the MongoDB sort for reading forward, or backward (the reverse).
func (o order) sort(backward bool) bson.D {
	dir, idDir := -1, 1
	if backward {
		dir, idDir = 1, -1
	}
	s := bson.D{}
	for _, f := range o.fields {
		s = append(s, bson.E{Key: f, Value: dir})
	}
	return append(s, bson.E{Key: "_id", Value: idDir})
}

// position is a place in an order: the sort-key values of a resource
// (nil: missing) and its _id.
type position struct {
	Sig  string    `json:"s"`
	Vals []*string `json:"v"`
	Key  string    `json:"k"`
}

func (o order) positionOf(d *currentDoc) *position {
	p := &position{Sig: o.sig, Key: d.Key, Vals: make([]*string, len(o.fields))}
	for i, param := range o.params {
		if sd, ok := d.Sort[param]; ok {
			v := sd.Asc
			if o.desc[i] {
				v = sd.Desc
			}
			p.Vals[i] = &v
		}
	}
	return p
}

func (p *position) equal(q *position) bool {
	return p.Key == q.Key && slices.EqualFunc(p.Vals, q.Vals, func(a, b *string) bool {
		return a == nil && b == nil || a != nil && b != nil && *a == *b
	})
}

// encode renders p as an opaque cursor.
func (p *position) encode() string {
	b, _ := json.Marshal(p) // strings and pointers to strings: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// decode reads a cursor made by encode for the same order.
func (o order) decode(cursor string) (*position, error) {
	bad := func(why string) error { return fmt.Errorf("%w: %s", storage.ErrBadCursor, why) }
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, bad("not base64url")
	}
	var p position
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, bad("not a position")
	}
	if p.Sig != o.sig || len(p.Vals) != len(o.fields) {
		return nil, bad("made for another sort order")
	}
	if typ, id, ok := strings.Cut(p.Key, "/"); !ok || typ == "" || id == "" {
		return nil, bad("no resource")
	}
	for _, v := range p.Vals {
		if v != nil {
			if _, err := hex.DecodeString(*v); err != nil || *v == "" {
				return nil, bad("not a sort key")
			}
		}
	}
	return &p, nil
}

// beyond is the filter of the resources after p in the order, or before
// it when backward; inclusive adds the resource at p.
func (o order) beyond(p *position, backward, inclusive bool) bson.D {
	var alts bson.A
	var same bson.D // the sort keys before the i-th equal p's
	with := func(e bson.E) bson.D { return append(same[:len(same):len(same)], e) }
	missing := bson.D{{Key: "$exists", Value: false}}
	for i, f := range o.fields {
		v := p.Vals[i]
		switch {
		case v == nil && backward:
			alts = append(alts, with(bson.E{Key: f, Value: bson.D{{Key: "$exists", Value: true}}}))
		case v != nil && backward:
			alts = append(alts, with(bson.E{Key: f, Value: bson.D{{Key: "$gt", Value: *v}}}))
		case v != nil:
			// Smaller values, and missing ones, come after v.
			alts = append(alts, with(bson.E{Key: "$or", Value: bson.A{
				bson.D{{Key: f, Value: bson.D{{Key: "$lt", Value: *v}}}},
				bson.D{{Key: f, Value: missing}},
			}}))
		}
		if v == nil {
			same = append(same, bson.E{Key: f, Value: missing})
		} else {
			same = append(same, bson.E{Key: f, Value: *v})
		}
	}
	idOp := "$gt"
	if backward {
		idOp = "$lt"
	}
	if inclusive {
		idOp += "e"
	}
	alts = append(alts, with(bson.E{Key: "_id", Value: bson.D{{Key: idOp, Value: p.Key}}}))
	if len(alts) == 1 {
		return alts[0].(bson.D)
	}
	return bson.D{{Key: "$or", Value: alts}}
}
