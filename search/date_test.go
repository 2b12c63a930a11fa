package search

import (
	"testing"
	"time"
)

func TestParseDateRange(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	tests := []struct {
		in         string
		start, end string
	}{
		{"2026", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{"2026-02", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"},
		{"2024-02-29", "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z"},
		{"2026-03-04T10:00", "2026-03-04T10:00:00Z", "2026-03-04T10:01:00Z"},
		{"2026-03-04T10:00:00+01:00", "2026-03-04T09:00:00Z", "2026-03-04T09:00:01Z"},
		{"2026-03-04T10:00:00.5Z", "2026-03-04T10:00:00.5Z", "2026-03-04T10:00:00.6Z"},
		{"2026-03-04T10:00:00.123456-05:00", "2026-03-04T15:00:00.123456Z", "2026-03-04T15:00:00.123457Z"},
		{"2026-12-31T23:59:59Z", "2026-12-31T23:59:59Z", "2027-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		got, err := ParseDateRange(tt.in)
		if err != nil {
			t.Errorf("ParseDateRange(%q): %v", tt.in, err)
			continue
		}
		if !got.Start.Equal(utc(tt.start)) || !got.End.Equal(utc(tt.end)) {
			t.Errorf("ParseDateRange(%q) = [%s, %s), want [%s, %s)", tt.in, got.Start, got.End, tt.start, tt.end)
		}
	}
	for _, bad := range []string{"", "26", "2026-13", "2026-02-30", "2026-01-01T25:00", "2026-01-01T10", "yesterday", "2026-01-01T10:00:00+1"} {
		if _, err := ParseDateRange(bad); err == nil {
			t.Errorf("ParseDateRange(%q) succeeded, want an error", bad)
		}
	}
}
