package server

import (
	"bytes"
	"testing"
)

// rewriteStrings replaces member values only, with their member's name,
// leaving keys, array elements and malformed JSON alone.
func TestRewriteStrings(t *testing.T) {
	upper := func(key, raw []byte) ([]byte, error) {
		if string(key) != "reference" {
			return nil, nil
		}
		return bytes.ToUpper(raw), nil
	}
	cases := []struct{ in, want string }{
		{`{"subject":{"reference":"urn:a"}}`, `{"subject":{"reference":"URN:A"}}`},
		{`{ "reference" : "x\"y" , "other":"z"}`, `{ "reference" : "X\"Y" , "other":"z"}`},
		{`{"reference":["x"],"a":{"reference":1},"b":"reference"}`, `{"reference":["x"],"a":{"reference":1},"b":"reference"}`},
		{`{"reference":{"reference":"k"}}`, `{"reference":{"reference":"K"}}`},
		{`{"reference":"unterminated`, `{"reference":"unterminated`},
	}
	for _, tc := range cases {
		got, err := rewriteStrings([]byte(tc.in), upper)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: got %s (%v), want %s", tc.in, got, err, tc.want)
		}
	}
}

// A div's href and src attributes naming a fullUrl are rewritten.
func TestNarrativeLinks(t *testing.T) {
	tx := &txn{ids: map[string]string{"urn:uuid:1": "Patient/p"}}
	in := `<div><a href=\"urn:uuid:1\">p</a><img src=\"urn:uuid:2\"/></div>`
	want := `<div><a href=\"Patient/p\">p</a><img src=\"urn:uuid:2\"/></div>`
	if got := tx.narrative([]byte(in)); string(got) != want {
		t.Errorf("got %s", got)
	}
	if got := tx.narrative([]byte(`<div>none</div>`)); got != nil {
		t.Errorf("unchanged narrative returned %s", got)
	}
}
