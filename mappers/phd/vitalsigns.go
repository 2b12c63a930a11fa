package phd

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

const (
	ucumSystem = "http://unitsofmeasure.org"
	// supplementalTypes is MDC_ATTR_SUPPLEMENTAL_TYPES, the component code
	// of the PHD IG for how a value was measured (MDC_MODALITY_SPOT, …).
	supplementalTypes = "68193"
)

// vitalSignsUnits are the codes of the value set ucum-vitals-common, to
// which the R4 vitalsigns profile binds Observation.component.value[x]
// (required).
var vitalSignsUnits = map[string]bool{
	"%": true, "cm": true, "[in_i]": true, "kg": true, "g": true, "[lb_av]": true,
	"Cel": true, "[degF]": true, "mm[Hg]": true, "/min": true, "kg/m2": true, "m2": true,
}

// mapComponents adds LOINC codings to each component.code of obs. In a
// vital sign it moves the qualifiers out of component (see
// moveQualifiers): the components that are not vital-sign measurements
// themselves and have a value the vitalsigns profile refuses, anything
// but a Quantity in vitalSignsUnits. A measurement in another unit stays,
// as sent: it is the reading, not something said about it.
func mapComponents(obs map[string]any, vitalSign bool) {
	components, _ := obs["component"].([]any)
	var kept []any
	var qualifiers []map[string]any
	for _, v := range components {
		c, _ := v.(map[string]any)
		if c == nil {
			kept = append(kept, v)
			continue
		}
		measurement := false
		if cc, _ := c["code"].(map[string]any); cc != nil {
			measurement = addLOINC(cc, quantityCode(c))
		}
		if vitalSign && !measurement && !inVitalSignsUnits(c) {
			qualifiers = append(qualifiers, c)
			continue
		}
		kept = append(kept, v)
	}
	if len(qualifiers) == 0 {
		return
	}
	if len(kept) == 0 {
		delete(obs, "component")
	} else {
		obs["component"] = kept
	}
	moveQualifiers(obs, qualifiers)
}

// inVitalSignsUnits reports whether the vitalsigns profile accepts the
// value of component c: a Quantity in vitalSignsUnits, or none (then
// dataAbsentReason says why).
func inVitalSignsUnits(c map[string]any) bool {
	key, _ := value(c)
	if key == "" {
		return true
	}
	q, _ := c["valueQuantity"].(map[string]any)
	code, _ := q["code"].(string)
	return q["system"] == ucumSystem && vitalSignsUnits[code]
}

// moveQualifiers writes the qualifier components of obs elsewhere. A
// single supplemental-types component (how the value was measured, such as
// MDC_MODALITY_SPOT) becomes Observation.method when obs has none; every
// other qualifier becomes a note "<code>: <value>".
func moveQualifiers(obs map[string]any, qualifiers []map[string]any) {
	methods := 0
	for _, c := range qualifiers {
		if isSupplementalTypes(c) {
			methods++
		}
	}
	_, hasMethod := obs["method"]
	notes, _ := obs["note"].([]any)
	for _, c := range qualifiers {
		if methods == 1 && !hasMethod && isSupplementalTypes(c) {
			obs["method"] = c["valueCodeableConcept"]
			continue
		}
		cc, _ := c["code"].(map[string]any)
		_, v := value(c)
		notes = append(notes, map[string]any{"text": conceptText(cc) + ": " + valueText(v)})
	}
	if len(notes) > 0 {
		obs["note"] = notes
	}
}

func isSupplementalTypes(c map[string]any) bool {
	cc, _ := c["code"].(map[string]any)
	codings, _ := cc["coding"].([]any)
	_, ok := c["valueCodeableConcept"].(map[string]any)
	return ok && hasCoding(codings, mdcSystem, supplementalTypes)
}

// value returns the value[x] element of component c and its key ("" when
// it has none).
func value(c map[string]any) (string, any) {
	for k, v := range c {
		if strings.HasPrefix(k, "value") {
			return k, v
		}
	}
	return "", nil
}

// conceptText is how a reader knows a CodeableConcept: its text, else the
// first display of its codings, else the first system|code.
func conceptText(cc map[string]any) string {
	if s, _ := cc["text"].(string); s != "" {
		return s
	}
	codings, _ := cc["coding"].([]any)
	for _, c := range codings {
		if c, _ := c.(map[string]any); c != nil {
			if s, _ := c["display"].(string); s != "" {
				return s
			}
		}
	}
	if len(codings) > 0 {
		if c, _ := codings[0].(map[string]any); c != nil {
			return fmt.Sprintf("%v|%v", c["system"], c["code"])
		}
	}
	return "(uncoded)"
}

// valueText writes a component's value[x] for a note: a Quantity as
// "[comparator]value unit", a CodeableConcept as conceptText, a number as
// a decimal, another primitive as is, any other type as its JSON.
func valueText(v any) string {
	switch v := v.(type) {
	case string, bool:
		return fmt.Sprint(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case map[string]any:
		_, coded := v["coding"]
		_, text := v["text"]
		if coded || text {
			return conceptText(v)
		}
		if n, ok := v["value"].(float64); ok {
			unit, _ := v["unit"].(string)
			if unit == "" {
				unit, _ = v["code"].(string)
			}
			comparator, _ := v["comparator"].(string)
			return strings.TrimSpace(comparator + valueText(n) + " " + unit)
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}
