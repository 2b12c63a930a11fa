package storagetest

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// aggObs is an Observation of aggWorld, described so that the tests can
// compute LastN and Stats answers from it.
type aggObs struct {
	id, subject string   // subject "" for none
	codes       []string // "system|code" codings, in the order written
	date        string   // effectiveDateTime, "" for none
	category    string
	value       float64 // valueQuantity, when unit != ""
	system      string  // of the unit; "" for none
	unit        string
	components  []float64 // component valueQuantity in mm[Hg]
}

const loinc = "http://loinc.org|"

var (
	aggHR       = []string{loinc + "8867-4"}
	aggSpO2     = []string{loinc + "2708-6", loinc + "59408-5"}
	aggSpO2Rev  = []string{loinc + "59408-5", loinc + "2708-6"} // the same set
	aggSpO2One  = []string{loinc + "2708-6"}                    // another set
	aggGlucose  = []string{loinc + "2339-0"}
	aggWeight   = []string{loinc + "29463-7"}
	aggBPPanel  = []string{loinc + "85354-9"}
	ucum        = "http://unitsofmeasure.org"
	aggPatients = []string{"pat-a", "pat-b", "pat-c"}
)

// aggWorld are the Observations of the LastN and Stats tests: three
// patients (and one Observation without a subject), heart rates with one
// undated and three at the same instant, SpO2 with two codings in either
// order and with one, glucose in two UCUM units and one unit without a
// system, weights in kg and g, blood pressure panels with components.
var aggWorld = []aggObs{
	{id: "a-hr-1", subject: "pat-a", codes: aggHR, date: "2026-01-01T08:00:00Z", category: "vital-signs", value: 70, system: ucum, unit: "/min"},
	{id: "a-hr-2", subject: "pat-a", codes: aggHR, date: "2026-01-02T08:00:00Z", category: "vital-signs", value: 72, system: ucum, unit: "/min"},
	{id: "a-hr-4", subject: "pat-a", codes: aggHR, date: "2026-01-04T08:00:00Z", category: "vital-signs", value: 71, system: ucum, unit: "/min"},
	{id: "a-hr-3", subject: "pat-a", codes: aggHR, date: "2026-01-03T08:00:00Z", category: "vital-signs", value: 75, system: ucum, unit: "/min"},
	{id: "a-hr-0", subject: "pat-a", codes: aggHR, category: "vital-signs", value: 99, system: ucum, unit: "/min"},
	{id: "a-spo2-1", subject: "pat-a", codes: aggSpO2, date: "2026-01-01T09:00:00Z", category: "vital-signs", value: 97, system: ucum, unit: "%"},
	{id: "a-spo2-2", subject: "pat-a", codes: aggSpO2Rev, date: "2026-01-02T09:00:00Z", category: "vital-signs", value: 95, system: ucum, unit: "%"},
	{id: "a-spo2-3", subject: "pat-a", codes: aggSpO2One, date: "2026-01-03T09:00:00Z", category: "vital-signs", value: 93, system: ucum, unit: "%"},
	{id: "a-glu-1", subject: "pat-a", codes: aggGlucose, date: "2026-01-01T07:00:00Z", category: "laboratory", value: 90, system: ucum, unit: "mg/dL"},
	{id: "a-glu-2", subject: "pat-a", codes: aggGlucose, date: "2026-01-05T07:00:00Z", category: "laboratory", value: 5.5, system: ucum, unit: "mmol/L"},
	{id: "a-glu-3", subject: "pat-a", codes: aggGlucose, date: "2026-01-06T07:00:00Z", category: "laboratory", value: 101, system: ucum, unit: "mg/dL"},
	{id: "b-hr-1", subject: "pat-b", codes: aggHR, date: "2026-01-02T10:00:00Z", category: "vital-signs", value: 80, system: ucum, unit: "/min"},
	// Three at the same instant, written out of id order.
	{id: "b-hr-3", subject: "pat-b", codes: aggHR, date: "2026-01-03T10:00:00Z", category: "vital-signs", value: 84, system: ucum, unit: "/min"},
	{id: "b-hr-2", subject: "pat-b", codes: aggHR, date: "2026-01-03T10:00:00Z", category: "vital-signs", value: 82, system: ucum, unit: "/min"},
	{id: "b-hr-0", subject: "pat-b", codes: aggHR, date: "2026-01-03T10:00:00Z", category: "vital-signs", value: 81.5, system: ucum, unit: "/min"},
	{id: "b-spo2-1", subject: "pat-b", codes: aggSpO2, date: "2026-01-02T11:00:00Z", category: "vital-signs", value: 98, system: ucum, unit: "%"},
	{id: "b-wt-1", subject: "pat-b", codes: aggWeight, date: "2026-01-01", category: "vital-signs", value: 70, system: ucum, unit: "kg"},
	{id: "b-wt-2", subject: "pat-b", codes: aggWeight, date: "2026-01-08", category: "vital-signs", value: 70500, system: ucum, unit: "g"},
	{id: "b-bp-1", subject: "pat-b", codes: aggBPPanel, date: "2026-01-02", category: "vital-signs", components: []float64{120, 80}},
	{id: "c-hr-1", subject: "pat-c", codes: aggHR, date: "2026-01-05T08:00:00+02:00", category: "vital-signs", value: 66, system: ucum, unit: "/min"},
	{id: "c-bp-1", subject: "pat-c", codes: aggBPPanel, date: "2026-01-06", category: "vital-signs", components: []float64{130, 85}},
	{id: "c-glu-1", subject: "pat-c", codes: aggGlucose, date: "2026-01-04", category: "laboratory", value: 110, system: ucum, unit: "mg/dL"},
	{id: "c-glu-2", subject: "pat-c", codes: aggGlucose, date: "2026-01-07T07:00:00Z", category: "laboratory", value: 5.9, unit: "mmol/L"},
	{id: "x-hr-1", codes: aggHR, date: "2026-01-01T12:00:00Z", category: "vital-signs", value: 60, system: ucum, unit: "/min"},
}

