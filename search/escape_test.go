package search

import (
	"slices"
	"testing"
)

func TestSplitEscaped(t *testing.T) {
	tests := []struct {
		in   string
		sep  byte
		want []string
	}{
		{"a,b,c", ',', []string{"a", "b", "c"}},
		{`a\,b,c`, ',', []string{`a\,b`, "c"}},
		{`a\\,b`, ',', []string{`a\\`, "b"}},
		{`a\\\,b`, ',', []string{`a\\\,b`}},
		{"a,", ',', []string{"a", ""}},
		{"", ',', []string{""}},
		{`sys\|x|code`, '|', []string{`sys\|x`, "code"}},
		{`a$b\$c$d`, '$', []string{"a", `b\$c`, "d"}},
		{`trailing\`, ',', []string{`trailing\`}},
		{`a\x,b`, ',', []string{`a\x`, "b"}},
	}
	for _, tt := range tests {
		if got := splitEscaped(tt.in, tt.sep); !slices.Equal(got, tt.want) {
			t.Errorf("splitEscaped(%q, %q) = %q, want %q", tt.in, tt.sep, got, tt.want)
		}
	}
}

func TestUnescape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{`a\,b`, "a,b"},
		{`a\|b`, "a|b"},
		{`a\$b`, "a$b"},
		{`a\\b`, `a\b`},
		{`a\xb`, `a\xb`},
		{`end\`, `end\`},
		{`\\\,`, `\,`},
	}
	for _, tt := range tests {
		if got := unescape(tt.in); got != tt.want {
			t.Errorf("unescape(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := unescape(Escape(tt.want)); got != tt.want {
			t.Errorf("unescape(Escape(%q)) = %q", tt.want, got)
		}
	}
}

// Escaped separators reach the values unescaped, on every type that
// splits.
func TestEscapingInValues(t *testing.T) {
	tests := []struct {
		types []string
		query string
		want  []Value
	}{
		{[]string{"Patient"}, `name=a\,b,c`, []Value{{String: "a,b"}, {String: "c"}}},
		{[]string{"Patient"}, `name=x\|y\$z\\`, []Value{{String: `x|y$z\`}}},
		{[]string{"Patient"}, `name=back\slash`, []Value{{String: `back\slash`}}},
		{[]string{"Observation"}, `code=http://x\|y|a\,b`, []Value{{System: strp("http://x|y"), Code: "a,b"}}},
		{[]string{"Observation"}, `code=a\|b`, []Value{{Code: "a|b"}}},
		{[]string{"Observation"}, `code:text=blood\, pressure|high`, []Value{{String: "blood, pressure|high"}}},
		{[]string{"Patient"}, `identifier:of-type=s\|1|c\,2|v\$3`, []Value{{System: strp("s|1"), Code: "c,2", Value: "v$3"}}},
	}
	for _, tt := range tests {
		q := mustParse(t, tt.types, tt.query)
		if len(q.Filters) != 1 {
			t.Errorf("%s: %d filters", tt.query, len(q.Filters))
			continue
		}
		assertValues(t, tt.query, q.Filters[0].Values, tt.want)
	}
}
