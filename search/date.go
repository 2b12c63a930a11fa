// Package search parses FHIR search requests into typed queries, without
// touching a store.
package search

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// DateRange is the implicit range of a FHIR date, dateTime or instant
// value: [Start, End). A value without a time zone is read in UTC.
type DateRange struct {
	Start, End time.Time
}

var datePattern = regexp.MustCompile(`^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$`)

// ParseDateRange parses a FHIR date/dateTime/instant and returns the range
// its precision implies: "2026" is all of 2026, "2026-03-04T10:00" that
// minute, "2026-03-04T10:00:00.5Z" that instant (up to microseconds).
func ParseDateRange(s string) (DateRange, error) {
	m := datePattern.FindStringSubmatch(s)
	if m == nil {
		return DateRange{}, fmt.Errorf("%q is not a FHIR date, dateTime or instant", s)
	}
	num := func(i, def int) int {
		if m[i] == "" {
			return def
		}
		n, _ := strconv.Atoi(m[i])
		return n
	}
	year, month, day := num(1, 0), num(2, 1), num(3, 1)
	hour, minute, sec := num(4, 0), num(5, 0), num(6, 0)
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || sec > 59 {
		return DateRange{}, fmt.Errorf("%q is not a valid date", s)
	}
	loc := time.UTC
	if z := m[8]; z != "" && z != "Z" {
		h, _ := strconv.Atoi(z[1:3])
		mm, _ := strconv.Atoi(z[4:6])
		off := h*3600 + mm*60
		if z[0] == '-' {
			off = -off
		}
		loc = time.FixedZone(z, off)
	}
	var nanos int
	if frac := m[7]; frac != "" {
		digits := (frac[1:] + "000000000")[:9]
		nanos, _ = strconv.Atoi(digits)
	}
	start := time.Date(year, time.Month(month), day, hour, minute, sec, nanos, loc)
	var end time.Time
	switch {
	case m[2] == "":
		end = start.AddDate(1, 0, 0)
	case m[3] == "":
		end = start.AddDate(0, 1, 0)
	case m[4] == "":
		end = start.AddDate(0, 0, 1)
	case m[6] == "":
		end = start.Add(time.Minute)
	case m[7] == "":
		end = start.Add(time.Second)
	default:
		// Fractional seconds: the range is one unit of the last digit given,
		// but never less than the microsecond the stores keep.
		unit := time.Duration(1)
		for i := len(m[7]) - 1; i < 9; i++ {
			unit *= 10
		}
		if unit < time.Microsecond {
			unit = time.Microsecond
		}
		end = start.Add(unit)
	}
	return DateRange{Start: start.UTC(), End: end.UTC()}, nil
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
