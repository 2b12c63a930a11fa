package phd

const (
	mdcSystem      = "urn:iso:std:iso:11073:10101"
	loincSystem    = "http://loinc.org"
	categorySystem = "http://terminology.hl7.org/CodeSystem/observation-category"
)

// term is what the mapping knows of an MDC code: whether it is a vital
// sign (of the R4 vital-signs profiles) and the LOINC codings it adds.
type term struct {
	name  string // MDC reference id, for readers of the table
	vital bool
	loinc [][2]string // code, display; the first is the one EHRs search by
}

// terms maps an MDC code to its LOINC codings. A glucose concentration
// has two entries, "<mdc> mg/dL" and "<mdc> mmol/L": LOINC codes mass and
// substance concentration apart, so the unit (valueQuantity.code) picks
// the code; Map looks up "<code> <unit>" first, then "<code>".
//
// Heart rate: the pulse rates of an oximeter or a cuff are coded 8867-4
// as the PHD IG does, the vital-signs heart rate EHRs chart. Temperatures
// at a site get 8310-5, which the bodytemp profile requires, and the
// site's LOINC code. Glucose: capillary whole blood is a home meter's
// "by Glucometer" code; plasma-calibrated and venous plasma values the
// serum-or-plasma code; the generic and venous whole blood values the
// "in Blood" code.
var terms = map[string]term{
	"150020": {"MDC_PRESS_BLD_NONINV", true, [][2]string{{"85354-9", "Blood pressure panel with all children optional"}}},
	"150021": {"MDC_PRESS_BLD_NONINV_SYS", true, [][2]string{{"8480-6", "Systolic blood pressure"}}},
	"150022": {"MDC_PRESS_BLD_NONINV_DIA", true, [][2]string{{"8462-4", "Diastolic blood pressure"}}},
	"150023": {"MDC_PRESS_BLD_NONINV_MEAN", true, [][2]string{{"8478-0", "Mean blood pressure"}}},

	"149530": {"MDC_PULS_OXIM_PULS_RATE", true, heartRate},
	"149546": {"MDC_PULS_RATE_NON_INV", true, heartRate},
	"149514": {"MDC_PULS_RATE", true, heartRate},
	"147842": {"MDC_ECG_HEART_RATE", true, heartRate},

	"150456": {"MDC_PULS_OXIM_SAT_O2", true, [][2]string{
		{"2708-6", "Oxygen saturation in Arterial blood"},
		{"59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"},
	}},
	"150324": {"MDC_SAT_O2_ART", true, [][2]string{{"2708-6", "Oxygen saturation in Arterial blood"}}},

	"150364": {"MDC_TEMP_BODY", true, bodyTemperature},
	"150392": {"MDC_TEMP_TYMP", true, append(bodyTemperature, [2]string{"8333-7", "Tympanic membrane temperature"})},
	"188420": {"MDC_TEMP_RECT", true, append(bodyTemperature, [2]string{"8332-9", "Rectal temperature"})},
	"188424": {"MDC_TEMP_ORAL", true, append(bodyTemperature, [2]string{"8331-1", "Oral temperature"})},
	"188452": {"MDC_TEMP_AXILLA", true, append(bodyTemperature, [2]string{"8328-7", "Axillary temperature"})},

	"151562": {"MDC_RESP_RATE", true, [][2]string{{"9279-1", "Respiratory rate"}}},
	"188736": {"MDC_MASS_BODY_ACTUAL", true, [][2]string{{"29463-7", "Body weight"}}},
	"188740": {"MDC_LEN_BODY_ACTUAL", true, [][2]string{{"8302-2", "Body height"}}},
	"188752": {"MDC_RATIO_MASS_BODY_LEN_SQ", true, [][2]string{{"39156-5", "Body mass index (BMI) [Ratio]"}}},

	"160184 mg/dL":  {"MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD", false, [][2]string{{"41653-7", "Glucose [Mass/volume] in Capillary blood by Glucometer"}}},
	"160184 mmol/L": {"MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD", false, [][2]string{{"14743-9", "Glucose [Moles/volume] in Capillary blood by Glucometer"}}},
	"160188 mg/dL":  {"MDC_CONC_GLU_CAPILLARY_PLASMA", false, plasmaGlucoseMass},
	"160188 mmol/L": {"MDC_CONC_GLU_CAPILLARY_PLASMA", false, plasmaGlucoseMoles},
	"160196 mg/dL":  {"MDC_CONC_GLU_VENOUS_PLASMA", false, plasmaGlucoseMass},
	"160196 mmol/L": {"MDC_CONC_GLU_VENOUS_PLASMA", false, plasmaGlucoseMoles},
	"160368 mg/dL":  {"MDC_CONC_GLU_UNDETERMINED_PLASMA", false, plasmaGlucoseMass},
	"160368 mmol/L": {"MDC_CONC_GLU_UNDETERMINED_PLASMA", false, plasmaGlucoseMoles},
	"160192 mg/dL":  {"MDC_CONC_GLU_VENOUS_WHOLEBLOOD", false, bloodGlucoseMass},
	"160192 mmol/L": {"MDC_CONC_GLU_VENOUS_WHOLEBLOOD", false, bloodGlucoseMoles},
	"160020 mg/dL":  {"MDC_CONC_GLU_GEN", false, bloodGlucoseMass},
	"160020 mmol/L": {"MDC_CONC_GLU_GEN", false, bloodGlucoseMoles},
}

