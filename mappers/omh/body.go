package omh

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// body is a data point's body, its properties still undecoded so that
// each is decoded once, by the schema that knows its type.
type body map[string]json.RawMessage

// unitValue is the omh unit-value: a number and its unit.
type unitValue struct {
	Value *float64 `json:"value"`
	Unit  string   `json:"unit"`
}

// has reports whether the property is present and not null.
func (b body) has(name string) bool {
	raw, ok := b[name]
	return ok && string(raw) != "null"
}

// unitValue decodes the required unit-value property name.
func (b body) unitValue(name string) (float64, string, error) {
	if !b.has(name) {
		return 0, "", fmt.Errorf("body.%s: missing", name)
	}
	var uv unitValue
	if err := json.Unmarshal(b[name], &uv); err != nil {
		return 0, "", fmt.Errorf("body.%s: not a unit-value object with a numeric value and a string unit", name)
	}
	if uv.Value == nil {
		return 0, "", fmt.Errorf("body.%s.value: missing", name)
	}
	if uv.Unit == "" {
		return 0, "", fmt.Errorf("body.%s.unit: missing", name)
	}
	return *uv.Value, uv.Unit, nil
}

// quantity decodes the unit-value property name and converts it with us.
func (b body) quantity(name string, us units) (map[string]any, error) {
	v, unit, err := b.unitValue(name)
	if err != nil {
		return nil, err
	}
	return us.convert("body."+name+".unit", v, unit)
}

// str returns the optional string property name ("" when absent).
func (b body) str(name string) (string, error) {
	if !b.has(name) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(b[name], &s); err != nil {
		return "", fmt.Errorf("body.%s: not a string", name)
	}
	return s, nil
}

// timeFrame returns the window of body.effective_time_frame: a date_time
// (start = end) or a time_interval given by start and end, start and
// duration, or end and duration.
func (b body) timeFrame() (start, end time.Time, err error) {
	var tf struct {
		DateTime     *string `json:"date_time"`
		TimeInterval *struct {
			Start    *string    `json:"start_date_time"`
			End      *string    `json:"end_date_time"`
			Duration *unitValue `json:"duration"`
		} `json:"time_interval"`
	}
	const path = "body.effective_time_frame"
	if !b.has("effective_time_frame") {
		return start, end, fmt.Errorf("%s: missing", path)
	}
	if err := json.Unmarshal(b["effective_time_frame"], &tf); err != nil {
		return start, end, fmt.Errorf("%s: not a time frame (date_time or time_interval)", path)
	}
	switch {
	case tf.DateTime != nil:
		start, err = parseTime(path+".date_time", *tf.DateTime)
		return start, start, err
	case tf.TimeInterval == nil:
		return start, end, fmt.Errorf("%s: has neither date_time nor time_interval", path)
	}
	ti := tf.TimeInterval
	const ipath = path + ".time_interval"
	if ti.Start != nil {
		if start, err = parseTime(ipath+".start_date_time", *ti.Start); err != nil {
			return start, end, err
		}
	}
	if ti.End != nil {
		if end, err = parseTime(ipath+".end_date_time", *ti.End); err != nil {
			return start, end, err
		}
	}
	switch {
	case ti.Start != nil && ti.End != nil:
	case (ti.Start == nil) == (ti.End == nil):
		return start, end, fmt.Errorf("%s: needs start_date_time and end_date_time, or one of them and duration (date with part_of_day is not precise enough)", ipath)
	case ti.Duration == nil:
		return start, end, fmt.Errorf("%s.duration: missing", ipath)
	default:
		d, err := duration(ipath+".duration", ti.Duration)
		if err != nil {
			return start, end, err
		}
		if ti.Start != nil {
			end = start.Add(d)
		} else {
			start = end.Add(-d)
		}
	}
	if end.Before(start) {
		return start, end, fmt.Errorf("%s: end_date_time is before start_date_time", ipath)
	}
	return start, end, nil
}

// parseTime parses an RFC 3339 date-time, the only form omh allows.
func parseTime(path, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, fmt.Errorf("%s: %q is not an RFC 3339 date-time with offset", path, s)
	}
	return t, nil
}

// seconds are the omh duration units of fixed length, in seconds.
var seconds = map[string]float64{
	"ps": 1e-12, "ns": 1e-9, "us": 1e-6, "ms": 1e-3,
	"sec": 1, "s": 1, "min": 60, "h": 3600, "d": 86400, "wk": 604800,
}

