package sqlite

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/medbridge/medbridge/storage"
)

// TestHistoryPlans checks that every shape of history query is an index
// range scan in history order: no full scan, no sort of the matching rows.
func TestHistoryPlans(t *testing.T) {
	s, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	now := time.Now()
	after := &storage.HistoryCursor{LastUpdated: now, Type: "Patient", ID: "a", Version: 2}
	levels := []struct{ name, typ, id, index string }{
		{"system", "", "", "history_system"},
		{"type", "Patient", "", "history_type"},
		{"instance", "Patient", "a", "history_instance"},
	}
	filters := []struct {
		name string
		q    storage.HistoryQuery
	}{
		{"all", storage.HistoryQuery{}},
		{"since", storage.HistoryQuery{Since: now}},
		{"at", storage.HistoryQuery{AtStart: now, AtEnd: now}},
		{"since and at", storage.HistoryQuery{Since: now, AtStart: now, AtEnd: now}},
	}
	for _, level := range levels {
		for _, filter := range filters {
			for _, cursor := range []*storage.HistoryCursor{nil, after} {
				q := filter.q
				q.Type, q.ID, q.Count, q.After = level.typ, level.id, 10, cursor
				name := level.name + "/" + filter.name
				if cursor != nil {
					name += "/after"
				}
				t.Run(name, func(t *testing.T) {
					plan := explain(t, s, q)
					if !strings.Contains(plan, "SEARCH history USING INDEX "+level.index) &&
						!strings.Contains(plan, "SCAN history USING INDEX "+level.index) {
						t.Errorf("plan does not use %s:\n%s", level.index, plan)
					}
					if strings.Contains(plan, "TEMP B-TREE") {
						t.Errorf("plan sorts:\n%s", plan)
					}
				})
			}
		}
	}
}

// explain is SQLite's query plan for q, one step a line.
func explain(t *testing.T, s *Store, q storage.HistoryQuery) string {
	t.Helper()
	query, args := historySQL(q)
	rows, err := s.reader.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", query, err)
	}
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(detail + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan.String()
}
