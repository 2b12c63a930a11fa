package search

import (
	"testing"
	"time"
)

func TestDateParameter(t *testing.T) {
	rng := func(start, end string) DateRange {
		s, err1 := time.Parse(time.RFC3339Nano, start)
		e, err2 := time.Parse(time.RFC3339Nano, end)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		return DateRange{Start: s.UTC(), End: e.UTC()}
	}
	day := rng("2026-03-04T00:00:00Z", "2026-03-05T00:00:00Z")
	dump := "date@Observation"
	runValueCases(t, []valueCase{
		{observation, "date=2026", dump, []Value{{Prefix: Eq, Date: rng("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z")}}},
		{observation, "date=2026-02", dump, []Value{{Prefix: Eq, Date: rng("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z")}}},
		{observation, "date=2026-03-04", dump, []Value{{Prefix: Eq, Date: day}}},
		{observation, "date=eq2026-03-04", dump, []Value{{Prefix: Eq, Date: day}}},
		{observation, "date=ne2026-03-04", dump, []Value{{Prefix: Ne, Date: day}}},
		{observation, "date=gt2026-03-04", dump, []Value{{Prefix: Gt, Date: day}}},
		{observation, "date=lt2026-03-04", dump, []Value{{Prefix: Lt, Date: day}}},
		{observation, "date=ge2026-03-04", dump, []Value{{Prefix: Ge, Date: day}}},
		{observation, "date=le2026-03-04", dump, []Value{{Prefix: Le, Date: day}}},
		{observation, "date=sa2026-03-04", dump, []Value{{Prefix: Sa, Date: day}}},
		{observation, "date=eb2026-03-04", dump, []Value{{Prefix: Eb, Date: day}}},
		{observation, "date=ap2026-03-04", dump, []Value{{Prefix: Ap, Date: day}}},
		{observation, "date=ge2026-03-04T10:00:00%2B01:00", dump, []Value{{Prefix: Ge, Date: rng("2026-03-04T09:00:00Z", "2026-03-04T09:00:01Z")}}},
		{observation, "date=2026-03-04T10:00Z", dump, []Value{{Prefix: Eq, Date: rng("2026-03-04T10:00:00Z", "2026-03-04T10:01:00Z")}}},
		{observation, "date=2026-03-04T10:00:00.25Z", dump, []Value{{Prefix: Eq, Date: rng("2026-03-04T10:00:00.25Z", "2026-03-04T10:00:00.26Z")}}},
		{observation, "date=2025,2026-03-04", dump, []Value{
			{Prefix: Eq, Date: rng("2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z")},
			{Prefix: Eq, Date: day},
		}},
		{observation, "_lastUpdated=gt2026-03-04", "_lastUpdated@Resource", []Value{{Prefix: Gt, Date: day}}},
		{patient, "birthdate=le2026-03-04", "birthdate@Patient", []Value{{Prefix: Le, Date: day}}},
		{observation, "date:missing=false", "date@Observation:missing=false", nil},
	})
	runErrorCases(t, []errorCase{
		{observation, "date=2026-13", "date"},
		{observation, "date=2026-02-30", "date"},
		{observation, "date=xx2026", "date"},
		{observation, "date=gte2026", "date"},
		{observation, "date=ge", "date"},
		{observation, "date=yesterday", "date"},
		{observation, "date=2026-03-04T10", "date"},
		{observation, "date=2026,soon", "date"},
		{observation, "_lastUpdated=2026-1-1", "_lastUpdated"},
		{observation, "date=ge2026&date=le20", "date"},
	})
}

// formatDate renders every range ParseDateRange returns as a value that
// parses back to it.
func TestFormatDate(t *testing.T) {
	tests := []struct{ in, want string }{
		{"2026", "2026"},
		{"2026-02", "2026-02"},
		{"2024-02-29", "2024-02-29"},
		{"2026-03-04T10:00", "2026-03-04T10:00Z"},
		{"2026-03-04T10:00+01:00", "2026-03-04T09:00Z"},
		{"2026-03-04T00:00:00Z", "2026-03-04T00:00:00Z"},
		{"2026-03-04T10:00:00-05:00", "2026-03-04T15:00:00Z"},
		{"2026-01-01T00:00", "2026-01-01T00:00Z"},
		{"2026-03-04T10:00:00.5Z", "2026-03-04T10:00:00.5Z"},
		{"2026-03-04T10:00:00.50Z", "2026-03-04T10:00:00.50Z"},
		{"2026-03-04T10:00:00.000Z", "2026-03-04T10:00:00.000Z"},
		{"2026-03-04T10:00:00.123456Z", "2026-03-04T10:00:00.123456Z"},
		{"2026-03-04T10:00:00.1234567Z", "2026-03-04T10:00:00.1234567Z"},
		{"2026-03-04T10:00:00.000000001Z", "2026-03-04T10:00:00.000000001Z"},
	}
	for _, tt := range tests {
		r, err := ParseDateRange(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		got := formatDate(r)
		if got != tt.want {
			t.Errorf("formatDate(%s) = %s, want %s", tt.in, got, tt.want)
		}
		back, err := ParseDateRange(got)
		if err != nil || !back.Start.Equal(r.Start) || !back.End.Equal(r.End) {
			t.Errorf("ParseDateRange(%s) = %v, %v; want %v", got, back, err, r)
		}
	}
}