// duration converts an omh duration-unit-value; months and years have no
// fixed length and are refused.
func duration(path string, uv *unitValue) (time.Duration, error) {
	if uv.Value == nil {
		return 0, fmt.Errorf("%s.value: missing", path)
	}
	if uv.Unit == "" {
		return 0, fmt.Errorf("%s.unit: missing", path)
	}
	s, ok := seconds[uv.Unit]
	if !ok {
		return 0, fmt.Errorf("%s.unit: %q is not a duration of fixed length (ps … wk)", path, uv.Unit)
	}
	if *uv.Value < 0 {
		return 0, fmt.Errorf("%s.value: negative", path)
	}
	return time.Duration(*uv.Value * s * float64(time.Second)), nil
}

// statistics maps omh descriptive-statistic values to the codes of
// http://terminology.hl7.org/CodeSystem/observation-statistics.
var statistics = map[string][2]string{
	"average":            {"average", "Average"},
	"count":              {"count", "Count"},
	"maximum":            {"maximum", "Maximum"},
	"median":             {"median", "Median"},
	"minimum":            {"minimum", "Minimum"},
	"standard deviation": {"std-dev", "Standard Deviation"},
	"sum":                {"sum", "Sum"},
	"variance":           {"variance", "Variance"},
	"20th percentile":    {"20-percent", "20th Percentile"},
	"80th percentile":    {"80-percent", "80th Percentile"},
	"lower quartile":     {"4-lower", "Lower Quartile"},
	"upper quartile":     {"4-upper", "Upper Quartile"},
	"quartile deviation": {"4-dev", "Quartile Deviation"},
	"1st quintile":       {"5-1", "1st Quintile"},
	"2nd quintile":       {"5-2", "2nd Quintile"},
	"3rd quintile":       {"5-3", "3rd Quintile"},
	"4th quintile":       {"5-4", "4th Quintile"},
}

// addCommon maps the properties several schemas share:
// descriptive_statistic (with its denominator) to Observation.method, since
// the value is then a statistic over effectivePeriod rather than a single
// measurement; measurement_location to bodySite; user_notes to a note.
func (b body) addCommon(obs map[string]any) error {
	location, err := b.str("measurement_location")
	if err != nil {
		return err
	}
	if location != "" {
		obs["bodySite"] = map[string]any{"text": location}
	}
	stat, err := b.str("descriptive_statistic")
	if err != nil {
		return err
	}
	if stat != "" {
		method := map[string]any{"text": stat}
		if c, ok := statistics[stat]; ok {
			method["coding"] = []any{coding("http://terminology.hl7.org/CodeSystem/observation-statistics", c[0], c[1])}
		}
		denominator, err := b.str("descriptive_statistic_denominator")
		if err != nil {
			return err
		}
		if denominator != "" {
			method["text"] = stat + " per " + denominator
		}
		obs["method"] = method
	}
	notes, err := b.str("user_notes")
	if err != nil || notes == "" {
		return err
	}
	addNote(obs, notes)
	return nil
}

// qualifiers records each present string property of names that qualifies
// the measurement (temporal relationships, specimen, oxygen therapy mode,
// activity intensity) under the property name in words. No LOINC or SNOMED
// code carries these omh value sets one to one, and a text code is not a
// claim of one.
//
// In a vital sign (cat vitalSigns) each becomes a note, "Temporal
// relationship to sleep: on waking": the R4 vitalsigns profile binds every
// component's value to the UCUM units of vital signs, so a text value
// cannot be a component there. Elsewhere each is a component with that
// code.text and valueString.
func (b body) qualifiers(obs map[string]any, cat string, names ...string) error {
	for _, name := range names {
		v, err := b.str(name)
		if err != nil {
			return err
		}
		if v == "" {
			continue
		}
		words := strings.ReplaceAll(name, "_", " ")
		if cat == vitalSigns {
			addNote(obs, strings.ToUpper(words[:1])+words[1:]+": "+v)
			continue
		}
		addComponent(obs, map[string]any{"code": map[string]any{"text": words}, "valueString": v})
	}
	return nil
}

func addComponent(obs map[string]any, c map[string]any) {
	cs, _ := obs["component"].([]any)
	obs["component"] = append(cs, c)
}

// addNote appends an Annotation with text to obs.note.
func addNote(obs map[string]any, text string) {
	ns, _ := obs["note"].([]any)
	obs["note"] = append(ns, map[string]any{"text": text})
}
