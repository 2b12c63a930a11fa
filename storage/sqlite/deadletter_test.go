package sqlite

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/medbridge/medbridge/storage"
)

// TestDeadLetterPlans checks that every listing shape reads its index in
// the listing order, rather than sorting the letters.
func TestDeadLetterPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	after := storage.EncodeDeadLetterCursor(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), "x")
	tests := []struct {
		q     storage.DeadLetterQuery
		index string
	}{
		{storage.DeadLetterQuery{Count: 50}, "dead_letters_received"},
		{storage.DeadLetterQuery{Count: 50, After: after}, "dead_letters_received"},
		{storage.DeadLetterQuery{Count: 50, Mapping: "omh"}, "dead_letters_mapping"},
		{storage.DeadLetterQuery{Count: 50, Mapping: "omh", After: after}, "dead_letters_mapping"},
	}
	for _, tt := range tests {
		query, args, err := deadLetterQuery(tt.q)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := s.reader.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		got := strings.Join(plan, "; ")
		if !strings.Contains(got, "INDEX "+tt.index) || strings.Contains(got, "TEMP B-TREE") {
			t.Errorf("%+v: plan %q, want a scan of %s without sorting", tt.q, got, tt.index)
		}
	}
}