// aggChanges are written after aggWorld: versions that a later version
// supersedes (with another date, value or subject) and Observations that
// are deleted, none of which LastN or Stats may see.
var aggChanges = []struct {
	versions []aggObs // written in order
	deleted  bool     // then deleted
}{
	{versions: []aggObs{{id: "a-hr-9", subject: "pat-a", codes: aggHR, date: "2026-01-09T08:00:00Z", category: "vital-signs", value: 200, system: ucum, unit: "/min"}}, deleted: true},
	{versions: []aggObs{
		{id: "a-hr-6", subject: "pat-a", codes: aggHR, date: "2026-01-10T08:00:00Z", category: "vital-signs", value: 300, system: ucum, unit: "/min"},
		{id: "a-hr-6", subject: "pat-a", codes: aggHR, date: "2025-12-31T08:00:00Z", category: "vital-signs", value: 68, system: ucum, unit: "/min"},
	}},
	{versions: []aggObs{
		{id: "b-hr-8", subject: "pat-b", codes: aggHR, date: "2026-01-20T08:00:00Z", category: "vital-signs", value: 400, system: ucum, unit: "/min"},
		{id: "b-hr-8", subject: "pat-c", codes: aggHR, date: "2026-01-01T06:00:00Z", category: "vital-signs", value: 64, system: ucum, unit: "/min"},
	}},
	{versions: []aggObs{{id: "c-glu-9", subject: "pat-c", codes: aggGlucose, date: "2026-01-09", category: "laboratory", value: 500, system: ucum, unit: "mg/dL"}}, deleted: true},
}

