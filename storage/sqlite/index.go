package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/storage"
)

// indexTables are the tables holding index entries (schema migration 2),
// in the order replaceIndex deletes from them.
var indexTables = []string{
	"idx_string", "idx_token", "idx_token_text", "idx_token_type", "idx_reference",
	"idx_uri", "idx_date", "idx_number", "idx_quantity", "idx_composite",
}

// indexColumns are the columns of each index table's rows, in the order
// add queues their values.
var indexColumns = map[string][]string{
	"idx_string":     {"pid", "norm", "exact", "rid"},
	"idx_token":      {"pid", "code", "sys", "rid"},
	"idx_token_text": {"pid", "text", "rid"},
	"idx_token_type": {"pid", "value", "tcode", "tsys", "rid"},
	"idx_reference":  {"pid", "ref_id", "ref_type", "rid"},
	"idx_uri":        {"pid", "uri", "rid"},
	"idx_date":       {"pid", "lo", "hi", "rid"},
	"idx_number":     {"pid", "num", "rid"},
	"idx_quantity":   {"pid", "unit", "value", "sys", "code", "num", "rid"},
	"idx_composite":  {"pid", "rid", "t1", "s1", "n1", "m1", "u1", "t2", "s2", "n2", "m2", "u2", "t3", "s3", "n3", "m3", "u3"},
}

// insertSizes are the row counts of the multi-row INSERTs prepared for
// each table: a resource's rows go in as few of them as their count's
// binary digits (19 rows: 16 + 2 + 1). They are prepared when the store
// opens: the writer has one connection, which a transaction holds.
var insertSizes = []int{32, 16, 8, 4, 2, 1}

// insertSQL adds rows rows to table in one statement. The same entry may
// give a row already there (two codings differing only in their display),
// hence OR IGNORE where the table has a unique key (idx_composite has
// none).
func insertSQL(table string, rows int) string {
	cols := indexColumns[table]
	one := "(" + strings.Repeat("?, ", len(cols)-1) + "?)"
	verb := "INSERT OR IGNORE"
	if table == "idx_composite" {
		verb = "INSERT"
	}
	return verb + " INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " + strings.Repeat(one+", ", rows-1) + one
}

// indexStatements are the writer's prepared statements for index rows.
type indexStatements struct {
	// insert holds the multi-row inserts by table and row count (one of
	// insertSizes).
	insert map[insertKey]*sql.Stmt
	delete []*sql.Stmt // one per indexTables entry
}

type insertKey struct {
	table string
	rows  int
}

func (ix *indexStatements) prepare(ctx context.Context, writer *sql.DB) error {
	ix.insert = map[insertKey]*sql.Stmt{}
	for _, table := range indexTables {
		for _, rows := range insertSizes {
			query := insertSQL(table, rows)
			stmt, err := writer.PrepareContext(ctx, query)
			if err != nil {
				return fmt.Errorf("prepare %q: %w", query, err)
			}
			ix.insert[insertKey{table, rows}] = stmt
		}
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
// statements to it once each. Rows are queued per table and written with
// multi-row INSERTs (flush) before the transaction commits, and before a
// savepoint begins or is released: a batch of writes costs a few
// statements per table rather than one per row.
type indexTx struct {
	tx    *sql.Tx
	ix    *indexStatements
	dict  *writerDict
	bound map[*sql.Stmt]*sql.Stmt
	// queued holds each table's queued rows, their values one after the
	// other (see indexColumns); rids are the resources they belong to.
	queued map[string][]any
	rids   map[int64]bool
}

func (s *Store) newIndexTx(tx *sql.Tx) *indexTx {
	return &indexTx{tx: tx, ix: &s.index, dict: s.wdict, bound: map[*sql.Stmt]*sql.Stmt{},
		queued: map[string][]any{}, rids: map[int64]bool{}}
}

// queue adds a row to table, written by the next flush.
func (t *indexTx) queue(table string, values ...any) {
	t.queued[table] = append(t.queued[table], values...)
}

// flush writes the queued rows.
func (t *indexTx) flush() error {
	for _, table := range indexTables {
		values := t.queued[table]
		width := len(indexColumns[table])
		for len(values) > 0 {
			rows := len(values) / width
			for _, size := range insertSizes {
				if size <= rows {
					rows = size
					break
				}
			}
			if err := t.exec(t.ix.insert[insertKey{table, rows}], values[:rows*width]...); err != nil {
				return fmt.Errorf("insert into %s: %w", table, err)
			}
			values = values[rows*width:]
		}
		t.queued[table] = t.queued[table][:0]
	}
	clear(t.rids)
	return nil
}

// discard forgets the queued rows (their writes were rolled back).
func (t *indexTx) discard() {
	for table := range t.queued {
		t.queued[table] = t.queued[table][:0]
	}
	clear(t.rids)
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
// deleting its previous rows first when it may have some (written ones:
// rows of an earlier version still queued are flushed first).
func (t *indexTx) replace(rid int64, typ string, entries []storage.IndexEntry, existed bool) error {
	if existed && t.rids[rid] {
		if err := t.flush(); err != nil {
			return err
		}
	}
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
	if len(entries) > 0 {
		t.rids[rid] = true
	}
	return nil
}

// add queues the rows of one entry.
func (t *indexTx) add(rid int64, typ string, e *storage.IndexEntry) error {
	pid, err := t.dict.param(t.tx, typ, e.Param)
	if err != nil {
		return err
	}
	switch e.Type {
	case conformance.ParamString:
		exact := e.Exact
		if exact == e.Norm {
			exact = ""
		}
		t.queue("idx_string", pid, e.Norm, exact, rid)
		return nil
	case conformance.ParamToken:
		return t.addToken(rid, pid, e)
	case conformance.ParamReference:
		if e.RefID != "" && e.RefType != "" {
			t.queue("idx_reference", pid, e.RefID, e.RefType, rid)
		}
		if e.URL != "" {
			t.queue("idx_uri", pid, e.URL, rid)
		}
		if e.System != "" || e.Code != "" { // Reference.identifier
			sys, err := t.dict.term(t.tx, e.System)
			if err != nil {
				return err
			}
			t.queue("idx_token", pid, e.Code, sys, rid)
		}
		return nil
	case conformance.ParamURI:
		t.queue("idx_uri", pid, e.Exact, rid)
		return nil
	case conformance.ParamDate:
		t.queue("idx_date", pid, e.Start, e.End, rid)
		return nil
	case conformance.ParamNumber:
		t.queue("idx_number", pid, e.Number, rid)
		return nil
	case conformance.ParamQuantity:
		q, err := t.quantity(e)
		if err != nil {
			return err
		}
		t.queue("idx_quantity", pid, q.unit, q.value, q.sys, q.code, q.num, rid)
		return nil
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
		t.queue("idx_composite", args...)
		return nil
	}
	return nil // special and unknown types are not indexed
}

func (t *indexTx) addToken(rid, pid int64, e *storage.IndexEntry) error {
	if e.System != "" || e.Code != "" {
		sys, err := t.dict.term(t.tx, e.System)
		if err != nil {
			return err
		}
		t.queue("idx_token", pid, e.Code, sys, rid)
	}
	if e.Text != "" {
		t.queue("idx_token_text", pid, e.Text, rid)
	}
	if e.TypeCode != "" {
		tsys, err := t.dict.term(t.tx, e.TypeSystem)
		if err != nil {
			return err
		}
		t.queue("idx_token_type", pid, e.Code, e.TypeCode, tsys, rid)
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
