package mongo

import (
	"regexp"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/medbridge/medbridge/storage"
)

// A cond is a compiled search condition with two readings: a MongoDB
// filter that selects every matching current document (and, where the
// condition is not exact, some more), and an evaluation in Go against a
// candidate's k and ix fields that is exact. Search queries MongoDB with
// the filter and, when the whole condition is not exact, keeps only the
// candidates eval accepts.
type cond interface {
	// filter returns the MongoDB filter; nil means every document.
	filter() bson.D
	// exact reports whether filter selects exactly the matches.
	exact() bool
	eval(c *candidate) bool
}

// candidate is what eval reads of a current document.
type candidate struct {
	key     string
	keys    map[string]bool
	entries []storage.IndexEntry
}

func newCandidate(d *currentDoc) *candidate {
	c := &candidate{key: d.Key, keys: make(map[string]bool, len(d.Keys))}
	for _, k := range d.Keys {
		c.keys[k] = true
	}
	for i := range d.Entries {
		c.entries = append(c.entries, d.Entries[i].entry())
	}
	return c
}

// nothing is a filter no document satisfies.
var nothing = bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: bson.A{}}}}}

// allOf holds when every one of its conditions holds.
type allOf []cond

func (a allOf) filter() bson.D {
	var parts bson.A
	for _, c := range a {
		if f := c.filter(); f != nil {
			parts = append(parts, f)
		}
	}
	switch len(parts) {
	case 0:
		return nil
	case 1:
		return parts[0].(bson.D)
	}
	return bson.D{{Key: "$and", Value: parts}}
}

func (a allOf) exact() bool {
	return !slices.ContainsFunc(a, func(c cond) bool { return !c.exact() })
}

func (a allOf) eval(c *candidate) bool {
	return !slices.ContainsFunc(a, func(x cond) bool { return !x.eval(c) })
}

// anyOf holds when one of its conditions holds; an empty anyOf never does.
type anyOf []cond

func (a anyOf) filter() bson.D {
	var parts bson.A
	for _, c := range a {
		f := c.filter()
		if f == nil {
			return nil
		}
		parts = append(parts, f)
	}
	switch len(parts) {
	case 0:
		return nothing
	case 1:
		return parts[0].(bson.D)
	}
	return bson.D{{Key: "$or", Value: parts}}
}

func (a anyOf) exact() bool {
	return !slices.ContainsFunc(a, func(c cond) bool { return !c.exact() })
}

func (a anyOf) eval(c *candidate) bool {
	return slices.ContainsFunc(a, func(x cond) bool { return x.eval(c) })
}

// not holds when its condition does not. Only an exact condition can be
// negated in MongoDB; otherwise every document is a candidate.
type not struct{ c cond }

func (n not) filter() bson.D {
	if !n.c.exact() {
		return nil
	}
	f := n.c.filter()
	if f == nil {
		return nothing
	}
	return bson.D{{Key: "$nor", Value: bson.A{f}}}
}

func (n not) exact() bool            { return n.c.exact() }
func (n not) eval(c *candidate) bool { return !n.c.eval(c) }

// hasKey holds when k has one of the keys.
type hasKey []string

func (h hasKey) filter() bson.D {
	if len(h) == 1 {
		return bson.D{{Key: "k", Value: h[0]}}
	}
	return bson.D{{Key: "k", Value: bson.D{{Key: "$in", Value: []string(h)}}}}
}

func (h hasKey) exact() bool { return true }

func (h hasKey) eval(c *candidate) bool {
	return slices.ContainsFunc(h, func(k string) bool { return c.keys[k] })
}

// keyPattern holds when a key of k matches the regular expression, which
// starts with "^" and a literal prefix so that MongoDB bounds the index scan.
type keyPattern struct{ re *regexp.Regexp }

func (p keyPattern) filter() bson.D {
	return bson.D{{Key: "k", Value: bson.Regex{Pattern: p.re.String()}}}
}

func (p keyPattern) exact() bool { return true }

func (p keyPattern) eval(c *candidate) bool {
	for k := range c.keys {
		if p.re.MatchString(k) {
			return true
		}
	}
	return false
}

// idIn holds for the documents with the given _ids ("Type/id").
type idIn struct {
	ids []string
	set map[string]bool
}

func newIDIn(set map[string]bool) idIn {
	ids := make([]string, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return idIn{ids: ids, set: set}
}

func (in idIn) filter() bson.D {
	return bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: in.ids}}}}
}

func (in idIn) exact() bool            { return true }
func (in idIn) eval(c *candidate) bool { return in.set[c.key] }

// entryMatch holds when an entry of param in ix satisfies match; pre is a
// MongoDB filter for such documents, exact or a superset.
type entryMatch struct {
	param    string
	pre      bson.D
	preExact bool
	match    func(e *storage.IndexEntry) bool
}

func (m entryMatch) filter() bson.D { return m.pre }
func (m entryMatch) exact() bool    { return m.preExact }

func (m entryMatch) eval(c *candidate) bool {
	for i := range c.entries {
		if e := &c.entries[i]; e.Param == m.param && m.match(e) {
			return true
		}
	}
	return false
}
