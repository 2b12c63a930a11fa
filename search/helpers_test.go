package search

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
)

func loadSpec(t testing.TB) *conformance.Spec {
	t.Helper()
	spec, err := conformance.Load()
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// parse parses a raw query string (as after "?") for types, leniently
// unless opts say otherwise.
func parse(t testing.TB, types []string, query string, opts ...Options) (*Query, error) {
	t.Helper()
	params, err := url.ParseQuery(query)
	if err != nil {
		t.Fatalf("url.ParseQuery(%q): %v", query, err)
	}
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	return ParseQuery(loadSpec(t), types, params, o)
}

func mustParse(t testing.TB, types []string, query string, opts ...Options) *Query {
	t.Helper()
	q, err := parse(t, types, query, opts...)
	if err != nil {
		t.Fatalf("ParseQuery(%v, %q): %v", types, query, err)
	}
	return q
}

// wantError checks that err is a 400 *fhir.Error whose expression is
// exactly expression.
func wantError(t testing.TB, what string, err error, expression string) {
	t.Helper()
	var ferr *fhir.Error
	if !errors.As(err, &ferr) {
		t.Errorf("%s: error %v, want a *fhir.Error", what, err)
		return
	}
	if ferr.Status != http.StatusBadRequest {
		t.Errorf("%s: status %d, want 400 (%v)", what, ferr.Status, err)
	}
	if len(ferr.Issues) != 1 || !slices.Equal(ferr.Issues[0].Expression, []string{expression}) {
		t.Errorf("%s: %v, want one issue at %q", what, err, expression)
	}
	if len(ferr.Issues) > 0 && ferr.Issues[0].Diagnostics == "" {
		t.Errorf("%s: no diagnostics", what)
	}
}

func param(t testing.TB, typ, code string) *conformance.SearchParam {
	t.Helper()
	ps, err := loadSpec(t).SearchParams(typ)
	if err != nil || ps[code] == nil {
		t.Fatalf("no search parameter %s of %s (%v)", code, typ, err)
	}
	return ps[code]
}

func strp(s string) *string { return &s }

// dump renders the structure of a filter, without its values:
// "code:mod", "subject:Patient->Patient.name", "_has(Observation.patient){code}",
// "or(...|...)", "x:missing=true".
func dump(f Filter) string {
	switch {
	case f.Has != nil:
		return fmt.Sprintf("_has(%s.%s){%s}", f.Has.Type, f.Has.Param.Code, dump(f.Has.Filter))
	case len(f.Or) > 0:
		alts := make([]string, len(f.Or))
		for i, a := range f.Or {
			if a.Param != f.Param {
				alts[i] = "PARAM MISMATCH "
			}
			alts[i] += dump(a)
		}
		return "or(" + strings.Join(alts, " | ") + ")"
	}
	s := f.Param.Code + "@" + f.Param.Base
	if f.Modifier != "" {
		s += ":" + f.Modifier
	}
	if f.Chain != nil {
		return s + "->" + f.ChainType + "." + dump(*f.Chain)
	}
	if f.Missing != nil {
		return fmt.Sprintf("%s=%v", s, *f.Missing)
	}
	return s
}

// innermost returns the filter holding the values of f (first
// alternative of an Or).
func innermost(f Filter) Filter {
	switch {
	case f.Has != nil:
		return innermost(f.Has.Filter)
	case len(f.Or) > 0:
		return innermost(f.Or[0])
	case f.Chain != nil:
		return innermost(*f.Chain)
	}
	return f
}

func assertValues(t testing.TB, what string, got, want []Value) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: values\n got %s\nwant %s", what, fmtValues(got), fmtValues(want))
	}
}

