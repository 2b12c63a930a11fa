package mongo

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/search"
)

// Chains and reverse chains are resolved inside out, without $lookup
// (FerretDB has none): the inner search runs first and yields resource
// keys, which the outer condition then tests with $in. A chain
// subject:Patient.name=x finds the Patients named x and becomes
// k $in ["subject|r|Patient/<id>", ...]; _has:Observation:patient:code=x
// finds the Observations with code x, reads their "patient|r|Type/id" keys
// and becomes _id $in ["Type/id", ...]. Each intermediate result may hold
// at most maxIntermediate resources, and chains nest at most maxDepth
// deep; beyond that the search fails as too costly rather than sending
// MongoDB an unbounded $in.
const maxDepth = 8

// maxIntermediate is a variable for tests.
var maxIntermediate = 10000

// compiler turns a search.Query's filters into a cond.
type compiler struct {
	s   *Store
	now time.Time
}

// filters compiles filters (ANDed) on types.
func (c *compiler) filters(ctx context.Context, types []string, fs []search.Filter, depth int) (cond, error) {
	if depth > maxDepth {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeTooCostly, "chains nest more than %d deep", maxDepth)
	}
	all := allOf{}
	for i := range fs {
		cd, err := c.filter(ctx, types, &fs[i], depth)
		if err != nil {
			return nil, err
		}
		all = append(all, cd)
	}
	return all, nil
}

func (c *compiler) filter(ctx context.Context, types []string, f *search.Filter, depth int) (cond, error) {
	switch {
	case len(f.Or) > 0:
		alts := anyOf{}
		for i := range f.Or {
			cd, err := c.filter(ctx, types, &f.Or[i], depth)
			if err != nil {
				return nil, err
			}
			alts = append(alts, cd)
		}
		return alts, nil
	case f.Has != nil:
		return c.has(ctx, types, f.Has, depth)
	case f.Param == nil:
		return nil, fmt.Errorf("storage/mongo: filter without a parameter")
	case f.Chain != nil:
		return c.chain(ctx, f, depth)
	case f.Missing != nil:
		present := hasKey{key(f.Param.Code, "*")}
		if *f.Missing {
			return not{present}, nil
		}
		return present, nil
	}
	values := anyOf{}
	for i := range f.Values {
		cd, err := valueCond(f.Param, f.Modifier, &f.Values[i], c.now)
		if err != nil {
			return nil, err
		}
		values = append(values, cd)
	}
	if f.Modifier == "not" || f.Modifier == "not-in" {
		// Resources without a matching value, those without any value included.
		return not{values}, nil
	}
	return values, nil
}

// chain resolves f.Chain on f.ChainType and matches the references to the
// resources found.
func (c *compiler) chain(ctx context.Context, f *search.Filter, depth int) (cond, error) {
	inner, err := c.filters(ctx, []string{f.ChainType}, []search.Filter{*f.Chain}, depth+1)
	if err != nil {
		return nil, err
	}
	keys := hasKey{}
	err = c.s.each(ctx, []string{f.ChainType}, inner, nil, func(d *currentDoc) error {
		if len(keys) == maxIntermediate {
			return tooCostly(f.Param.Code + "." + f.ChainType)
		}
		keys = append(keys, key(f.Param.Code, "r", d.Key))
		return nil
	})
	return keys, err
}

// has resolves a reverse chain: the resources of types that a resource of
// h.Type matching h.Filter refers to through h.Param.
func (c *compiler) has(ctx context.Context, types []string, h *search.Has, depth int) (cond, error) {
	inner, err := c.filters(ctx, []string{h.Type}, []search.Filter{h.Filter}, depth+1)
	if err != nil {
		return nil, err
	}
	prefix := key(h.Param.Code, "r", "")
	found := map[string]bool{}
	err = c.s.each(ctx, []string{h.Type}, inner, bson.D{{Key: "k", Value: 1}}, func(d *currentDoc) error {
		for _, k := range d.Keys {
			ref, ok := strings.CutPrefix(k, prefix)
			if !ok || found[ref] {
				continue
			}
			typ, _, _ := strings.Cut(ref, "/")
			if len(types) > 0 && !slices.Contains(types, typ) {
				continue
			}
			if len(found) == maxIntermediate {
				return tooCostly("_has:" + h.Type + ":" + h.Param.Code)
			}
			found[ref] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return newIDIn(found), nil
}

func tooCostly(what string) error {
	return fhir.Errorf(http.StatusBadRequest, fhir.CodeTooCostly,
		"%s matches more than %d resources; narrow the search", what, maxIntermediate)
}

// base is the filter every search starts from: current, not deleted, of
// types (none: any type).
func base(types []string) bson.D {
	f := bson.D{{Key: "deleted", Value: false}}
	switch len(types) {
	case 0:
	case 1:
		f = append(f, bson.E{Key: "type", Value: types[0]})
	default:
		f = append(f, bson.E{Key: "type", Value: bson.D{{Key: "$in", Value: types}}})
	}
	return f
}

// where combines base(types) with cd's filter.
func where(types []string, cd cond) bson.D {
	f := base(types)
	if cf := cd.filter(); cf != nil {
		f = append(f, bson.E{Key: "$and", Value: bson.A{cf}})
	}
	return f
}

// each calls fn with every document of types that cd matches, in no
// particular order, with the fields of proj (besides _id) and those eval
// needs.
func (s *Store) each(ctx context.Context, types []string, cd cond, proj bson.D, fn func(*currentDoc) error) error {
	proj = append(bson.D{{Key: "_id", Value: 1}}, proj...)
	exact := cd.exact()
	if !exact {
		proj = append(proj, bson.E{Key: "k", Value: 1}, bson.E{Key: "ix", Value: 1})
	}
	cur, err := s.resources.Find(ctx, where(types, cd), options.Find().SetProjection(dedupeFields(proj)))
	if err != nil {
		return fmt.Errorf("storage/mongo: search: %w", err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var d currentDoc
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("storage/mongo: search: %w", err)
		}
		if !exact && !cd.eval(newCandidate(&d)) {
			continue
		}
		if err := fn(&d); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("storage/mongo: search: %w", err)
	}
	return nil
}

// dedupeFields drops repeated fields of a projection, which MongoDB refuses.
func dedupeFields(proj bson.D) bson.D {
	out := proj[:0:0]
	for _, e := range proj {
		if !slices.ContainsFunc(out, func(o bson.E) bool { return o.Key == e.Key }) {
			out = append(out, e)
		}
	}
	return out
}
