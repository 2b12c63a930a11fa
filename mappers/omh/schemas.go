package omh

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// schema is the mapping of one omh schema.
type schema struct {
	// maxMajor is the newest major version the mapping knows; the field
	// names it reads are the same in versions 1.x to maxMajor.x.
	maxMajor int
	// build writes category, code and value[x] or component of obs from
	// the body; start and end are its effective window.
	build func(b body, obs map[string]any, start, end time.Time) error
}

const (
	loinc          = "http://loinc.org"
	categorySystem = "http://terminology.hl7.org/CodeSystem/observation-category"
	vitalSigns     = "vital-signs"
	activity       = "activity"
	laboratory     = "laboratory"
)

var categoryDisplay = map[string]string{vitalSigns: "Vital Signs", activity: "Activity", laboratory: "Laboratory"}

// schemas are the mappings by schema name. Vital signs carry the LOINC
// code of their R4 vital-signs profile (oxygen saturation both 2708-6,
// which the profile requires, and 59408-5, which says pulse oximetry).
var schemas = map[string]*schema{
	"heart-rate": {2, measurement("heart_rate", heartRate, vitalSigns,
		codes{{"8867-4", "Heart rate"}},
		"temporal_relationship_to_physical_activity", "temporal_relationship_to_sleep")},
	"respiratory-rate": {2, measurement("respiratory_rate", respiratoryRate, vitalSigns,
		codes{{"9279-1", "Respiratory rate"}},
		"temporal_relationship_to_physical_activity")},
	"body-temperature": {4, measurement("body_temperature", temperature, vitalSigns,
		codes{{"8310-5", "Body temperature"}},
		"temporal_relationship_to_sleep")},
	"oxygen-saturation": {2, oxygenSaturation},
	"body-weight": {3, measurement("body_weight", bodyWeight, vitalSigns,
		codes{{"29463-7", "Body weight"}})},
	"body-height": {2, measurement("body_height", bodyHeight, vitalSigns,
		codes{{"8302-2", "Body height"}})},
	"body-mass-index": {3, measurement("body_mass_index", bodyMassIndex, vitalSigns,
		codes{{"39156-5", "Body mass index (BMI) [Ratio]"}})},
	"blood-pressure": {4, bloodPressurePanel},
	"blood-glucose":  {4, bloodGlucose},
	"step-count":     {3, stepCount},
	"sleep-duration": {2, measurement("sleep_duration", sleep, activity,
		codes{{"93832-4", "Sleep duration"}})},
	"physical-activity": {1, physicalActivity},
}

// codes are LOINC codes with their displays.
type codes [][2]string

// concept returns the CodeableConcept of cs; its text is the first display.
func (cs codes) concept() map[string]any {
	coding := make([]any, len(cs))
	for i, c := range cs {
		coding[i] = map[string]string{"system": loinc, "code": c[0], "display": c[1]}
	}
	return map[string]any{"coding": coding, "text": cs[0][1]}
}

func coding(system, code, display string) map[string]string {
	return map[string]string{"system": system, "code": code, "display": display}
}

func category(code string) []any {
	return []any{map[string]any{"coding": []any{coding(categorySystem, code, categoryDisplay[code])}}}
}

// measurement maps a schema whose body has one unit-value, property, to
// an Observation with that value, converted by us, and the qualifying
// string properties (see qualifiers).
func measurement(property string, us units, cat string, cs codes, qualifiers ...string) func(body, map[string]any, time.Time, time.Time) error {
	return func(b body, obs map[string]any, _, _ time.Time) error {
		q, err := b.quantity(property, us)
		if err != nil {
			return err
		}
		obs["category"] = category(cat)
		obs["code"] = cs.concept()
		obs["valueQuantity"] = q
		return b.qualifiers(obs, cat, qualifiers...)
	}
}

