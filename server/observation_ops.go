package server

import (
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

// The Observation operations of device data: $lastn (the most recent
// readings of each kind) and $stats (statistics over a period), both
// answered by the store from its indexes (storage.Store LastN and Stats).

// lastnMax bounds $lastn's max.
const lastnMax = 1000

// lastn serves GET/POST /fhir/Observation/$lastn: max (default 1) and any
// Observation search parameter; a searchset Bundle of the max most recent
// Observations of each subject and code, _include honoured.
func (s *Server) lastn(c echo.Context) error {
	params, err := searchParams(c)
	if err != nil {
		return err
	}
	max := 1
	if v := params.Get("max"); v != "" {
		if max, err = strconv.Atoi(v); err != nil || max < 1 || max > lastnMax {
			return fhir.Errorf(http.StatusBadRequest, fhir.CodeValue, "max must be a whole number from 1 to %d, not %q", lastnMax, v).At("max")
		}
	}
	params.Del("max")
	q, err := search.ParseQuery(s.spec, []string{"Observation"}, params, search.Options{Strict: strict(c), BaseURL: s.baseURL})
	if err != nil {
		return err
	}
	confine, err := s.confinement(c, "Observation")
	if err != nil {
		return err
	}
	run := *q
	run.Filters = append(slices.Clone(q.Filters), confine...)
	ctx := c.Request().Context()
	found, err := s.store.LastN(ctx, &run, max)
	if err != nil {
		return err
	}
	included, err := s.includedVisible(c, q, found)
	if err != nil {
		return err
	}
	b := newBundle("searchset", s.now())
	total := len(found)
	b.Total = &total
	self := q.Encode()
	self.Set("max", strconv.Itoa(max))
	b.Link = []bundleLink{{Relation: "self", URL: s.baseURL + "/Observation/$lastn?" + self.Encode()}}
	for _, set := range []struct {
		rs   []fhir.Resource
		mode string
	}{{found, "match"}, {included, "include"}} {
		for i := range set.rs {
			e, err := s.searchEntry(q, &set.rs[i], set.mode)
			if err != nil {
				return err
			}
			b.Entry = append(b.Entry, e)
		}
	}
	body, err := jsonBody(b)
	if err != nil {
		return err
	}
	writeJSON(c, http.StatusOK, body)
	return nil
}

// statisticsSystem is the code system of $stats' statistic codes.
const statisticsSystem = "http://terminology.hl7.org/CodeSystem/observation-statistics"

// statistic computes one statistic code from a storage.Stats; quantile is
// the order statistic it needs (<0: none).
type statistic struct {
	quantile float64
	value    func(st *storage.Stats, q func(float64) float64) (float64, bool)
}

// statistics are the observation-statistics codes $stats supports. The
// standard deviation and variance are those of a sample (n-1).
var statistics = map[string]statistic{
	"average": {-1, func(st *storage.Stats, _ func(float64) float64) (float64, bool) {
		return st.Sum / float64(st.Count), true
	}},
	"maximum": {-1, func(st *storage.Stats, _ func(float64) float64) (float64, bool) { return st.Max, true }},
	"minimum": {-1, func(st *storage.Stats, _ func(float64) float64) (float64, bool) { return st.Min, true }},
	"count":   {-1, func(st *storage.Stats, _ func(float64) float64) (float64, bool) { return float64(st.Count), true }},
	"sum":     {-1, func(st *storage.Stats, _ func(float64) float64) (float64, bool) { return st.Sum, true }},
	"variance": {-1, func(st *storage.Stats, _ func(float64) float64) (float64, bool) {
		return variance(st)
	}},
	"std-dev": {-1, func(st *storage.Stats, _ func(float64) float64) (float64, bool) {
		v, ok := variance(st)
		return math.Sqrt(v), ok
	}},
	"median":     quantileStatistic(0.5),
	"20-percent": quantileStatistic(0.2),
	"80-percent": quantileStatistic(0.8),
	"4-lower":    quantileStatistic(0.25),
	"4-upper":    quantileStatistic(0.75),
	"5-1":        quantileStatistic(0.2),
	"5-2":        quantileStatistic(0.4),
	"5-3":        quantileStatistic(0.6),
	"5-4":        quantileStatistic(0.8),
	"4-dev": {-1, func(st *storage.Stats, q func(float64) float64) (float64, bool) {
		return q(0.75) - q(0.25), true
	}},
}

func quantileStatistic(p float64) statistic {
	return statistic{p, func(_ *storage.Stats, q func(float64) float64) (float64, bool) { return q(p), true }}
}

// variance is the sample variance, from the sums (one pass in the store).
func variance(st *storage.Stats) (float64, bool) {
	if st.Count < 2 {
		return 0, false
	}
	n := float64(st.Count)
	mean := st.Sum / n
	return math.Max(0, (st.SumSquares-n*mean*mean)/(n-1)), true
}

// statsRequest is a parsed $stats request.
type statsRequest struct {
	subject string
	codes   []string // token search values: system|code or code
	// start and end bound the period ("" when open), as dateTimes.
	start, end string
	statistics []string
}

// parseStats reads $stats' parameters from the query (GET) or a form body:
// subject or patient (a reference), code (repeatable, comma-separated,
// with system applying to each), coding (system|code), duration (hours
// back from now) or period (date search values, e.g. ge2026-11-01;
// repeatable; or start/end), statistic (repeatable, comma-separated).
func (s *Server) parseStats(params url.Values) (*statsRequest, error) {
	r := &statsRequest{subject: params.Get("subject")}
	if r.subject == "" {
		r.subject = params.Get("patient")
	}
	if r.subject == "" {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeRequired, "$stats needs subject (or patient): whose observations to summarize").At("subject")
	}
	system := params.Get("system")
	for _, v := range params["code"] {
		for c := range strings.SplitSeq(v, ",") {
			if system != "" {
				c = search.Escape(system) + "|" + c
			}
			r.codes = append(r.codes, c)
		}
	}
	r.codes = append(r.codes, params["coding"]...)
	if len(r.codes) == 0 {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeRequired, "$stats needs code or coding: which observations to summarize").At("code")
	}
	switch {
	case params.Get("duration") != "":
		hours, err := strconv.ParseFloat(params.Get("duration"), 64)
		if err != nil || hours <= 0 {
			return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeValue, "duration is a number of hours, not %q", params.Get("duration")).At("duration")
		}
		now := s.now().UTC()
		r.start = now.Add(-time.Duration(hours * float64(time.Hour))).Format(time.RFC3339)
		r.end = now.Format(time.RFC3339)
	default:
		for _, v := range params["period"] {
			if start, end, ok := strings.Cut(v, "/"); ok {
				r.start, r.end = start, end
				continue
			}
			switch prefix, value := v[:min(2, len(v))], v[min(2, len(v)):]; prefix {
			case "ge", "gt":
				r.start = value
			case "le", "lt":
				r.end = value
			default:
				return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeValue,
					"period is start/end or a bound such as ge2026-11-01 or le2026-11-30, not %q", v).At("period")
			}
		}
	}
	for _, v := range params["statistic"] {
		for code := range strings.SplitSeq(v, ",") {
			if _, ok := statistics[code]; !ok {
				return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeNotSupported,
					"statistic %q is not supported; medbridge computes %s", code, strings.Join(statisticCodes(), ", ")).At("statistic")
			}
			r.statistics = append(r.statistics, code)
		}
	}
	if len(r.statistics) == 0 {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeRequired, "$stats needs statistic, e.g. average,minimum,maximum").At("statistic")
	}
	return r, nil
}