func fmtValues(vs []Value) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmtValue(v)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// fmtValue prints the fields of v that are set.
func fmtValue(v Value) string {
	var parts []string
	add := func(name string, val any, set bool) {
		if set {
			parts = append(parts, fmt.Sprintf("%s:%v", name, val))
		}
	}
	add("Prefix", v.Prefix, v.Prefix != "")
	add("String", strconv.Quote(v.String), v.String != "")
	if v.System != nil {
		add("System", strconv.Quote(*v.System), true)
	}
	add("Code", strconv.Quote(v.Code), v.Code != "")
	add("Value", strconv.Quote(v.Value), v.Value != "")
	add("RefType", v.RefType, v.RefType != "")
	add("RefID", v.RefID, v.RefID != "")
	add("URL", v.URL, v.URL != "")
	add("Version", v.Version, v.Version != "")
	add("Number", v.Number, v.Number != 0)
	add("Low", v.Low, v.Low != 0)
	add("High", v.High, v.High != 0)
	add("Date", fmt.Sprintf("[%s, %s)", v.Date.Start.Format(time.RFC3339Nano), v.Date.End.Format(time.RFC3339Nano)), !v.Date.Start.IsZero())
	if len(v.Components) > 0 {
		add("Components", fmtValues(v.Components), true)
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// valueCase is one query with a single filter: its structure (dump) and
// the values of its innermost filter.
type valueCase struct {
	types []string
	query string
	dump  string
	want  []Value
}

func runValueCases(t *testing.T, cases []valueCase, opts ...Options) {
	t.Helper()
	for _, tt := range cases {
		q, err := parse(t, tt.types, tt.query, opts...)
		if err != nil {
			t.Errorf("%s: %v", tt.query, err)
			continue
		}
		if len(q.Filters) != 1 || len(q.Unknown) != 0 {
			t.Errorf("%s: filters %d, unknown %v; want one filter", tt.query, len(q.Filters), q.Unknown)
			continue
		}
		if got := dump(q.Filters[0]); got != tt.dump {
			t.Errorf("%s: filter %s, want %s", tt.query, got, tt.dump)
		}
		assertValues(t, tt.query, innermost(q.Filters[0]).Values, tt.want)
	}
}

// errorCase is a query that ParseQuery must reject with a 400 at expr, in
// lenient handling too.
type errorCase struct {
	types []string
	query string
	expr  string
}

func runErrorCases(t *testing.T, cases []errorCase) {
	t.Helper()
	for _, tt := range cases {
		for _, strict := range []bool{false, true} {
			q, err := parse(t, tt.types, tt.query, Options{Strict: strict})
			if err == nil {
				t.Errorf("%s (strict %v): no error, got %+v", tt.query, strict, q)
				continue
			}
			wantError(t, fmt.Sprintf("%s (strict %v)", tt.query, strict), err, tt.expr)
		}
	}
}

var (
	observation = []string{"Observation"}
	patient     = []string{"Patient"}
)

// unknownCase is a query with one parameter that ParseQuery does not
// support: lenient handling lists it in Unknown, strict handling rejects
// it with a 400 not-supported at its name.
type unknownCase struct {
	types []string
	query string
}

func runUnknownCases(t *testing.T, cases []unknownCase) {
	t.Helper()
	for _, tt := range cases {
		key, _, _ := strings.Cut(tt.query, "=")
		key, _ = url.QueryUnescape(key)
		q, err := parse(t, tt.types, tt.query)
		if err != nil {
			t.Errorf("%s (lenient): %v", tt.query, err)
		} else if len(q.Filters) != 0 || !slices.Equal(q.Unknown, []string{key}) {
			t.Errorf("%s (lenient): filters %d, unknown %q; want unknown [%s]", tt.query, len(q.Filters), q.Unknown, key)
		}
		_, err = parse(t, tt.types, tt.query, Options{Strict: true})
		wantError(t, tt.query+" (strict)", err, key)
		var ferr *fhir.Error
		if errors.As(err, &ferr) && ferr.Issues[0].Code != fhir.CodeNotSupported {
			t.Errorf("%s (strict): code %s, want not-supported", tt.query, ferr.Issues[0].Code)
		}
	}
}
