package storage

import "strconv"

// UCUMSystem is the code system of UCUM units.
const UCUMSystem = "http://unitsofmeasure.org"

// ucumUnit converts a UCUM unit to the canonical unit of its dimension:
// canonical = value × factor + offset.
type ucumUnit struct {
	canonical      string
	factor, offset float64
}

// ucumUnits is a deliberately small table of the units clinical data uses
// most, so that quantity searches match across them (a weight in [lb_av]
// against a search in kg): mass in g, volume in L, length in m, time in s,
// temperature in Cel, pressure in mm[Hg], rates per minute. Units not in
// the table have no canonical value and compare in their own unit only.
var ucumUnits = map[string]ucumUnit{
	// mass
	"ug": {"g", 1e-6, 0}, "mg": {"g", 1e-3, 0}, "g": {"g", 1, 0}, "kg": {"g", 1e3, 0},
	"[lb_av]": {"g", 453.59237, 0}, "[oz_av]": {"g", 28.349523125, 0},
	// volume
	"uL": {"L", 1e-6, 0}, "mL": {"L", 1e-3, 0}, "dL": {"L", 0.1, 0}, "L": {"L", 1, 0}, "l": {"L", 1, 0},
	// length
	"mm": {"m", 1e-3, 0}, "cm": {"m", 1e-2, 0}, "m": {"m", 1, 0}, "km": {"m", 1e3, 0},
	"[in_i]": {"m", 0.0254, 0}, "[ft_i]": {"m", 0.3048, 0},
	// time (a and mo are the Julian year and month, as UCUM defines them)
	"s": {"s", 1, 0}, "min": {"s", 60, 0}, "h": {"s", 3600, 0}, "d": {"s", 86400, 0},
	"wk": {"s", 604800, 0}, "mo": {"s", 2629800, 0}, "a": {"s", 31557600, 0},
	// temperature
	"Cel": {"Cel", 1, 0}, "K": {"Cel", 1, -273.15}, "[degF]": {"Cel", 5.0 / 9, -32 * 5.0 / 9},
	// pressure
	"mm[Hg]": {"mm[Hg]", 1, 0}, "kPa": {"mm[Hg]", 7.500615758456563, 0},
	// rates and ratios
	"/min": {"/min", 1, 0}, "{beats}/min": {"/min", 1, 0}, "{breaths}/min": {"/min", 1, 0},
	"%":     {"%", 1, 0},
	"kg/m2": {"kg/m2", 1, 0},
}

// CanonicalUCUM converts value in the UCUM unit code to its canonical
// unit, rounded to 12 significant digits so that the conversion's binary
// noise (185 [lb_av] is 83914.58845000001 g) does not keep equal values
// apart; ok is false for a unit not in ucumUnits. The stores convert
// search values with it, so that they compare with the stored
// IndexEntry.CanonicalNumber/CanonicalCode.
func CanonicalUCUM(value float64, code string) (canonical float64, canonicalCode string, ok bool) {
	u, ok := ucumUnits[code]
	if !ok {
		return 0, "", false
	}
	v := value*u.factor + u.offset
	if u.factor != 1 || u.offset != 0 {
		v, _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', 12, 64), 64)
	}
	return v, u.canonical, true
}
