package sqlite

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

// The order of a search: its _sort keys, then type and id. A resource
// sorts by its smallest value of a parameter ascending and by its largest
// descending; resources without a value come last either way. Values
// compare as: strings by their normalized form, tokens by code,
// references by "Type/id" (by URL when they have no local target), dates
// by the start of their range, numbers and quantities by the number as
// written, URIs as written. Composite parameters have no sort value.
//
// A page cursor holds the sort values, type and id of the last (or, for
// Prev, first) resource of a page; the next page is the resources
// strictly after it in the order (keyset paging), so resources written
// between pages never shift what comes next, and a cursor stays valid
// across restarts.

// sortKey is one _sort key, compiled.
type sortKey struct {
	code  string
	desc  bool
	kind  sortKind
	value func(rid string) expr // the resource's sort value; NULL when none
}

type sortKind int

const (
	sortNone sortKind = iota // composite and special parameters
	sortText
	sortInt
	sortReal
)

func (c *compiler) sortKeys(types []string, keys []search.SortKey) ([]sortKey, error) {
	out := make([]sortKey, 0, len(keys))
	for _, k := range keys {
		if k.Param == nil {
			return nil, fmt.Errorf("sqlite: search: a sort key without a parameter")
		}
		pids, err := c.params(types, k.Param.Code)
		if err != nil {
			return nil, err
		}
		agg := "min"
		if k.Descending {
			agg = "max"
		}
		sk := sortKey{code: k.Param.Code, desc: k.Descending}
		// value reads the aggregate of col in table over the resource's
		// entries of the parameter.
		value := func(table, col, extra string) func(string) expr {
			return func(rid string) expr {
				x := c.alias("x")
				return cat("(SELECT ", agg, "(", strings.ReplaceAll(col, "$", x), ") FROM ", table, " ", x,
					" WHERE ", x, ".rid = ", rid, " AND ", in(x+".pid", pids), strings.ReplaceAll(extra, "$", x), ")")
			}
		}
		switch k.Param.Type {
		case conformance.ParamString:
			sk.kind, sk.value = sortText, value("idx_string", "$.norm", "")
		case conformance.ParamToken:
			sk.kind, sk.value = sortText, value("idx_token", "$.code", " AND $.code <> ''")
		case conformance.ParamReference:
			target := value("idx_reference", "$.ref_type || '/' || $.ref_id", "")
			url := value("idx_uri", "$.uri", "")
			sk.kind, sk.value = sortText, func(rid string) expr { return cat("coalesce(", target(rid), ", ", url(rid), ")") }
		case conformance.ParamURI:
			sk.kind, sk.value = sortText, value("idx_uri", "$.uri", "")
		case conformance.ParamDate:
			sk.kind, sk.value = sortInt, value("idx_date", "$.lo", "")
		case conformance.ParamNumber:
			sk.kind, sk.value = sortReal, value("idx_number", "$.num", "")
		case conformance.ParamQuantity:
			sk.kind, sk.value = sortReal, value("idx_quantity", "$.num", "")
		default:
			sk.kind, sk.value = sortNone, func(string) expr { return expr{sql: "NULL"} }
		}
		if len(pids) == 0 {
			sk.value = func(string) expr { return expr{sql: "NULL"} }
		}
		out = append(out, sk)
	}
	return out, nil
}

// signature identifies an order in its cursors: "date,-status".
func signature(keys []search.SortKey) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k.Param.Code
		if k.Descending {
			parts[i] = "-" + parts[i]
		}
	}
	return strings.Join(parts, ",")
}

// position is a place in an order: the sort values (nil when missing),
// type and id of a resource.
type position struct {
	vals    []any // string, int64 or float64 by the key's kind
	typ, id string
}

// cursorJSON is a position as a cursor carries it.
type cursorJSON struct {
	Sig  string            `json:"s"`
	Vals []json.RawMessage `json:"v"`
	Type string            `json:"t"`
	ID   string            `json:"i"`
}