// oxygenSaturation notes the supplemental oxygen flow ("Supplemental
// oxygen flow rate: 2 L/min"; 0 L/min means room air). It is no component
// (LOINC 3151-8 "Inhaled oxygen flow rate"): the vitalsigns profile allows
// components only in vital-signs units, and L/min is none.
func oxygenSaturation(b body, obs map[string]any, start, end time.Time) error {
	err := measurement("oxygen_saturation", percent, vitalSigns,
		codes{{"2708-6", "Oxygen saturation in Arterial blood"}, {"59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"}},
		"oxygen_therapy_mode_of_administration")(b, obs, start, end)
	if err != nil || !b.has("supplemental_oxygen_flow_rate") {
		return err
	}
	q, err := b.quantity("supplemental_oxygen_flow_rate", oxygenFlow)
	if err != nil {
		return err
	}
	addNote(obs, fmt.Sprintf("Supplemental oxygen flow rate: %s %s", strconv.FormatFloat(q["value"].(float64), 'f', -1, 64), q["unit"]))
	return nil
}

// bloodPressurePanel maps to the bp profile: LOINC panel 85354-9 with
// systolic and diastolic components in mm[Hg]. The posture (omh 1.x
// position_during_measurement, later body_posture) is a note "Body
// position with respect to gravity: sitting" rather than the LOINC 8361-8
// component, whose coded value the vitalsigns profile would refuse.
func bloodPressurePanel(b body, obs map[string]any, _, _ time.Time) error {
	sys, err := b.quantity("systolic_blood_pressure", bloodPressure)
	if err != nil {
		return err
	}
	dia, err := b.quantity("diastolic_blood_pressure", bloodPressure)
	if err != nil {
		return err
	}
	obs["category"] = category(vitalSigns)
	obs["code"] = codes{{"85354-9", "Blood pressure panel with all children optional"}}.concept()
	obs["component"] = []any{
		map[string]any{"code": codes{{"8480-6", "Systolic blood pressure"}}.concept(), "valueQuantity": sys},
		map[string]any{"code": codes{{"8462-4", "Diastolic blood pressure"}}.concept(), "valueQuantity": dia},
	}
	for _, name := range []string{"body_posture", "position_during_measurement"} {
		posture, err := b.str(name)
		if err != nil {
			return err
		}
		if posture != "" {
			addNote(obs, "Body position with respect to gravity: "+posture)
		}
	}
	return b.qualifiers(obs, vitalSigns, "temporal_relationship_to_physical_activity")
}

// glucoseCodes are the LOINC codes of blood glucose by specimen: mass
// concentration (mg/dL) first, substance concentration (mmol/L) second.
// Capillary blood is what a home meter measures, so it gets the
// "by Glucometer" codes; plasma and serum the serum-or-plasma codes; whole
// blood, an unnamed specimen and interstitial fluid (a CGM, whose values
// are calibrated to blood glucose and which LOINC codes only in newer
// releases) the generic "in Blood" codes. The specimen stays visible as a
// component.
var glucoseCodes = map[string]codes{
	"capillary blood":    capillaryGlucose,
	"plasma":             plasmaGlucose,
	"serum":              plasmaGlucose,
	"whole blood":        bloodGlucoseCodes,
	"":                   bloodGlucoseCodes,
	"interstitial fluid": bloodGlucoseCodes,
}

var (
	capillaryGlucose = codes{
		{"41653-7", "Glucose [Mass/volume] in Capillary blood by Glucometer"},
		{"14743-9", "Glucose [Moles/volume] in Capillary blood by Glucometer"},
	}
	plasmaGlucose = codes{
		{"2345-7", "Glucose [Mass/volume] in Serum or Plasma"},
		{"14749-6", "Glucose [Moles/volume] in Serum or Plasma"},
	}
	bloodGlucoseCodes = codes{
		{"2339-0", "Glucose [Mass/volume] in Blood"},
		{"15074-8", "Glucose [Moles/volume] in Blood"},
	}
)

