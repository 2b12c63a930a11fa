package search

import (
	"fmt"
	"strings"
	"time"
)

// parseDateValue parses a date parameter's value: [prefix]date, dateTime
// or instant, read as the range its precision implies (ParseDateRange).
func parseDateValue(item string) (Value, error) {
	prefix, s, err := cutPrefix(unescape(item))
	if err != nil {
		return Value{}, err
	}
	r, err := ParseDateRange(s)
	if err != nil {
		return Value{}, valuef("%s", err)
	}
	return Value{Prefix: prefix, Date: r}, nil
}

// formatDate renders r as the date whose precision implies it, in UTC:
// a year, month or day when r is one, else a dateTime with as many
// fraction digits as its length and its start need. ParseDateRange of the
// result is r for every r that ParseDateRange returns.
func formatDate(r DateRange) string {
	s, e := r.Start.UTC(), r.End.UTC()
	midnight := s.Hour() == 0 && s.Minute() == 0 && s.Second() == 0 && s.Nanosecond() == 0
	switch d := e.Sub(s); {
	case midnight && s.YearDay() == 1 && e.Equal(s.AddDate(1, 0, 0)):
		return s.Format("2006")
	case midnight && s.Day() == 1 && e.Equal(s.AddDate(0, 1, 0)):
		return s.Format("2006-01")
	case midnight && e.Equal(s.AddDate(0, 0, 1)):
		return s.Format("2006-01-02")
	case d == time.Minute && s.Second() == 0 && s.Nanosecond() == 0:
		return s.Format("2006-01-02T15:04Z")
	case d == time.Second && s.Nanosecond() == 0:
		return s.Format("2006-01-02T15:04:05Z")
	default:
		// One fraction digit per power of ten below a second in d, and
		// enough for the start's own digits.
		digits := 9
		for unit := time.Duration(1); unit < d && digits > 1 && unit*10 <= d; unit *= 10 {
			digits--
		}
		frac := strings.TrimRight(fmt.Sprintf("%09d", s.Nanosecond()), "0")
		digits = max(digits, len(frac))
		return s.Format("2006-01-02T15:04:05") + "." + fmt.Sprintf("%09d", s.Nanosecond())[:digits] + "Z"
	}
}
