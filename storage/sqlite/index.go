package sqlite

import (
	"fmt"
	"math"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/storage"
)

// Index tables, by their position in indexTables.
const (
	tString = iota
	tToken
	tTokenText
	tTokenType
	tReference
	tURI
	tDate
	tNumber
	tQuantity
	tComposite
	numIndexTables
)

// indexTables are the tables holding index entries (schema migration 2),
// in the order of the constants above.
var indexTables = []string{
	"idx_string", "idx_token", "idx_token_text", "idx_token_type", "idx_reference",
	"idx_uri", "idx_date", "idx_number", "idx_quantity", "idx_composite",
}

// indexColumns are the columns of each index table's rows, in the order
// add queues their values.
var indexColumns = [numIndexTables][]string{
	tString:    {"pid", "norm", "exact", "rid"},
	tToken:     {"pid", "code", "sys", "rid"},
	tTokenText: {"pid", "text", "rid"},
	tTokenType: {"pid", "value", "tcode", "tsys", "rid"},
	tReference: {"pid", "ref_id", "ref_type", "rid"},
	tURI:       {"pid", "uri", "rid"},
	tDate:      {"pid", "lo", "hi", "rid"},
	tNumber:    {"pid", "num", "rid"},
	tQuantity:  {"pid", "unit", "value", "sys", "code", "num", "rid"},
	tComposite: {"pid", "rid", "t1", "s1", "n1", "m1", "u1", "t2", "s2", "n2", "m2", "u2", "t3", "s3", "n3", "m3", "u3"},
}

// replace makes entries the index rows of the resource rid of type typ,
// deleting its previous rows first when it may have some. Both are
// queued (see indexTx) until the next flush.
func (t *indexTx) replace(rid int64, typ string, entries []storage.IndexEntry, existed bool) error {
	if existed {
		if err := t.queueDelete(rid); err != nil {
			return err
		}
	}
	for i := range entries {
		if err := t.add(rid, typ, &entries[i]); err != nil {
			return fmt.Errorf("index entry %s: %w", entries[i].Param, err)
		}
	}
	return nil
}

// add queues the rows of one entry.
func (t *indexTx) add(rid int64, typ string, e *storage.IndexEntry) error {
	pid, err := t.dict.param(t.tx, typ, e.Param)
	if err != nil {
		return err
	}
	insert := func(table int, values ...any) error {
		t.queue(table, rid, values...)
		return nil
	}
	switch e.Type {
	case conformance.ParamString:
		exact := e.Exact
		if exact == e.Norm {
			exact = ""
		}
		return insert(tString, pid, e.Norm, exact, rid)
	case conformance.ParamToken:
		return t.addToken(rid, pid, e)
	case conformance.ParamReference:
		if e.RefID != "" && e.RefType != "" {
			if err := insert(tReference, pid, e.RefID, e.RefType, rid); err != nil {
				return err
			}
		}
		if e.URL != "" {
			if err := insert(tURI, pid, e.URL, rid); err != nil {
				return err
			}
		}
		if e.System != "" || e.Code != "" { // Reference.identifier
			sys, err := t.dict.term(t.tx, e.System)
			if err != nil {
				return err
			}
			return insert(tToken, pid, e.Code, sys, rid)
		}
		return nil
	case conformance.ParamURI:
		return insert(tURI, pid, e.Exact, rid)
	case conformance.ParamDate:
		return insert(tDate, pid, e.Start, e.End, rid)
	case conformance.ParamNumber:
		return insert(tNumber, pid, e.Number, rid)
	case conformance.ParamQuantity:
		q, err := t.quantity(e)
		if err != nil {
			return err
		}
		return insert(tQuantity, pid, q.unit, q.value, q.sys, q.code, q.num, rid)
	case conformance.ParamComposite:
		if len(e.Components) == 0 || len(e.Components) > 3 {
			return fmt.Errorf("%d components, want 1 to 3", len(e.Components))
		}
		args := make([]any, 0, 17)
		args = append(args, pid, rid)
		for i := range 3 {
			var slots [5]any
			if i < len(e.Components) {
				if slots, err = t.compositeSlots(&e.Components[i]); err != nil {
					return err
				}
			}
			args = append(args, slots[:]...)
		}
		return insert(tComposite, args...)
	}
	return nil // special and unknown types are not indexed
}

func (t *indexTx) addToken(rid, pid int64, e *storage.IndexEntry) error {
	if e.System != "" || e.Code != "" {
		sys, err := t.dict.term(t.tx, e.System)
		if err != nil {
			return err
		}
		t.queue(tToken, rid, pid, e.Code, sys, rid)
	}
	if e.Text != "" {
		t.queue(tTokenText, rid, pid, e.Text, rid)
	}
	if e.TypeCode != "" {
		tsys, err := t.dict.term(t.tx, e.TypeSystem)
		if err != nil {
			return err
		}
		t.queue(tTokenType, rid, pid, e.Code, e.TypeCode, tsys, rid)
	}
	return nil
}

// quantityRow is a quantity entry as idx_quantity stores it.
type quantityRow struct {
	unit  string
	value float64
	sys   int64
	code  string
	num   float64
}

func (t *indexTx) quantity(e *storage.IndexEntry) (quantityRow, error) {
	q := quantityRow{unit: e.Code, value: e.Number, code: "", num: e.Number}
	if e.CanonicalCode != "" {
		q.unit, q.value = e.CanonicalCode, e.CanonicalNumber
		if e.Code != q.unit {
			q.code = e.Code
		}
	}
	var err error
	q.sys, err = t.dict.term(t.tx, e.System)
	return q, err
}

// compositeSlots returns the slots (t, s, n, m, u) of one component:
//
//	token      t code, s system id
//	reference  t id and s type, or t the URL and s ''
//	string     t normalized text
//	uri        t the URI
//	date       n start, m end
//	number     n the number
//	quantity   t unit, n value, s system id, m number and u code as
//	           written (m NULL when it is the value, u '' when it is
//	           the unit), as in idx_quantity
//
// The columns have no type, so integral numbers are stored as integers,
// which SQLite keeps in fewer bytes and compares with REALs by value.
func (t *indexTx) compositeSlots(c *storage.IndexEntry) ([5]any, error) {
	var slots [5]any
	switch c.Type {
	case conformance.ParamToken:
		sys, err := t.dict.term(t.tx, c.System)
		if err != nil {
			return slots, err
		}
		slots[0], slots[1] = c.Code, sys
	case conformance.ParamReference:
		if c.RefID != "" && c.RefType != "" {
			slots[0], slots[1] = c.RefID, c.RefType
		} else {
			slots[0], slots[1] = c.URL, ""
		}
	case conformance.ParamString:
		slots[0] = c.Norm
	case conformance.ParamURI:
		slots[0] = c.Exact
	case conformance.ParamDate:
		slots[2], slots[3] = c.Start, c.End
	case conformance.ParamNumber:
		slots[2] = compactNumber(c.Number)
	case conformance.ParamQuantity:
		q, err := t.quantity(c)
		if err != nil {
			return slots, err
		}
		slots = [5]any{q.unit, q.sys, compactNumber(q.value), nil, q.code}
		if q.num != q.value {
			slots[3] = compactNumber(q.num)
		}
	default:
		return slots, fmt.Errorf("a composite component of type %s", c.Type)
	}
	return slots, nil
}

// compactNumber is f as an int64 when it is integral and in range, so
// that a column without type affinity stores it in fewer bytes.
func compactNumber(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f)
	}
	return f
}
