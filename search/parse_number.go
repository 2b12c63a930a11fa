package search

import (
	"math"
	"math/big"
	"regexp"
	"strconv"
)

var prefixes = map[string]Prefix{
	"eq": Eq, "ne": Ne, "gt": Gt, "lt": Lt, "ge": Ge, "le": Le, "sa": Sa, "eb": Eb, "ap": Ap,
}

// cutPrefix splits the comparison prefix off a number, date or quantity
// value; Eq when there is none. The values themselves start with a digit
// or a sign, so two leading letters are a prefix or a mistake.
func cutPrefix(s string) (Prefix, string, error) {
	if len(s) >= 2 && isLetter(s[0]) && isLetter(s[1]) {
		p, ok := prefixes[s[:2]]
		if !ok {
			return "", "", valuef("%q is not a prefix (eq, ne, gt, lt, ge, le, sa, eb, ap)", s[:2])
		}
		return p, s[2:], nil
	}
	return Eq, s, nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// numberPattern is a FHIR decimal (leading zeros and "+" tolerated):
// sign, integer digits, fraction digits, exponent.
var numberPattern = regexp.MustCompile(`^[+-]?\d+(?:\.(\d+))?(?:[eE]([+-]?\d+))?$`)

// parseNumber parses a decimal and the range its precision implies:
// half a unit of the last digit written on either side, so "100" is
// [99.5, 100.5), "100.00" [99.995, 100.005), "1.0e2" [95, 105) and "1e2",
// one significant figure, [50, 150).
func parseNumber(s string) (n, low, high float64, err error) {
	m := numberPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, 0, valuef("%q is not a number", s)
	}
	exp := 0
	if m[2] != "" {
		exp, err = strconv.Atoi(m[2])
		if err != nil || exp > 400 || exp < -400 {
			return 0, 0, 0, valuef("%q is out of range", s)
		}
	}
	unit := exp - len(m[1]) // the last digit written is worth 10^unit
	if unit < -1000 {
		return 0, 0, 0, valuef("%q has too many digits", s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, 0, 0, valuef("%q is not a number", s)
	}
	half := new(big.Rat).SetFrac(big.NewInt(5), big.NewInt(10)) // 0.5 × 10^unit
	pow := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(unit))), nil)
	if unit >= 0 {
		half.Mul(half, new(big.Rat).SetInt(pow))
	} else {
		half.Quo(half, new(big.Rat).SetInt(pow))
	}
	n, _ = r.Float64()
	low, _ = new(big.Rat).Sub(r, half).Float64()
	high, _ = new(big.Rat).Add(r, half).Float64()
	if math.IsInf(low, 0) || math.IsInf(high, 0) {
		return 0, 0, 0, valuef("%q is out of range", s)
	}
	return n, low, high, nil
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

// parseNumberValue parses a number parameter's value: [prefix]decimal.
func parseNumberValue(item string) (Value, error) {
	prefix, s, err := cutPrefix(unescape(item))
	if err != nil {
		return Value{}, err
	}
	n, low, high, err := parseNumber(s)
	if err != nil {
		return Value{}, err
	}
	return Value{Prefix: prefix, String: s, Number: n, Low: low, High: high}, nil
}
