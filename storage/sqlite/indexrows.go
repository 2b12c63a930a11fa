package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Index rows are many (about 20 per Observation, in ten tables), and one
// statement per row costs more in statement overhead than in b-tree work.
// So the writer queues the index rows of a transaction's writes, the
// deletions of the rows they replace, and the writes' history rows, and
// writes them per table with multi-row statements (flush): before the
// commit, before an atomic request's savepoint, and before a deletion of
// index rows that are still queued (one transaction may write two versions
// of a resource). A version superseded while its history row is queued
// gets superseded_at in the queue.

// maxRowsPerStatement is the most rows one index statement takes, a power
// of two: a table's queued rows go in statements of maxRowsPerStatement,
// then one per bit of the remainder, so that a few statements per table
// are prepared once and serve any count.
const maxRowsPerStatement = 64

// rowStatementSizes is the number of statements per table and kind:
// 1, 2, 4, … maxRowsPerStatement rows.
const rowStatementSizes = 7

// indexStatements are the writer's prepared statements for index and
// history rows: insert[t][k] adds 1<<k rows to index table t, delete[t][k]
// removes the rows of 1<<k resources from it, history[k] adds 1<<k
// history rows.
type indexStatements struct {
	insert, delete [numIndexTables][rowStatementSizes]*sql.Stmt
	history        [rowStatementSizes]*sql.Stmt
	// create[k] is the compare-and-swap of 1<<k creates (see createAll).
	create [rowStatementSizes]*sql.Stmt
}

// historyColumns are the columns of a queued history row.
var historyColumns = []string{"type", "id", "version", "last_updated", "superseded_at", "deleted", "method", "json"}

// createSQL inserts the current rows of rows new resources, but none
// whose type and id exist, and returns those it inserted.
func createSQL(rows int) string {
	one := "(?, ?, ?, ?, ?, ?, ?)"
	return "INSERT INTO resources (type, id, version, last_updated, deleted, method, json) VALUES " +
		strings.Repeat(one+", ", rows-1) + one + " ON CONFLICT (type, id) DO NOTHING RETURNING type, id, rid"
}

// historySupersededAt is the position of superseded_at in historyColumns.
const historySupersededAt = 4

// historyInsertSQL adds rows rows to history.
func historyInsertSQL(rows int) string {
	one := "(" + strings.Repeat("?, ", len(historyColumns)-1) + "?)"
	return "INSERT INTO history (" + strings.Join(historyColumns, ", ") + ") VALUES " +
		strings.Repeat(one+", ", rows-1) + one
}

// insertSQL adds rows rows to table t. The same entry may give a row
// already there (two codings differing only in their display), hence OR
// IGNORE where the table has a unique key (idx_composite has none).
func insertSQL(t, rows int) string {
	cols := indexColumns[t]
	one := "(" + strings.Repeat("?, ", len(cols)-1) + "?)"
	verb := "INSERT OR IGNORE"
	if t == tComposite {
		verb = "INSERT"
	}
	return verb + " INTO " + indexTables[t] + " (" + strings.Join(cols, ", ") + ") VALUES " +
		strings.Repeat(one+", ", rows-1) + one
}

// deleteSQL removes the rows of rids resources from table t.
func deleteSQL(t, rids int) string {
	return "DELETE FROM " + indexTables[t] + " WHERE rid IN (" + strings.Repeat("?, ", rids-1) + "?)"
}

func (ix *indexStatements) prepare(ctx context.Context, writer *sql.DB) error {
	prepare := func(stmt **sql.Stmt, query string) error {
		var err error
		if *stmt, err = writer.PrepareContext(ctx, query); err != nil {
			return fmt.Errorf("prepare %q: %w", query, err)
		}
		return nil
	}
	for k := range rowStatementSizes {
		for t := range numIndexTables {
			if err := prepare(&ix.insert[t][k], insertSQL(t, 1<<k)); err != nil {
				return err
			}
			if err := prepare(&ix.delete[t][k], deleteSQL(t, 1<<k)); err != nil {
				return err
			}
		}
		if err := prepare(&ix.history[k], historyInsertSQL(1<<k)); err != nil {
			return err
		}
		if err := prepare(&ix.create[k], createSQL(1<<k)); err != nil {
			return err
		}
	}
	return nil
}

func (ix *indexStatements) close() error {
	var errs []error
	for k := range rowStatementSizes {
		stmts := []*sql.Stmt{ix.history[k], ix.create[k]}
		for t := range numIndexTables {
			stmts = append(stmts, ix.insert[t][k], ix.delete[t][k])
		}
		for _, stmt := range stmts {
			if stmt != nil {
				errs = append(errs, stmt.Close())
			}
		}
	}
	return errors.Join(errs...)
}