// encode renders p as an opaque cursor for the order sig.
func (p *position) encode(sig string) string {
	c := cursorJSON{Sig: sig, Type: p.typ, ID: p.id, Vals: make([]json.RawMessage, len(p.vals))}
	for i, v := range p.vals {
		// Strings, int64s and finite float64s (SQLite stores no NaN),
		// which JSON carries exactly.
		c.Vals[i], _ = json.Marshal(v)
	}
	b, _ := json.Marshal(c) // strings and numbers: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor that encode made for the order sig with keys.
func decodeCursor(cursor, sig string, keys []sortKey) (*position, error) {
	bad := func(why string) error { return fmt.Errorf("%w: %s", storage.ErrBadCursor, why) }
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, bad("not base64url")
	}
	var c cursorJSON
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&c); err != nil {
		return nil, bad("not a position")
	}
	if c.Sig != sig || len(c.Vals) != len(keys) {
		return nil, bad("made for another sort order")
	}
	if c.Type == "" || c.ID == "" {
		return nil, bad("no resource")
	}
	p := &position{typ: c.Type, id: c.ID, vals: make([]any, len(keys))}
	for i, raw := range c.Vals {
		if string(raw) == "null" {
			continue
		}
		switch keys[i].kind {
		case sortText:
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return nil, bad("not a sort value")
			}
			p.vals[i] = s
		case sortInt:
			var n int64
			if json.Unmarshal(raw, &n) != nil {
				return nil, bad("not a sort value")
			}
			p.vals[i] = n
		case sortReal:
			var f float64
			if json.Unmarshal(raw, &f) != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				return nil, bad("not a sort value")
			}
			p.vals[i] = f
		default:
			return nil, bad("a value for a parameter without sort values")
		}
	}
	return p, nil
}

// sortValue converts a sort value read from SQLite to its kind's Go type.
func sortValue(kind sortKind, v any) any {
	switch v := v.(type) {
	case nil:
		return nil
	case int64:
		if kind == sortReal {
			return float64(v)
		}
		return v
	case float64:
		if kind == sortInt {
			return int64(v)
		}
		return v
	case []byte:
		return string(v)
	}
	return v
}

// orderBy is the ORDER BY of the columns cols (sort values, then type and
// id), reversed for reading backward.
func orderBy(keys []sortKey, cols []string, backward bool) string {
	var terms []string
	for i, k := range keys {
		dir := "ASC"
		if k.desc != backward {
			dir = "DESC"
		}
		nulls := "IS NULL"
		if backward {
			nulls = "IS NOT NULL"
		}
		terms = append(terms, cols[i]+" "+nulls, cols[i]+" "+dir)
	}
	dir := "ASC"
	if backward {
		dir = "DESC"
	}
	n := len(keys)
	terms = append(terms, cols[n]+" "+dir, cols[n+1]+" "+dir)
	return strings.Join(terms, ", ")
}

// beyond is the condition "strictly after p in the order" on the columns
// cols (sort values, type, id), or "strictly before" when backward. It is
// never NULL, so that NOT beyond is "at or before p".
func beyond(keys []sortKey, cols []string, p *position, backward bool) expr {
	var alts, same []expr
	for i, k := range keys {
		col, v := cols[i], p.vals[i]
		var step expr
		switch {
		case v == nil && !backward:
			step = never // nothing sorts after a missing value but ties
		case v == nil:
			step = cat(col, " IS NOT NULL")
		case k.desc == backward: // greater values come after
			if backward {
				step = cat("(", col, " IS NOT NULL AND ", col, " > ", arg(v), ")")
			} else {
				step = cat("(", col, " > ", arg(v), " OR ", col, " IS NULL)")
			}
		default: // smaller values come after
			if backward {
				step = cat("(", col, " IS NOT NULL AND ", col, " < ", arg(v), ")")
			} else {
				step = cat("(", col, " < ", arg(v), " OR ", col, " IS NULL)")
			}
		}
		alts = append(alts, and(append(same[:len(same):len(same)], step)...))
		if v == nil {
			same = append(same, cat(col, " IS NULL"))
		} else {
			same = append(same, cat("coalesce(", col, " = ", arg(v), ", 0)"))
		}
	}
	op := ">"
	if backward {
		op = "<"
	}
	n := len(keys)
	last := cat("(", cols[n], ", ", cols[n+1], ") ", op, " (", arg(p.typ), ", ", arg(p.id), ")")
	alts = append(alts, and(append(same, last)...))
	return or(alts...)
}
