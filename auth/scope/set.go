package scope

import (
	"cmp"
	"net/url"
	"slices"
	"strings"
)

// Set is a parsed scope string. The zero Set is empty. A Set is immutable:
// its methods never change it and never return its internals.
type Set struct {
	clinical []Clinical // canonical order, one per level, type and query
	other    []string   // sorted, distinct
}

// newSet canonicalises scopes into a Set: clinical scopes with the same
// level, type and query merge their permissions (and stay v1 only when all
// of them were v1), everything is sorted and repeats are dropped.
func newSet(clinical []Clinical, other []string) Set {
	byKey := map[string]int{}
	var merged []Clinical
	for _, c := range clinical {
		if len(c.Query) > 0 {
			c.V1 = false
		}
		key := c.key()
		if i, ok := byKey[key]; ok {
			merged[i].Perms |= c.Perms
			merged[i].V1 = merged[i].V1 && c.V1
			continue
		}
		byKey[key] = len(merged)
		merged = append(merged, c)
	}
	slices.SortFunc(merged, func(a, b Clinical) int {
		return cmp.Or(
			cmp.Compare(slices.Index(levels, a.Level), slices.Index(levels, b.Level)),
			strings.Compare(a.Type, b.Type),
			strings.Compare(encodeQuery(a.Query), encodeQuery(b.Query)),
		)
	})
	other = slices.Clone(other)
	slices.Sort(other)
	return Set{clinical: merged, other: slices.Compact(other)}
}

// key identifies the level, type and query of c, leaving out permissions.
func (c Clinical) key() string {
	return string(c.Level) + "/" + c.Type + "?" + encodeQuery(c.Query)
}

// String returns the canonical scope string: the non-clinical scopes
// sorted, then the clinical scopes by level (patient, user, system), type
// and query. Parse(s.String()) equals s.
func (s Set) String() string {
	parts := slices.Clone(s.other)
	for _, c := range s.clinical {
		parts = append(parts, c.String())
	}
	return strings.Join(parts, " ")
}

// Equal reports whether s and t hold the same scopes once canonicalised.
// Sets that grant the same access in different words (patient/*.rs and
// patient/*.read) are not Equal; use Covers both ways for that.
func (s Set) Equal(t Set) bool { return s.String() == t.String() }

// Has reports whether name, a single scope, is in s. A clinical name is
// canonicalised first ("patient/Observation.sr" is malformed and never in
// a set, "patient/Observation.rs" is in the set parsed from
// "patient/Observation.r patient/Observation.s"); to ask whether s grants
// at least what a clinical scope does, use Covers.
func (s Set) Has(name string) bool {
	if f := strings.Fields(name); len(f) != 1 || f[0] != name {
		return false
	}
	c, ok, err := parseClinical(name)
	switch {
	case err != nil:
		return false
	case ok:
		return slices.ContainsFunc(s.clinical, func(d Clinical) bool { return d.String() == c.String() })
	}
	_, found := slices.BinarySearch(s.other, name)
	return found
}

// Clinical returns the clinical scopes of s in canonical order.
func (s Set) Clinical() []Clinical {
	out := slices.Clone(s.clinical)
	for i := range out {
		out[i].Query = cloneQuery(out[i].Query)
	}
	return out
}

// Offline reports whether s holds offline_access: a refresh token that
// outlives the user's session.
func (s Set) Offline() bool { return s.Has("offline_access") }

// Online reports whether s holds online_access: a refresh token usable
// while the user's session lasts.
func (s Set) Online() bool { return s.Has("online_access") }

// HasLevel reports whether s holds a clinical scope of level l. A grant
// with patient/ scopes needs a patient in context.
func (s Set) HasLevel(l Level) bool {
	return slices.ContainsFunc(s.clinical, func(c Clinical) bool { return c.Level == l })
}

// Kind returns the broadest level among the clinical scopes of s: System
// for a backend client, User for an app acting for a user, Patient for a
// patient app; "" when s has no clinical scopes.
func (s Set) Kind() Level {
	for _, l := range slices.Backward(levels) {
		if s.HasLevel(l) {
			return l
		}
	}
	return ""
}

// Covers reports whether s grants everything other does: each non-clinical
// scope of other is in s, and each permission of each clinical scope of
// other is granted by a scope of s at the same level, for the same type or
// "*", with the same query or a broader one (a subset of its parameters;
// none at all is broadest). A token refresh that asks for scopes must ask
// for scopes the original grant covers.
//
// Queries compare as written: "category=a,b" does not cover "category=a".
// Levels never cover each other.
func (s Set) Covers(other Set) bool {
	for _, name := range other.other {
		if _, found := slices.BinarySearch(s.other, name); !found {
			return false
		}
	}
	for _, o := range other.clinical {
		for p := PermCreate; p <= PermSearch; p <<= 1 {
			if o.Perms&p != 0 && !slices.ContainsFunc(s.clinical, func(a Clinical) bool {
				return a.Perms&p != 0 && a.reaches(o)
			}) {
				return false
			}
		}
	}
	return true
}

// reaches reports whether a reaches every resource o does, permissions
// aside: same level, type "*" or o's type, and a query no narrower.
func (a Clinical) reaches(o Clinical) bool {
	return a.Level == o.Level && (a.Type == "*" || a.Type == o.Type) && querySubset(a.Query, o.Query)
}

// Narrow returns what a client asking for requested may be granted when
// allowed is the most it may have. Each requested clinical scope is kept
// as far as allowed scopes of its level cover it: its permissions shrink to
// theirs, a wildcard type narrows to their type, and their queries are
// added to its own. A scope a v1 request spelled stays v1 when its
// permissions still have a v1 word. A non-clinical scope is kept when
// allowed holds it too.
//
// Both requested and allowed cover the result; when allowed covers
// requested, the result equals requested.
func Narrow(requested, allowed Set) Set {
	var clinical []Clinical
	for _, r := range requested.clinical {
		for _, a := range allowed.clinical {
			p := r.Perms & a.Perms
			if p == 0 || r.Level != a.Level || (r.Type != a.Type && r.Type != "*" && a.Type != "*") {
				continue
			}
			typ := r.Type
			if typ == "*" {
				typ = a.Type
			}
			clinical = append(clinical, Clinical{
				Level: r.Level,
				Type:  typ,
				Perms: p,
				Query: queryUnion(r.Query, a.Query),
				V1:    r.V1,
			})
		}
	}
	var other []string
	for _, name := range requested.other {
		if _, found := slices.BinarySearch(allowed.other, name); found {
			other = append(other, name)
		}
	}
	return newSet(clinical, other)
}

// querySubset reports whether every parameter value of a is in b: b is the
// same query as a or a narrower one.
func querySubset(a, b url.Values) bool {
	for k, vs := range a {
		for _, v := range vs {
			if !slices.Contains(b[k], v) {
				return false
			}
		}
	}
	return true
}

// queryUnion returns a new query holding the parameter values of both a and
// b: the conjunction of the two queries; nil when both are empty.
func queryUnion(a, b url.Values) url.Values {
	q := cloneQuery(a)
	if q == nil {
		q = url.Values{}
	}
	for k, vs := range b {
		q[k] = append(q[k], vs...)
	}
	return normalQuery(q)
}

// cloneQuery copies q deeply; nil stays nil.
func cloneQuery(q url.Values) url.Values {
	if q == nil {
		return nil
	}
	out := make(url.Values, len(q))
	for k, vs := range q {
		out[k] = slices.Clone(vs)
	}
	return out
}