// json renders o as an Observation.
func (o aggObs) json() string {
	r := map[string]any{"resourceType": "Observation", "id": o.id, "status": "final"}
	var codings []any
	for _, c := range o.codes {
		system, code, _ := strings.Cut(c, "|")
		codings = append(codings, map[string]any{"system": system, "code": code})
	}
	r["code"] = map[string]any{"coding": codings}
	r["category"] = []any{map[string]any{"coding": []any{map[string]any{
		"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": o.category}}}}
	if o.subject != "" {
		r["subject"] = map[string]any{"reference": "Patient/" + o.subject}
	}
	if o.date != "" {
		r["effectiveDateTime"] = o.date
	}
	if o.unit != "" {
		q := map[string]any{"value": o.value, "unit": o.unit}
		if o.system != "" {
			q["system"], q["code"] = o.system, o.unit
		}
		r["valueQuantity"] = q
	}
	for i, v := range o.components {
		code := []string{"8480-6", "8462-4"}[i]
		r["component"] = append(asSlice(r["component"]), map[string]any{
			"code":          map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": code}}},
			"valueQuantity": map[string]any{"value": v, "unit": "mmHg", "system": ucum, "code": "mm[Hg]"},
		})
	}
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // maps of strings and numbers
	}
	return string(b)
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// start is the instant o's date starts (its precision's range starts
// there), ok false without a date.
func (o aggObs) start() (time.Time, bool) {
	for _, layout := range []string{time.RFC3339, time.DateOnly} {
		if t, err := time.Parse(layout, o.date); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// groupKey is o's LastN group: subject and the set of codings.
func (o aggObs) groupKey() string {
	return o.subject + " " + strings.Join(slices.Sorted(slices.Values(o.codes)), ",")
}

// newer is LastN's order within a group: later date first, undated last,
// then by id.
func newer(a, b aggObs) int {
	ta, oka := a.start()
	tb, okb := b.start()
	switch {
	case oka && okb && !ta.Equal(tb):
		return tb.Compare(ta)
	case oka != okb:
		if oka {
			return -1
		}
		return 1
	}
	return cmp.Compare(a.id, b.id)
}

// loadAggWorld opens a fresh store holding the patients, aggWorld and
// aggChanges, and returns it with the current Observations.
func (s suite) loadAggWorld(t *testing.T) (*fixture, []aggObs) {
	t.Helper()
	f := s.fresh(t)
	for i, p := range aggPatients {
		f.save(t, fmt.Sprintf(`{"resourceType":"Patient","id":%q,"name":[{"family":"Family%d"}]}`, p, i))
	}
	current := slices.Clone(aggWorld)
	for _, o := range aggWorld {
		f.save(t, o.json())
	}
	for _, c := range aggChanges {
		for _, o := range c.versions {
			f.save(t, o.json())
		}
		if c.deleted {
			f.remove(t, "Observation", c.versions[0].id)
		} else {
			current = append(current, c.versions[len(c.versions)-1])
		}
	}
	return f, current
}

// day is the start of a date of aggWorld's dates, for the filters.
func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// aggFilter is a search of aggWorld and which Observations it matches.
type aggFilter struct {
	query string
	match func(o aggObs) bool
}

func all(aggObs) bool { return true }

func ofPatient(p string) func(aggObs) bool { return func(o aggObs) bool { return o.subject == p } }

func withCoding(c string) func(aggObs) bool {
	return func(o aggObs) bool {
		return slices.ContainsFunc(o.codes, func(x string) bool { return x == c || strings.HasSuffix(x, "|"+c) })
	}
}

func ofCategory(c string) func(aggObs) bool { return func(o aggObs) bool { return o.category == c } }

// dated matches dates that start in [from, to).
func dated(from, to time.Time) func(aggObs) bool {
	return func(o aggObs) bool {
		t, ok := o.start()
		return ok && !t.Before(from) && t.Before(to)
	}
}

func both(fs ...func(aggObs) bool) func(aggObs) bool {
	return func(o aggObs) bool {
		return !slices.ContainsFunc(fs, func(f func(aggObs) bool) bool { return !f(o) })
	}
}

var (
	aggMin = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	aggMax = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// aggFilters are the searches LastN and Stats are checked with.
var aggFilters = []aggFilter{
	{"Observation?", all},
	{"Observation?patient=pat-a", ofPatient("pat-a")},
	{"Observation?subject=Patient/pat-b", ofPatient("pat-b")},
	{"Observation?patient=pat-z", func(aggObs) bool { return false }},
	{"Observation?category=laboratory", ofCategory("laboratory")},
	{"Observation?code=http://loinc.org%7C2708-6", withCoding(loinc + "2708-6")},
	{"Observation?code=59408-5&patient=pat-a", both(withCoding("59408-5"), ofPatient("pat-a"))},
	{"Observation?code=8867-4", withCoding("8867-4")},
	{"Observation?date=ge2026-01-03", dated(day("2026-01-03"), aggMax)},
	// eq: a range condition that Mongo's filter cannot state exactly.
	{"Observation?date=2026-01-03", dated(day("2026-01-03"), day("2026-01-04"))},
	{"Observation?patient=pat-a&category=vital-signs&date=lt2026-01-03",
		both(ofPatient("pat-a"), ofCategory("vital-signs"), dated(aggMin, day("2026-01-03")))},
	{"Observation?patient.family=Family1", ofPatient("pat-b")},
	{"Observation?code=29463-7,2339-0", func(o aggObs) bool { return withCoding("29463-7")(o) || withCoding("2339-0")(o) }},
}

// testLastN checks LastN with max 1, 2 and 3 on every aggFilter against
// the answer computed from aggWorld.
func testLastN(t *testing.T, s suite) {
	f, current := s.loadAggWorld(t)
	for _, flt := range aggFilters {
		for _, max := range []int{1, 2, 3} {
			t.Run(fmt.Sprintf("%s max=%d", flt.query, max), func(t *testing.T) {
				groups := map[string][]aggObs{}
				byID := map[string]aggObs{}
				for _, o := range current {
					byID[o.id] = o
					if flt.match(o) {
						groups[o.groupKey()] = append(groups[o.groupKey()], o)
					}
				}
				want := map[string][]string{}
				for k, g := range groups {
					slices.SortFunc(g, newer)
					for _, o := range g[:min(max, len(g))] {
						want[k] = append(want[k], o.id)
					}
				}
				got, err := f.s.LastN(context.Background(), parseQuery(t, flt.query), max)
				if err != nil {
					t.Fatalf("LastN: %v", err)
				}
				gotGroups := map[string][]string{}
				for _, r := range got {
					f.checkIsCurrent(t, r)
					o, ok := byID[r.ID]
					if !ok {
						t.Errorf("LastN returned %s/%s, which is not a current Observation", r.Type, r.ID)
						continue
					}
					gotGroups[o.groupKey()] = append(gotGroups[o.groupKey()], r.ID)
				}
				for _, k := range slices.Sorted(mapKeys(want, gotGroups)) {
					if !slices.Equal(gotGroups[k], want[k]) {
						t.Errorf("group %q: got %v, want %v", k, gotGroups[k], want[k])
					}
				}
			})
		}
	}
	t.Run("max=0", func(t *testing.T) {
		if _, err := f.s.LastN(context.Background(), parseQuery(t, "Observation?"), 0); err == nil {
			t.Errorf("LastN with max 0 succeeded")
		}
	})
}

// checkIsCurrent asserts that r is the model's current version of its
// resource.
func (f *fixture) checkIsCurrent(t *testing.T, r fhir.Resource) {
	t.Helper()
	want, ok := f.m.current(r.Type, r.ID)
	if !ok || want.Deleted || !sameResource(r, want) {
		t.Errorf("got %s, which is not the current version", describe(r))
	}
}

func mapKeys[V any](ms ...map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		seen := map[string]bool{}
		for _, m := range ms {
			for k := range m {
				if !seen[k] && !yield(k) {
					return
				}
				seen[k] = true
			}
		}
	}
}

// testStats checks Stats of value-quantity and component-value-quantity
// on every aggFilter against statistics computed from aggWorld: one per
// unit as written, count, sum, sum of squares (mean and variance), min,
// max and quantiles.
func testStats(t *testing.T, s suite) {
	f, current := s.loadAggWorld(t)
	quantiles := []float64{0.5, 0.2, 0.8, 0, 1}
	for _, flt := range aggFilters {
		for _, param := range []string{"value-quantity", "component-value-quantity"} {
			t.Run(flt.query+" "+param, func(t *testing.T) {
				values := map[[2]string][]float64{}
				for _, o := range current {
					switch {
					case !flt.match(o):
					case param == "value-quantity" && o.unit != "":
						values[[2]string{o.system, o.unit}] = append(values[[2]string{o.system, o.unit}], o.value)
					case param == "component-value-quantity":
						for _, v := range o.components {
							values[[2]string{ucum, "mm[Hg]"}] = append(values[[2]string{ucum, "mm[Hg]"}], v)
						}
					}
				}
				got, err := f.s.Stats(context.Background(), parseQuery(t, flt.query), param, quantiles)
				if err != nil {
					t.Fatalf("Stats: %v", err)
				}
				checkStats(t, got, values, quantiles)
			})
		}
	}
	t.Run("no quantiles", func(t *testing.T) {
		got, err := f.s.Stats(context.Background(), parseQuery(t, "Observation?code=8867-4&patient=pat-b"), "value-quantity", nil)
		if err != nil {
			t.Fatal(err)
		}
		checkStats(t, got, map[[2]string][]float64{{ucum, "/min"}: {80, 84, 82, 81.5}}, nil)
	})
	t.Run("not a quantity", func(t *testing.T) {
		got, err := f.s.Stats(context.Background(), parseQuery(t, "Observation?"), "code", []float64{0.5})
		if err != nil || len(got) != 0 {
			t.Errorf("Stats of code = %v, %v; want none", got, err)
		}
	})
	t.Run("bad quantile", func(t *testing.T) {
		if _, err := f.s.Stats(context.Background(), parseQuery(t, "Observation?"), "value-quantity", []float64{1.5}); err == nil {
			t.Errorf("Stats with quantile 1.5 succeeded")
		}
	})
}

// checkStats compares got with the statistics of values (by system and
// unit code), computed here.
func checkStats(t *testing.T, got []storage.Stats, values map[[2]string][]float64, quantiles []float64) {
	t.Helper()
	if len(got) != len(values) {
		t.Errorf("%d Stats, want %d (units %v)", len(got), len(values), slices.Collect(func(yield func([2]string) bool) {
			for k := range values {
				if !yield(k) {
					return
				}
			}
		}))
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
	for _, st := range got {
		vs, ok := values[[2]string{st.System, st.Code}]
		if !ok {
			t.Errorf("Stats of unit %s|%s, which has no values", st.System, st.Code)
			continue
		}
		sorted := slices.Sorted(slices.Values(vs))
		n := float64(len(vs))
		var sum, squares float64
		for _, v := range vs {
			sum += v
			squares += v * v
		}
		mean := sum / n
		variance := 0.0
		for _, v := range vs {
			variance += (v - mean) * (v - mean) / n
		}
		unit := st.System + "|" + st.Code
		if st.Count != len(vs) || !near(st.Sum, sum) || !near(st.SumSquares, squares) ||
			st.Min != sorted[0] || st.Max != sorted[len(sorted)-1] {
			t.Errorf("%s: count %d sum %v squares %v min %v max %v; want %d %v %v %v %v",
				unit, st.Count, st.Sum, st.SumSquares, st.Min, st.Max, len(vs), sum, squares, sorted[0], sorted[len(sorted)-1])
			continue
		}
		gotMean := st.Sum / float64(st.Count)
		if gotVariance := st.SumSquares/float64(st.Count) - gotMean*gotMean; !near(gotMean, mean) || math.Abs(gotVariance-variance) > 1e-6*math.Max(1, variance) {
			t.Errorf("%s: mean %v variance %v, want %v %v", unit, gotMean, gotVariance, mean, variance)
		}
		if len(st.Quantiles) != len(quantiles) {
			t.Errorf("%s: %d quantiles, want %d", unit, len(st.Quantiles), len(quantiles))
			continue
		}
		for i, p := range quantiles {
			// The order statistic at rank p*(n-1), interpolated.
			rank := p * (n - 1)
			lo, hi := math.Floor(rank), math.Ceil(rank)
			want := sorted[int(lo)] + (rank-lo)*(sorted[int(hi)]-sorted[int(lo)])
			if !near(st.Quantiles[i], want) {
				t.Errorf("%s: quantile %v = %v, want %v (of %v)", unit, p, st.Quantiles[i], want, sorted)
			}
		}
	}
}
