package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/storage"
)

// indexTables are the tables holding index entries (schema migration 2),
// in the order replaceIndex deletes from them.
var indexTables = []string{
	"idx_string", "idx_token", "idx_token_text", "idx_token_type", "idx_reference",
	"idx_uri", "idx_date", "idx_number", "idx_quantity", "idx_composite",
}

// indexInserts are the statements adding one row to each index table. The
// same entry may give a row already there (two codings differing only in
// their display), hence OR IGNORE.
var indexInserts = map[string]string{
	"idx_string":     "INSERT OR IGNORE INTO idx_string (pid, norm, exact, rid) VALUES (?, ?, ?, ?)",
	"idx_token":      "INSERT OR IGNORE INTO idx_token (pid, code, sys, rid) VALUES (?, ?, ?, ?)",
	"idx_token_text": "INSERT OR IGNORE INTO idx_token_text (pid, text, rid) VALUES (?, ?, ?)",
	"idx_token_type": "INSERT OR IGNORE INTO idx_token_type (pid, value, tcode, tsys, rid) VALUES (?, ?, ?, ?, ?)",
	"idx_reference":  "INSERT OR IGNORE INTO idx_reference (pid, ref_id, ref_type, rid) VALUES (?, ?, ?, ?)",
	"idx_uri":        "INSERT OR IGNORE INTO idx_uri (pid, uri, rid) VALUES (?, ?, ?)",
	"idx_date":       "INSERT OR IGNORE INTO idx_date (pid, lo, hi, rid) VALUES (?, ?, ?, ?)",
	"idx_number":     "INSERT OR IGNORE INTO idx_number (pid, num, rid) VALUES (?, ?, ?)",
	"idx_quantity":   "INSERT OR IGNORE INTO idx_quantity (pid, unit, value, sys, code, num, rid) VALUES (?, ?, ?, ?, ?, ?, ?)",
	"idx_composite": `INSERT INTO idx_composite (pid, rid, t1, s1, n1, m1, u1, t2, s2, n2, m2, u2, t3, s3, n3, m3, u3)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
}

// indexStatements are the writer's prepared statements for index rows.
type indexStatements struct {
	insert map[string]*sql.Stmt
	delete []*sql.Stmt // one per indexTables entry
}

func (ix *indexStatements) prepare(ctx context.Context, writer *sql.DB) error {
	ix.insert = map[string]*sql.Stmt{}
	for table, query := range indexInserts {
		stmt, err := writer.PrepareContext(ctx, query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", query, err)
		}
		ix.insert[table] = stmt
	}
	for _, table := range indexTables {
		query := "DELETE FROM " + table + " WHERE rid = ?"
		stmt, err := writer.PrepareContext(ctx, query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", query, err)
		}
		ix.delete = append(ix.delete, stmt)
	}
	return nil
}

func (ix *indexStatements) close() error {
	var errs []error
	for _, stmt := range ix.insert {
		errs = append(errs, stmt.Close())
	}
	for _, stmt := range ix.delete {
		errs = append(errs, stmt.Close())
	}
	return errors.Join(errs...)
}

// indexTx writes index rows in one transaction, binding the writer's
// statements to it once each.
type indexTx struct {
	tx    *sql.Tx
	ix    *indexStatements
	dict  *writerDict
	bound map[*sql.Stmt]*sql.Stmt
}

func (s *Store) newIndexTx(tx *sql.Tx) *indexTx {
	return &indexTx{tx: tx, ix: &s.index, dict: s.wdict, bound: map[*sql.Stmt]*sql.Stmt{}}
}

func (t *indexTx) exec(stmt *sql.Stmt, args ...any) error {
	b, ok := t.bound[stmt]
	if !ok {
		b = t.tx.StmtContext(context.Background(), stmt)
		t.bound[stmt] = b
	}
	_, err := b.ExecContext(context.Background(), args...)
	return err
}

// replace makes entries the index rows of the resource rid of type typ,
// deleting its previous rows first when it may have some.
func (t *indexTx) replace(rid int64, typ string, entries []storage.IndexEntry, existed bool) error {
	if existed {
		for i, stmt := range t.ix.delete {
			if err := t.exec(stmt, rid); err != nil {
				return fmt.Errorf("delete from %s: %w", indexTables[i], err)
			}
		}
	}
	for i := range entries {
		if err := t.add(rid, typ, &entries[i]); err != nil {
			return fmt.Errorf("index entry %s: %w", entries[i].Param, err)
		}
	}
	return nil
}

// add writes the rows of one entry.
func (t *indexTx) add(rid int64, typ string, e *storage.IndexEntry) error {
	pid, err := t.dict.param(t.tx, typ, e.Param)
	if err != nil {
		return err
	}
	insert := func(table string, args ...any) error {
		return t.exec(t.ix.insert[table], args...)
	}
	switch e.Type {
	case conformance.ParamString:
		exact := e.Exact
		if exact == e.Norm {
			exact = ""
		}
		return insert("idx_string", pid, e.Norm, exact, rid)
	case conformance.ParamToken:
		return t.addToken(rid, pid, e)
	case conformance.ParamReference:
		if e.RefID != "" && e.RefType != "" {
			if err := insert("idx_reference", pid, e.RefID, e.RefType, rid); err != nil {
				return err
			}
		}
		if e.URL != "" {
			if err := insert("idx_uri", pid, e.URL, rid); err != nil {
				return err
			}
		}
		if e.System != "" || e.Code != "" { // Reference.identifier
			sys, err := t.dict.term(t.tx, e.System)
			if err != nil {
				return err
			}
			return insert("idx_token", pid, e.Code, sys, rid)
		}
		return nil
	case conformance.ParamURI:
		return insert("idx_uri", pid, e.Exact, rid)
	case conformance.ParamDate:
		return insert("idx_date", pid, e.Start, e.End, rid)
	case conformance.ParamNumber:
		return insert("idx_number", pid, e.Number, rid)
	case conformance.ParamQuantity:
		q, err := t.quantity(e)
		if err != nil {
			return err
		}
		return insert("idx_quantity", pid, q.unit, q.value, q.sys, q.code, q.num, rid)
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
		return insert("idx_composite", args...)
	}
	return nil // special and unknown types are not indexed
}

func (t *indexTx) addToken(rid, pid int64, e *storage.IndexEntry) error {
	if e.System != "" || e.Code != "" {
		sys, err := t.dict.term(t.tx, e.System)
		if err != nil {
			return err
		}
		if err := t.exec(t.ix.insert["idx_token"], pid, e.Code, sys, rid); err != nil {
			return err
		}
	}
	if e.Text != "" {
		if err := t.exec(t.ix.insert["idx_token_text"], pid, e.Text, rid); err != nil {
			return err
		}
	}
	if e.TypeCode != "" {
		tsys, err := t.dict.term(t.tx, e.TypeSystem)
		if err != nil {
			return err
		}
		return t.exec(t.ix.insert["idx_token_type"], pid, e.Code, e.TypeCode, tsys, rid)
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
