package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// History returns one page of the versions q selects, in the order
// storage.HistoryQuery describes. The page is one SELECT, so it is a
// consistent snapshot; a cursor resumes strictly after its position, so
// versions written between pages (which are newer) never show up on later
// pages. A zero AtStart or AtEnd leaves that side of the _at interval open.
func (s *Store) History(ctx context.Context, q storage.HistoryQuery) (storage.HistoryPage, error) {
	if q.Count <= 0 {
		return storage.HistoryPage{}, fmt.Errorf("sqlite: history: count %d, want > 0", q.Count)
	}
	if q.ID != "" && q.Type == "" {
		return storage.HistoryPage{}, errors.New("sqlite: history: an id needs a type")
	}
	query, args := historySQL(q)
	stmt, err := s.prepared(ctx, query)
	if err != nil {
		return storage.HistoryPage{}, fmt.Errorf("sqlite: history: %w", err)
	}
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return storage.HistoryPage{}, fmt.Errorf("sqlite: history: %w", err)
	}
	defer rows.Close()

	// historySQL asks for one row more than a page to learn whether
	// another page follows.
	var page storage.HistoryPage
	for rows.Next() {
		if len(page.Versions) == q.Count {
			last := page.Versions[len(page.Versions)-1]
			page.Next = &storage.HistoryCursor{
				LastUpdated: last.LastUpdated, Type: last.Type, ID: last.ID, Version: last.Version,
			}
			break
		}
		var r fhir.Resource
		var lastUpdated int64
		if err := rows.Scan(&r.Type, &r.ID, &r.Version, &lastUpdated, &r.Deleted, &r.Method, &r.JSON); err != nil {
			return storage.HistoryPage{}, fmt.Errorf("sqlite: history: %w", err)
		}
		r.LastUpdated = fromMicros(lastUpdated)
		page.Versions = append(page.Versions, r)
	}
	if err := rows.Err(); err != nil {
		return storage.HistoryPage{}, fmt.Errorf("sqlite: history: %w", err)
	}
	return page, nil
}

// historySQL is the SELECT for q and its arguments. The statement text
// depends only on which fields of q are set, so the prepared statements stay
// few. Each shape names the index that serves it (see schema.go): the
// planner has no statistics to choose by, and INDEXED BY fails loudly rather
// than scanning if a later schema change makes the index unusable.
func historySQL(q storage.HistoryQuery) (string, []any) {
	var where []string
	var args []any
	cond := func(sql string, a ...any) {
		where = append(where, sql)
		args = append(args, a...)
	}

	index := "INDEXED BY history_system"
	if q.Type != "" {
		index = "INDEXED BY history_type"
		cond("type = ?", q.Type)
	}
	if q.ID != "" {
		index = "INDEXED BY history_instance"
		cond("id = ?", q.ID)
	}
	if !q.Since.IsZero() {
		cond("last_updated >= ?", ceilMicros(q.Since))
	}
	// _at: written before AtEnd and not superseded at or before AtStart.
	if !q.AtEnd.IsZero() {
		cond("last_updated < ?", ceilMicros(q.AtEnd))
	}
	if !q.AtStart.IsZero() {
		cond("(superseded_at IS NULL OR superseded_at > ?)", q.AtStart.UnixMicro())
	}
	if c := q.After; c != nil {
		// Strictly after c in the history order. The first term bounds
		// the index range; the second breaks ties within one instant.
		lu := c.LastUpdated.UnixMicro()
		cond("last_updated <= ?", lu)
		cond(`(last_updated < ? OR type > ? OR (type = ? AND (id > ? OR (id = ? AND version < ?))))`,
			lu, c.Type, c.Type, c.ID, c.ID, c.Version)
	}

	var b strings.Builder
	b.WriteString("SELECT type, id, version, last_updated, deleted, method, json FROM history ")
	b.WriteString(index)
	if len(where) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString(strings.Join(where, " AND "))
	}
	b.WriteString(" ORDER BY last_updated DESC, type, id, version DESC LIMIT ?")
	args = append(args, q.Count+1)
	return b.String(), args
}

// ceilMicros is t in microseconds, rounded up, so that comparisons with the
// stored microseconds agree with comparisons with t itself.
func ceilMicros(t time.Time) int64 {
	us := t.UnixMicro()
	if t.Nanosecond()%1000 != 0 {
		us++
	}
	return us
}

// prepared returns the reader's prepared statement for query, preparing it
// on first use.
func (s *Store) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if stmt, ok := s.queries.Load(query); ok {
		return stmt.(*sql.Stmt), nil
	}
	stmt, err := s.reader.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.queries.LoadOrStore(query, stmt); loaded {
		stmt.Close()
		return prev.(*sql.Stmt), nil
	}
	return stmt, nil
}
