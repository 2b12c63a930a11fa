package medtech

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"time"
)

// mergeObservations is the mappers.Merger of grouped readings. The result
// is incoming (the template's codes and the resolved references as they
// are now) with each SampledData holding the stored samples and the new
// ones. In a slot both fill, the stored sample stays: unlike iomt-fhir,
// where the newer message wins, so that re-sending or replaying old
// messages never overwrites what came later and changes nothing.
// Components are matched by code; stored components the new reading
// lacks are kept. Other value types take the new value. changed reports
// whether the result differs from stored, meta aside, so a batch sent
// twice changes nothing the second time.
func mergeObservations(stored, incoming map[string]any) (map[string]any, bool, error) {
	storedStart, err := effectiveStart(stored)
	if err != nil {
		return nil, false, err
	}
	start, err := effectiveStart(incoming)
	if err != nil {
		return nil, false, err
	}
	merged := maps.Clone(incoming)
	if sd, ok := incoming["valueSampledData"].(map[string]any); ok {
		if old, ok := stored["valueSampledData"].(map[string]any); ok {
			if merged["valueSampledData"], err = mergeSampledData(old, storedStart, sd, start); err != nil {
				return nil, false, err
			}
		}
	}
	if comps, ok := incoming["component"].([]any); ok {
		oldComps, _ := stored["component"].([]any)
		used := make([]bool, len(oldComps))
		out := make([]any, 0, len(comps)+len(oldComps))
		for _, c := range comps {
			cm, _ := c.(map[string]any)
			sd, isSampled := cm["valueSampledData"].(map[string]any)
			for j, oc := range oldComps {
				ocm, _ := oc.(map[string]any)
				if used[j] || codeKey(ocm) != codeKey(cm) {
					continue
				}
				used[j] = true
				if old, ok := ocm["valueSampledData"].(map[string]any); ok && isSampled {
					data, err := mergeSampledData(old, storedStart, sd, start)
					if err != nil {
						return nil, false, err
					}
					cm = maps.Clone(cm)
					cm["valueSampledData"] = data
				}
				break
			}
			out = append(out, cm)
		}
		for j, oc := range oldComps {
			if !used[j] {
				out = append(out, oc)
			}
		}
		merged["component"] = out
	}
	before := maps.Clone(stored)
	delete(before, "meta")
	after, err := normalize(merged)
	if err != nil {
		return nil, false, err
	}
	return merged, !reflect.DeepEqual(before, after), nil
}

// mergeSampledData lays the stored samples (from storedStart) into the
// slots of the new SampledData (from start), over the new ones.
func mergeSampledData(old map[string]any, storedStart time.Time, sd map[string]any, start time.Time) (map[string]any, error) {
	oldData, _ := old["data"].(string)
	oldPeriod, _ := old["period"].(float64)
	data, _ := sd["data"].(string)
	period, _ := sd["period"].(float64)
	if oldPeriod <= 0 || period <= 0 {
		return nil, fmt.Errorf("SampledData without a positive period")
	}
	slots := strings.Split(data, " ")
	for i, v := range strings.Split(oldData, " ") {
		if v == "E" || v == "" {
			continue
		}
		at := storedStart.Add(time.Duration(float64(i) * oldPeriod * float64(time.Millisecond)))
		if s := slot(at.Sub(start), period); s >= 0 && s < len(slots) {
			slots[s] = v
		}
	}
	out := maps.Clone(sd)
	out["data"] = strings.Join(slots, " ")
	return out, nil
}

// effectiveStart is the start of an Observation's effective[x].
func effectiveStart(obs map[string]any) (time.Time, error) {
	s, _ := obs["effectiveDateTime"].(string)
	if p, ok := obs["effectivePeriod"].(map[string]any); ok {
		s, _ = p["start"].(string)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("the Observation has no effective start: %v", err)
	}
	return t, nil
}

// codeKey identifies a component by its codings.
func codeKey(c map[string]any) string {
	code, _ := c["code"].(map[string]any)
	codings, _ := code["coding"].([]any)
	var b strings.Builder
	for _, cd := range codings {
		m, _ := cd.(map[string]any)
		fmt.Fprintf(&b, "%v|%v,", m["system"], m["code"])
	}
	return b.String()
}

// normalize gives v the types of decoded JSON, to compare it with a
// stored Observation.
func normalize(v map[string]any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	err = json.Unmarshal(b, &out)
	return out, err
}