// bloodGlucose picks the LOINC code by specimen and unit (see
// glucoseCodes); the relationship to meals and sleep become components,
// since LOINC's fasting and post-meal codes exist only for some specimens
// and would split one measurement series over several codes.
func bloodGlucose(b body, obs map[string]any, _, _ time.Time) error {
	q, err := b.quantity("blood_glucose", glucose)
	if err != nil {
		return err
	}
	specimenPath := "specimen_source"
	specimen, err := b.str(specimenPath)
	if err == nil && specimen == "" {
		specimenPath = "blood_specimen_type" // omh blood-glucose 1.x
		specimen, err = b.str(specimenPath)
	}
	if err != nil {
		return err
	}
	cs, ok := glucoseCodes[specimen]
	if !ok {
		return fmt.Errorf("body.%s: %q is not a blood specimen", specimenPath, specimen)
	}
	c := cs[0]
	if q["code"] == "mmol/L" {
		c = cs[1]
	}
	obs["category"] = category(laboratory)
	obs["code"] = codes{c}.concept()
	obs["valueQuantity"] = q
	return b.qualifiers(obs, laboratory, specimenPath, "temporal_relationship_to_meal", "temporal_relationship_to_sleep")
}

// stepCount maps steps over the interval: LOINC 41950-7 when the interval
// is exactly 24 hours, else 55423-8. omh step-count 1.x and 2.x give a
// bare number, 3.x a unit-value in steps.
func stepCount(b body, obs map[string]any, start, end time.Time) error {
	var n float64
	var q map[string]any
	var err error
	if json.Unmarshal(b["step_count"], &n) == nil && b.has("step_count") {
		q, err = steps.convert("body.step_count", n, "steps")
	} else {
		q, err = b.quantity("step_count", steps)
	}
	if err != nil {
		return err
	}
	cs := codes{{"55423-8", "Number of steps"}}
	if end.Sub(start) == 24*time.Hour {
		cs = codes{{"41950-7", "Number of steps in 24 hour Measured"}}
	}
	obs["category"] = category(activity)
	obs["code"] = cs.concept()
	obs["valueQuantity"] = q
	return nil
}

// physicalActivity maps to LOINC 55411-3 "Exercise duration" with the
// interval's length in minutes as value (none for an instant), the
// activity name as component 73985-4 "Exercise activity" and the burned
// energy as 41981-2 "Calories burned". Distance, intensity and MET value
// have no LOINC code fit for an activity session; they are text-coded
// components.
func physicalActivity(b body, obs map[string]any, start, end time.Time) error {
	name, err := b.str("activity_name")
	if err != nil {
		return err
	}
	if name == "" {
		return fmt.Errorf("body.activity_name: missing")
	}
	obs["category"] = category(activity)
	obs["code"] = codes{{"55411-3", "Exercise duration"}}.concept()
	if d := end.Sub(start); d > 0 {
		obs["valueQuantity"] = map[string]any{"value": math.Round(d.Minutes()*100) / 100, "unit": "min", "system": ucum, "code": "min"}
	}
	obs["component"] = []any{map[string]any{"code": codes{{"73985-4", "Exercise activity"}}.concept(), "valueString": name}}
	if b.has("distance") {
		q, err := b.quantity("distance", distance)
		if err != nil {
			return err
		}
		addComponent(obs, map[string]any{"code": map[string]any{"text": "distance"}, "valueQuantity": q})
	}
	if b.has("kcal_burned") {
		q, err := b.quantity("kcal_burned", kcal)
		if err != nil {
			return err
		}
		addComponent(obs, map[string]any{"code": codes{{"41981-2", "Calories burned"}}.concept(), "valueQuantity": q})
	}
	if b.has("met_value") {
		var met float64
		if json.Unmarshal(b["met_value"], &met) != nil {
			return fmt.Errorf("body.met_value: not a number")
		}
		addComponent(obs, map[string]any{"code": map[string]any{"text": "MET value"}, "valueQuantity": map[string]any{"value": met, "unit": "MET", "system": ucum, "code": "{MET}"}})
	}
	return b.qualifiers(obs, activity, "reported_activity_intensity")
}
