package omh

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// ucum is the system of every Quantity the mapping writes.
const ucum = "http://unitsofmeasure.org"

// conv turns a value in one omh unit into a UCUM Quantity:
// value*factor + offset, in code (display unit in unit).
type conv struct {
	code, unit     string
	factor, offset float64
	// digits is the number of decimals a converted value is rounded to:
	// the precision of the input, not of the float arithmetic.
	digits int
}

// units are the omh units a property accepts, by omh (or UCUM) spelling.
type units map[string]conv

// to returns the units that all convert to the one UCUM code: from maps
// each accepted spelling to {factor, offset}.
func to(code, unit string, digits int, from map[string][2]float64) units {
	us := make(units, len(from))
	for name, f := range from {
		us[name] = conv{code: code, unit: unit, factor: f[0], offset: f[1], digits: digits}
	}
	return us
}

// same returns units kept as they are, each with its UCUM code.
func same(codes map[string]string) units {
	us := make(units, len(codes))
	for name, code := range codes {
		us[name] = conv{code: code, unit: name, factor: 1}
	}
	return us
}

// convert returns the Quantity of v in unit; path names the unit in
// errors.
func (us units) convert(path string, v float64, unit string) (map[string]any, error) {
	c, ok := us[unit]
	if !ok {
		names := make([]string, 0, len(us))
		for n := range us {
			names = append(names, n)
		}
		slices.Sort(names)
		return nil, fmt.Errorf("%s: %q is not convertible (known: %s)", path, unit, strings.Join(names, ", "))
	}
	if c.factor != 1 || c.offset != 0 {
		p := math.Pow10(c.digits)
		v = math.Round((v*c.factor+c.offset)*p) / p
	}
	return map[string]any{"value": v, "unit": c.unit, "system": ucum, "code": c.code}, nil
}

var (
	identity = [2]float64{1, 0}

	// heartRate and respiratoryRate are in the vital-signs profiles' /min.
	heartRate = to("/min", "beats/minute", 0, map[string][2]float64{
		"beats/min": identity, "beats/minute": identity, "bpm": identity, "/min": identity, "{beats}/min": identity,
	})
	respiratoryRate = to("/min", "breaths/minute", 0, map[string][2]float64{
		"breaths/min": identity, "breaths/minute": identity, "/min": identity, "{breaths}/min": identity,
	})
	// bloodPressure is in mm[Hg], the bp profile's fixed unit.
	bloodPressure = to("mm[Hg]", "mmHg", 0, map[string][2]float64{
		"mmHg": identity, "mm[Hg]": identity, "kPa": {7.50061683, 0},
	})
	percent = to("%", "%", 0, map[string][2]float64{"%": identity})
	// temperature is in Cel; omh spells Celsius "C", Fahrenheit "F".
	temperature = to("Cel", "°C", 2, map[string][2]float64{
		"C": identity, "Cel": identity, "°C": identity,
		"F": {5.0 / 9, -160.0 / 9}, "[degF]": {5.0 / 9, -160.0 / 9}, "°F": {5.0 / 9, -160.0 / 9},
		"K": {1, -273.15},
	})
	bodyWeight = to("kg", "kg", 3, map[string][2]float64{
		"kg": identity, "g": {1e-3, 0},
		"lb": {0.45359237, 0}, "[lb_av]": {0.45359237, 0},
		"oz": {0.028349523125, 0}, "[oz_av]": {0.028349523125, 0},
	})
	bodyHeight = to("cm", "cm", 1, map[string][2]float64{
		"cm": identity, "m": {100, 0}, "mm": {0.1, 0},
		"in": {2.54, 0}, "[in_i]": {2.54, 0}, "ft": {30.48, 0}, "[ft_i]": {30.48, 0},
	})
	bodyMassIndex = to("kg/m2", "kg/m2", 1, map[string][2]float64{"kg/m2": identity, "kg/m^2": identity})
	steps         = to("{steps}", "steps", 0, map[string][2]float64{"steps": identity, "{steps}": identity})
	oxygenFlow    = to("L/min", "L/min", 1, map[string][2]float64{"L/min": identity})
	kcal          = to("kcal", "kcal", 0, map[string][2]float64{"kcal": identity})

	// glucose units are kept: the unit's property (mass or substance
	// concentration) selects the LOINC code.
	glucose = same(map[string]string{"mg/dL": "mg/dL", "mg/dl": "mg/dL", "mmol/L": "mmol/L", "mmol/l": "mmol/L"})
	// sleep is kept in the unit sent (omh allows sec, min, h).
	sleep = same(map[string]string{"sec": "s", "s": "s", "min": "min", "h": "h"})
	// distance is kept in the unit sent.
	distance = same(map[string]string{
		"mm": "mm", "cm": "cm", "m": "m", "km": "km",
		"in": "[in_i]", "ft": "[ft_i]", "yd": "[yd_i]", "mi": "[mi_i]",
	})
)
