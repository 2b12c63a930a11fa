package medtech

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medbridge/medbridge/mappers"
)

// group is the measurements that make one reading: one measurement, or
// those of one device, patient, correlation and window.
type group struct {
	f          *fhirTemplate
	ms         []*measurement
	start, end time.Time
}

// groupMeasurements puts the measurements of a message into readings'
// groups, in the order of their first measurement.
func (m *Mapping) groupMeasurements(ms []measurement) []*group {
	var groups []*group
	var byKey map[string]*group
	for i := range ms {
		me := &ms[i]
		f := m.fhir[me.t.typeName]
		if f.interval == 0 {
			groups = append(groups, &group{f: f, ms: []*measurement{me}, start: me.time, end: me.time})
			continue
		}
		start := me.time.UTC().Truncate(f.interval)
		key := strings.Join([]string{f.typeName, me.device, me.patient, me.encounter, me.correlation, start.Format(time.RFC3339)}, "\x00")
		if g := byKey[key]; g != nil {
			g.ms = append(g.ms, me)
			continue
		}
		if byKey == nil {
			byKey = map[string]*group{}
		}
		// The window ends a millisecond before the next one starts, the
		// precision of keys (iomt-fhir: a tick before).
		g := &group{f: f, ms: []*measurement{me}, start: start, end: start.Add(f.interval - time.Millisecond)}
		byKey[key] = g
		groups = append(groups, g)
	}
	return groups
}

// reading builds the reading of a group.
func (m *Mapping) reading(g *group) (mappers.Reading, error) {
	first, f := g.ms[0], g.f
	r := mappers.Reading{
		Type:        f.typeName,
		Device:      mappers.Device{Identifier: mappers.Identifier{System: m.Settings.DeviceIdentifierSystem, Value: first.device}},
		Patient:     mappers.Identifier{System: m.Settings.PatientIdentifierSystem, Value: first.patient},
		Correlation: first.correlation,
		Start:       g.start,
		End:         g.end,
	}
	if first.encounter != "" {
		r.Encounter = mappers.Identifier{System: m.Settings.EncounterIdentifierSystem, Value: first.encounter}
	}
	obs := map[string]any{"status": "final"}
	if len(f.category) > 0 {
		cats := make([]any, len(f.category))
		for i, c := range f.category {
			cats[i] = concept(c)
		}
		obs["category"] = cats
	}
	obs["code"] = concept(Concept{Codes: f.codes})
	k, v := mappers.Effective(g.start, g.end)
	obs[k] = v
	found := false
	if f.value != nil {
		if vals := g.values(f.value.name); len(vals) > 0 {
			k, v, err := f.value.build(f.typeName, vals, g)
			if err != nil {
				return r, err
			}
			obs[k] = v
			found = true
		}
	}
	var comps []any
	for _, c := range f.components {
		vals := g.values(c.value.name)
		if len(vals) == 0 {
			continue
		}
		k, v, err := c.value.build(f.typeName, vals, g)
		if err != nil {
			return r, err
		}
		comps = append(comps, map[string]any{"code": concept(Concept{Codes: c.codes}), k: v})
	}
	if len(comps) > 0 {
		obs["component"] = comps
		found = true
	}
	if !found {
		var names []string
		for _, vt := range f.valueTypes() {
			names = append(names, strconv.Quote(vt.name))
		}
		return r, fmt.Errorf("%s (%s): the message has none of the values the FHIR template maps (%s)",
			f.typeName, first.t.where, strings.Join(names, ", "))
	}
	r.Observation = obs
	if f.interval > 0 && f.sampled() {
		r.Merge = mergeObservations
	}
	return r, nil
}

// timedValue is one value of a group.
type timedValue struct {
	t   time.Time
	v   namedValue
	tpl *contentTemplate
}

// values returns the group's values named name, oldest first.
func (g *group) values(name string) []timedValue {
	var out []timedValue
	for _, me := range g.ms {
		for _, v := range me.values {
			if v.name == name {
				out = append(out, timedValue{t: me.time, v: v, tpl: me.t})
			}
		}
	}
	if len(out) > 1 {
		slices.SortStableFunc(out, func(a, b timedValue) int { return a.t.Compare(b.t) })
	}
	return out
}

// build returns value[x] of vals: the latest value, or all of them for
// SampledData.
func (vt *valueType) build(typeName string, vals []timedValue, g *group) (string, any, error) {
	latest := vals[len(vals)-1].v
	switch vt.kind {
	case valueQuantity, valueSampledData:
		nums := make([]float64, len(vals))
		for i, tv := range vals {
			f, ok := decimal(tv.v.value)
			if !ok {
				return "", nil, fmt.Errorf("%s (%s): value %q is %q (from %s), not a number; the FHIR template maps it to a %s value",
					typeName, tv.tpl.where, tv.v.name, tv.v.value, tv.v.src, vt.kind)
			}
			nums[i] = f
		}
		if vt.kind == valueQuantity {
			q := vt.quantity()
			q["value"] = nums[len(nums)-1]
			return "valueQuantity", q, nil
		}
		origin := vt.quantity()
		origin["value"] = 0.0
		return "valueSampledData", map[string]any{
			"origin":     origin,
			"period":     vt.period,
			"dimensions": 1.0,
			"data":       samples(vals, nums, g.start, g.end, vt.period),
		}, nil
	case valueCodeableConcept:
		return "valueCodeableConcept", concept(vt.concept), nil
	}
	return "valueString", latest.value, nil
}

func (vt *valueType) quantity() map[string]any {
	q := map[string]any{}
	for k, v := range map[string]string{"unit": vt.unit, "system": vt.system, "code": vt.code} {
		if v != "" {
			q[k] = v
		}
	}
	return q
}

// samples writes values into the slots of [start, end] of period ms each,
// "E" where there is none; in a slot the latest value wins (iomt-fhir).
func samples(vals []timedValue, nums []float64, start, end time.Time, period float64) string {
	slots := make([]string, slotCount(start, end, period))
	for i, tv := range vals {
		if s := slot(tv.t.Sub(start), period); s >= 0 && s < len(slots) {
			slots[s] = strconv.FormatFloat(nums[i], 'f', -1, 64)
		}
	}
	return joinSlots(slots)
}

func slotCount(start, end time.Time, period float64) int {
	return slot(end.Sub(start), period) + 1
}

// slot is the index of the slot of period ms that holds offset d.
func slot(d time.Duration, period float64) int {
	return int(math.Floor(float64(d) / (period * float64(time.Millisecond))))
}

func joinSlots(slots []string) string {
	var b strings.Builder
	for i, s := range slots {
		if i > 0 {
			b.WriteByte(' ')
		}
		if s == "" {
			s = "E"
		}
		b.WriteString(s)
	}
	return b.String()
}

var decimalSyntax = regexp.MustCompile(`^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$`)

// decimal parses a measured number: decimal notation only (no "NaN",
// hexadecimal or thousands separators).
func decimal(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if !decimalSyntax.MatchString(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil && !math.IsInf(f, 0)
}

// concept is a template concept as a FHIR CodeableConcept.
func concept(c Concept) map[string]any {
	out := map[string]any{}
	if len(c.Codes) > 0 {
		codings := make([]any, len(c.Codes))
		for i, code := range c.Codes {
			coding := map[string]any{"code": code.Code}
			if code.System != "" {
				coding["system"] = code.System
			}
			if code.Display != "" {
				coding["display"] = code.Display
			}
			codings[i] = coding
		}
		out["coding"] = codings
	}
	if c.Text != "" {
		out["text"] = c.Text
	}
	return out
}
