package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medbridge/medbridge/storage"
)

// TestPurgeExpiredRecords checks that PutRecord purges expired rows, at
// most purgeBatch at a time, the longest expired first, and leaves the
// unexpired ones.
func TestPurgeExpiredRecords(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	const expired = purgeBatch + purgeBatch/2
	for i := range expired {
		if _, err := s.writer.ExecContext(ctx, "INSERT INTO records (kind, id, data, expires, version) VALUES (?, ?, x'', ?, 1)",
			fmt.Sprintf("kind%d", i%3), fmt.Sprint(i), now.Add(-time.Duration(expired-i)*time.Second).UnixMicro()); err != nil {
			t.Fatal(err)
		}
	}
	live := []storage.Record{
		{Kind: "kind0", ID: "forever", Data: []byte("a")},
		{Kind: "kind1", ID: "tomorrow", Data: []byte("b"), Expires: now.Add(24 * time.Hour)},
	}
	// The first PutRecord purges the longest expired, ids 0 to
	// purgeBatch-1; the second the rest.
	wantLeft := []int{expired - purgeBatch, 0}
	for i, r := range live {
		if err := s.PutRecord(ctx, r, 0); err != nil {
			t.Fatalf("PutRecord %s/%s: %v", r.Kind, r.ID, err)
		}
		var left int
		var oldest sql.NullInt64
		if err := s.reader.QueryRowContext(ctx, `
			SELECT count(*), min(CAST(id AS INTEGER)) FROM records WHERE expires <= ?`,
			now.UnixMicro()).Scan(&left, &oldest); err != nil {
			t.Fatal(err)
		}
		if left != wantLeft[i] || (left > 0 && oldest.Int64 != purgeBatch) {
			t.Errorf("after PutRecord %d: %d expired rows from id %d, want %d from id %d",
				i+1, left, oldest.Int64, wantLeft[i], purgeBatch)
		}
	}
	for _, r := range live {
		if _, err := s.GetRecord(ctx, r.Kind, r.ID); err != nil {
			t.Errorf("GetRecord %s/%s after purging: %v", r.Kind, r.ID, err)
		}
	}
}

// TestPurgeExpiredRecordsPlan checks that the purge reads only the index of
// expiring rows, not the whole table.
func TestPurgeExpiredRecordsPlan(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.reader.QueryContext(ctx, "EXPLAIN QUERY PLAN "+purgeExpired, 0, purgeBatch)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(plan, "; ")
	if !strings.Contains(joined, "INDEX records_expires (expires<?)") || strings.Contains(joined, "SCAN records") {
		t.Errorf("purge plan %q does not range-scan records_expires", joined)
	}
}