func statisticCodes() []string {
	out := make([]string, 0, len(statistics))
	for code := range statistics {
		out = append(out, code)
	}
	slices.Sort(out)
	return out
}

// stats serves GET/POST /fhir/Observation/$stats. The answer is a
// Parameters resource with one "statistics" Observation per code and unit:
// its code the code asked for, its subject and effectivePeriod those of
// the request, one component per statistic (coded in observation-
// statistics) with the value in the unit of the readings.
func (s *Server) stats(c echo.Context) error {
	params, err := searchParams(c)
	if err != nil {
		return err
	}
	r, err := s.parseStats(params)
	if err != nil {
		return err
	}
	var quantiles []float64
	seen := map[float64]bool{}
	for _, code := range r.statistics {
		st := statistics[code]
		ps := []float64{st.quantile}
		if code == "4-dev" {
			ps = []float64{0.25, 0.75}
		}
		for _, p := range ps {
			if p >= 0 && !seen[p] {
				seen[p] = true
				quantiles = append(quantiles, p)
			}
		}
	}
	ctx := c.Request().Context()
	out := map[string]any{"resourceType": "Parameters"}
	var parameters []any
	for _, code := range r.codes {
		filter := url.Values{"subject": {r.subject}, "code": {code}}
		if r.start != "" {
			filter.Add("date", "ge"+r.start)
		}
		if r.end != "" {
			filter.Add("date", "le"+r.end)
		}
		q, err := search.ParseQuery(s.spec, []string{"Observation"}, filter, search.Options{Strict: true, BaseURL: s.baseURL})
		if err != nil {
			return err
		}
		confine, err := s.confinement(c, "Observation")
		if err != nil {
			return err
		}
		q.Filters = append(q.Filters, confine...)
		groups, err := s.store.Stats(ctx, q, "value-quantity", quantiles)
		if err != nil {
			return err
		}
		for i := range groups {
			parameters = append(parameters, map[string]any{"name": "statistics", "resource": s.statsObservation(r, code, &groups[i], quantiles)})
		}
	}
	if parameters != nil {
		out["parameter"] = parameters
	}
	body, err := jsonBody(out)
	if err != nil {
		return err
	}
	writeJSON(c, http.StatusOK, body)
	return nil
}

// statsObservation is the Observation of one code's and unit's statistics.
func (s *Server) statsObservation(r *statsRequest, code string, st *storage.Stats, quantiles []float64) map[string]any {
	q := func(p float64) float64 {
		for i, have := range quantiles {
			if have == p {
				return st.Quantiles[i]
			}
		}
		return math.NaN()
	}
	coding := map[string]any{}
	if system, c, ok := strings.Cut(code, "|"); ok {
		coding["system"], coding["code"] = system, c
	} else {
		coding["code"] = code
	}
	var components []any
	for _, name := range r.statistics {
		v, ok := statistics[name].value(st, q)
		if !ok || math.IsNaN(v) {
			continue
		}
		value := map[string]any{"value": v}
		if name != "count" {
			if st.Code != "" {
				value["code"] = st.Code
				value["unit"] = st.Code
			}
			if st.System != "" {
				value["system"] = st.System
			}
		}
		components = append(components, map[string]any{
			"code":          map[string]any{"coding": []any{map[string]any{"system": statisticsSystem, "code": name}}},
			"valueQuantity": value,
		})
	}
	obs := map[string]any{
		"resourceType": "Observation",
		"status":       "final",
		"code":         map[string]any{"coding": []any{coding}},
		"subject":      map[string]any{"reference": r.subject},
		"issued":       s.now().UTC().Format(fhir.InstantFormat),
		"component":    components,
	}
	if r.start != "" || r.end != "" {
		period := map[string]any{}
		if r.start != "" {
			period["start"] = r.start
		}
		if r.end != "" {
			period["end"] = r.end
		}
		obs["effectivePeriod"] = period
	}
	return obs
}