// indexTx queues and writes the index and history rows of one writer
// transaction, binding the writer's statements to it once each.
type indexTx struct {
	tx    *sql.Tx
	ix    *indexStatements
	dict  *writerDict
	bound map[*sql.Stmt]*sql.Stmt
	// rows holds each table's queued rows, their values one after the
	// other (see indexColumns); deletes the rids whose rows are to be
	// deleted, before the queued rows are inserted; queuedRIDs the rids
	// with queued rows.
	rows       [numIndexTables][]any
	deletes    []any
	queuedRIDs map[int64]struct{}
	// history holds the queued history rows (see historyColumns);
	// historyAt the position in it of each resource's last queued row.
	history   []any
	historyAt map[resourceKey]int
}

type resourceKey struct{ typ, id string }

func (s *Store) newIndexTx(tx *sql.Tx) *indexTx {
	return &indexTx{tx: tx, ix: &s.index, dict: s.wdict, bound: map[*sql.Stmt]*sql.Stmt{},
		queuedRIDs: map[int64]struct{}{}, historyAt: map[resourceKey]int{}}
}

// queueHistory queues the history row of a new version (json nil for a
// deletion).
func (t *indexTx) queueHistory(typ, id string, version, lastUpdated int64, deleted bool, method string, json any) {
	t.historyAt[resourceKey{typ, id}] = len(t.history)
	t.history = append(t.history, typ, id, version, lastUpdated, nil, deleted, method, json)
}

// supersedeQueued sets the superseded_at of typ/id's version when its
// history row is queued, and reports whether it was.
func (t *indexTx) supersedeQueued(typ, id string, version, at int64) bool {
	i, ok := t.historyAt[resourceKey{typ, id}]
	if !ok || t.history[i+2] != any(version) || t.history[i+historySupersededAt] != nil {
		return false
	}
	t.history[i+historySupersededAt] = at
	return true
}

// queue adds a row of the resource rid to table t.
func (t *indexTx) queue(table int, rid int64, values ...any) {
	t.rows[table] = append(t.rows[table], values...)
	t.queuedRIDs[rid] = struct{}{}
}

// queueDelete queues the deletion of rid's rows, flushing first when
// rows of rid are queued, since they must be deleted too.
func (t *indexTx) queueDelete(rid int64) error {
	if _, ok := t.queuedRIDs[rid]; ok {
		if err := t.flush(); err != nil {
			return err
		}
	}
	t.deletes = append(t.deletes, rid)
	return nil
}

// flushError is a failure of a statement writing rows of several writes
// (flush, createAll): no single write is to blame.
type flushError struct{ err error }

func (e *flushError) Error() string { return "writing the rows of several writes: " + e.err.Error() }
func (e *flushError) Unwrap() error { return e.err }

// flush does the queued deletions, then the queued inserts, and empties
// the queues. It returns a *flushError.
func (t *indexTx) flush() error {
	if err := t.execRows(t.ix.history[:], t.history, len(historyColumns)); err != nil {
		return &flushError{fmt.Errorf("insert into history: %w", err)}
	}
	if len(t.deletes) > 0 {
		for table := range numIndexTables {
			if err := t.execRows(t.ix.delete[table][:], t.deletes, 1); err != nil {
				return &flushError{fmt.Errorf("delete from %s: %w", indexTables[table], err)}
			}
		}
	}
	for table := range numIndexTables {
		if err := t.execRows(t.ix.insert[table][:], t.rows[table], len(indexColumns[table])); err != nil {
			return &flushError{fmt.Errorf("insert into %s: %w", indexTables[table], err)}
		}
	}
	t.discard()
	return nil
}

// discard empties the queues, as after a rollback.
func (t *indexTx) discard() {
	for table := range t.rows {
		clear(t.rows[table]) // let the values go
		t.rows[table] = t.rows[table][:0]
	}
	clear(t.deletes)
	t.deletes = t.deletes[:0]
	clear(t.queuedRIDs)
	clear(t.history)
	t.history = t.history[:0]
	clear(t.historyAt)
}

// execRows runs stmts (stmts[k] taking 1<<k rows of width values) on
// values: as many full statements as fit, then one per bit of the rest.
func (t *indexTx) execRows(stmts []*sql.Stmt, values []any, width int) error {
	rows := len(values) / width
	for rows > 0 {
		k := rowStatementSizes - 1
		for 1<<k > rows {
			k--
		}
		n := (1 << k) * width
		if err := t.exec(stmts[k], values[:n]...); err != nil {
			return err
		}
		values, rows = values[n:], rows-1<<k
	}
	return nil
}

// bind returns stmt bound to t's transaction.
func (t *indexTx) bind(stmt *sql.Stmt) *sql.Stmt {
	b, ok := t.bound[stmt]
	if !ok {
		b = t.tx.StmtContext(context.Background(), stmt)
		t.bound[stmt] = b
	}
	return b
}

func (t *indexTx) exec(stmt *sql.Stmt, args ...any) error {
	_, err := t.bind(stmt).ExecContext(context.Background(), args...)
	return err
}

// query runs stmt and calls row for each row it returns.
func (t *indexTx) query(stmt *sql.Stmt, args []any, row func(*sql.Rows) error) error {
	rows, err := t.bind(stmt).QueryContext(context.Background(), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
