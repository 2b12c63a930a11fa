package medtech

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// timeLayouts are the timestamp forms accepted, after RFC 3339: those
// .NET's DateTime parsing gives iomt-fhir for ISO 8601 text. A time
// without offset is UTC. Fractional seconds of any length are accepted.
var timeLayouts = []string{
	time.RFC3339,
	"2006-01-02T15:04:05",
	"2006-01-02T15:04:05Z0700",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02",
}

// shortOffset matches the hour-only offsets .NET writes ("+0", "-5").
var shortOffset = regexp.MustCompile(`([+-])(\d{1,2})$`)

// parseTimestamp reads a measurement time.
func parseTimestamp(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		hint := ""
		if _, isNumber := v.(float64); isNumber {
			hint = " (for Unix time use a JmesPath expression with fromUnixTimestamp or fromUnixTimestampMs)"
		}
		return time.Time{}, fmt.Errorf("found %s, expected an ISO 8601 date-time string%s", describe(v), hint)
	}
	s = strings.TrimSpace(s)
	if len(s) > 10 {
		if m := shortOffset.FindStringSubmatchIndex(s); m != nil && strings.IndexByte(s[m[0]-3:m[0]], ':') >= 0 {
			h, _ := strconv.Atoi(s[m[4]:m[5]])
			s = fmt.Sprintf("%s%s%02d:00", s[:m[0]], s[m[2]:m[3]], h)
		}
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO 8601 date-time", s)
}

// scalarText is a JSON scalar as the text iomt-fhir extracts (null is "");
// ok is false for objects and arrays.
func scalarText(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", true
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}
