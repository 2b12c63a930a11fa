package medtech

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestJSONPathGolden evaluates every path of jsonpath.input.json against
// its document; the golden, jsonpath.golden.json, holds per path the
// selected values or the compile error.
func TestJSONPathGolden(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testdata, "jsonpath.input.json"))
	if err != nil {
		t.Fatal(err)
	}
	var input struct {
		Document any      `json:"document"`
		Paths    []string `json:"paths"`
	}
	if err := json.Unmarshal(data, &input); err != nil {
		t.Fatal(err)
	}
	type result struct {
		Path   string `json:"path"`
		Values []any  `json:"values,omitempty"`
		Error  string `json:"error,omitempty"`
	}
	var results []result
	for _, p := range input.Paths {
		r := result{Path: p}
		jp, err := compileJSONPath(p)
		if err != nil {
			r.Error = err.Error()
		} else {
			r.Values = jp.selectAll(input.Document)
			if r.Values == nil {
				r.Values = []any{}
			}
		}
		results = append(results, r)
	}
	checkGolden(t, filepath.Join(testdata, "jsonpath.golden.json"), marshalGolden(t, results))
}

func TestParseTimestamp(t *testing.T) {
	for in, want := range map[string]string{
		"2026-11-20T09:15:00Z":          "2026-11-20T09:15:00Z",
		"2026-11-20T09:17:30+01:00":     "2026-11-20T09:17:30+01:00",
		"2019-02-01T22:46:01.8750000Z":  "2019-02-01T22:46:01.875Z",
		"2019-02-01T22:46:01.875":       "2019-02-01T22:46:01.875Z",
		"2021-07-07T17:00:00+0":         "2021-07-07T17:00:00Z",
		"2021-07-07T17:00:00-5":         "2021-07-07T17:00:00-05:00",
		"2026-11-20 09:15:00":           "2026-11-20T09:15:00Z",
		"2026-11-20T09:15:00+0100":      "2026-11-20T09:15:00+01:00",
		"2026-11-20":                    "2026-11-20T00:00:00Z",
		"  2026-11-20T09:15:00.5-03:30": "2026-11-20T09:15:00.5-03:30",
	} {
		got, err := parseTimestamp(in)
		if err != nil || got.Format("2006-01-02T15:04:05.999999999Z07:00") != want {
			t.Errorf("parseTimestamp(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []any{"yesterday", "2026-13-01T00:00:00Z", 1700000000.0, nil, "2026-11-20T25:00:00Z"} {
		if got, err := parseTimestamp(in); err == nil {
			t.Errorf("parseTimestamp(%v) = %v, want an error", in, got)
		}
	}
}

func TestJMESPathFunctions(t *testing.T) {
	doc := map[string]any{"tempF": 99.5, "unix": 1625677200.0, "ms": 1626799080000.0, "id": "123", "zero": 0.0}
	for src, want := range map[string]any{
		"add(`10`, `10`)":       20.0,
		"subtract(tempF, `32`)": 67.5,
		"divide(multiply(subtract(tempF, `32`), `5`), `9`)": 37.5,
		"pow(`100`, `0.5`)":                   10.0,
		"insertString(id, 'patient', `0`)":    "patient123",
		"insertString('myString', '!!', `8`)": "myString!!",
		"fromUnixTimestamp(unix)":             "2021-07-07T17:00:00Z",
		"fromUnixTimestampMs(ms)":             "2021-07-20T16:38:00Z",
	} {
		e, err := compileExpression(src, langJMESPath)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		got, err := e.one(doc)
		if err != nil || got != want {
			t.Errorf("%s = %v, %v; want %v", src, got, err, want)
		}
	}
	for _, src := range []string{"divide(`1`, zero)", "insertString(id, 'x', `4`)", "add(id, `1`)"} {
		e, err := compileExpression(src, langJMESPath)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if got, err := e.one(doc); err == nil {
			t.Errorf("%s = %v, want an error", src, got)
		}
	}
	if _, err := compileExpression("celsius(tempF)", langJMESPath); err == nil {
		t.Error("an unknown function compiled")
	}
}
