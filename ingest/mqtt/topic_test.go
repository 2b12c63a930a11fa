package mqtt

import (
	"strings"
	"testing"
)

func TestFilterMapping(t *testing.T) {
	tests := []struct {
		filter, topic string
		want          string
		wantOK        bool
	}{
		{"medbridge/ingest/+", "medbridge/ingest/bedside", "bedside", true},
		{"medbridge/ingest/+", "medbridge/ingest/bedside/extra", "", false},
		{"medbridge/ingest/+", "medbridge/ingest", "", false},
		{"medbridge/ingest/+", "other/ingest/bedside", "", false},
		{"medbridge/ingest/+", "medbridge/ingest/", "", true},
		{"+/vitals", "ward-3/vitals", "ward-3", true},
		{"site/+/vitals", "site/icu/vitals", "icu", true},
		{"site/+/vitals", "site/icu/labs", "", false},
		{"/+", "/openmhealth", "openmhealth", true},
	}
	for _, tt := range tests {
		f, err := parseFilter(tt.filter)
		if err != nil {
			t.Fatalf("parseFilter(%q): %v", tt.filter, err)
		}
		got, ok := f.mapping(tt.topic)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("filter %q, topic %q: mapping = %q, %v; want %q, %v", tt.filter, tt.topic, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestParseFilterRefuses(t *testing.T) {
	tests := []struct {
		filter  string
		wantErr string
	}{
		{"", "empty topic filter"},
		{"medbridge/ingest", "no + level"},
		{"medbridge/ingest/#", "# is not allowed"},
		{"medbridge/+/#", "# is not allowed"},
		{"#", "# is not allowed"},
		{"medbridge/+/+", "more than one +"},
		{"medbridge/ingest+", "whole level"},
		{"medbridge/in#gest/+", "whole level"},
		{"$share/medbridge/ingest/+", "starting with $"},
		{"$SYS/+", "starting with $"},
		{"medbridge/\x00/+", "NUL"},
	}
	for _, tt := range tests {
		_, err := parseFilter(tt.filter)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("parseFilter(%q) = %v; want an error containing %q", tt.filter, err, tt.wantErr)
		}
	}
}