var (
	heartRate          = [][2]string{{"8867-4", "Heart rate"}}
	bodyTemperature    = [][2]string{{"8310-5", "Body temperature"}}
	plasmaGlucoseMass  = [][2]string{{"2345-7", "Glucose [Mass/volume] in Serum or Plasma"}}
	plasmaGlucoseMoles = [][2]string{{"14749-6", "Glucose [Moles/volume] in Serum or Plasma"}}
	bloodGlucoseMass   = [][2]string{{"2339-0", "Glucose [Mass/volume] in Blood"}}
	bloodGlucoseMoles  = [][2]string{{"15074-8", "Glucose [Moles/volume] in Blood"}}
)

// lookup returns the term of an MDC code measured in the UCUM unit.
func lookup(code, unit string) (term, bool) {
	if t, ok := terms[code+" "+unit]; ok {
		return t, true
	}
	t, ok := terms[code]
	return t, ok
}

// addLOINC appends to the CodeableConcept cc the LOINC codings of its MDC
// codings that it lacks, and reports whether one of them is a vital sign.
// unit is the UCUM code of the value the concept codes.
func addLOINC(cc map[string]any, unit string) (vital bool) {
	codings, _ := cc["coding"].([]any)
	for _, c := range codings {
		c, _ := c.(map[string]any)
		if c == nil || c["system"] != mdcSystem {
			continue
		}
		code, _ := c["code"].(string)
		t, ok := lookup(code, unit)
		if !ok {
			continue
		}
		vital = vital || t.vital
		for _, l := range t.loinc {
			if !hasCoding(codings, loincSystem, l[0]) {
				codings = append(codings, map[string]any{"system": loincSystem, "code": l[0], "display": l[1]})
			}
		}
	}
	if len(codings) > 0 {
		cc["coding"] = codings
	}
	return vital
}

func hasCoding(codings []any, system, code string) bool {
	for _, c := range codings {
		if c, _ := c.(map[string]any); c != nil && c["system"] == system && c["code"] == code {
			return true
		}
	}
	return false
}

// hasVitalSignsCategory reports whether obs has category vital-signs.
func hasVitalSignsCategory(obs map[string]any) bool {
	cats, _ := obs["category"].([]any)
	for _, cat := range cats {
		if cat, _ := cat.(map[string]any); cat != nil {
			if codings, _ := cat["coding"].([]any); hasCoding(codings, categorySystem, "vital-signs") {
				return true
			}
		}
	}
	return false
}

// addVitalSignsCategory adds category vital-signs unless obs has it.
func addVitalSignsCategory(obs map[string]any) {
	if hasVitalSignsCategory(obs) {
		return
	}
	cats, _ := obs["category"].([]any)
	obs["category"] = append(cats, map[string]any{"coding": []any{
		map[string]any{"system": categorySystem, "code": "vital-signs", "display": "Vital Signs"},
	}})
}
