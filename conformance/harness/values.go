package harness

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/storage"
)

// Values are search values for one parameter derived from a resource's
// index entries: Match selects the resource, NoMatch cannot select it.
// Either is "" when it cannot be derived (Match: the resource has no value
// for the parameter; NoMatch: no value is provably outside the resource's).
type Values struct {
	Match, NoMatch string
}

// noMatch is a code, string or id no fixture uses.
const noMatch = "x-harness-nomatch"

// dateMargin widens derived date bounds so that servers that read dates
// without a time zone in their local zone agree with the UTC index.
const dateMargin = 48 * time.Hour

// DeriveValues returns search values of a parameter of type typ (number,
// date, string, token, reference, composite, quantity, uri) from entries,
// the index entries of one resource for that parameter as
// storage.Extractor computes them. Values are in FHIR search syntax, with
// the reserved characters of a value escaped.
func DeriveValues(typ string, entries []storage.IndexEntry) Values {
	if len(entries) == 0 {
		return Values{}
	}
	switch typ {
	case conformance.ParamDate:
		return dateValues(entries)
	case conformance.ParamNumber, conformance.ParamQuantity:
		return numberValues(typ, entries)
	case conformance.ParamComposite:
		return compositeValues(entries)
	}
	var v Values
	for _, e := range entries {
		if m := single(typ, e); m != "" {
			v.Match = m
			break
		}
	}
	switch typ {
	case conformance.ParamToken:
		v.NoMatch = tokenNoMatch(entries)
	case conformance.ParamString:
		v.NoMatch = noMatch + "-zq"
		for _, e := range entries {
			if strings.HasPrefix(e.Norm, noMatch) {
				v.NoMatch = ""
			}
		}
	case conformance.ParamURI:
		v.NoMatch = "urn:" + noMatch
	case conformance.ParamReference:
		for _, e := range entries {
			switch {
			case e.RefType != "":
				v.NoMatch = e.RefType + "/" + noMatch
			case e.URL != "" && v.NoMatch == "":
				v.NoMatch = "http://example.org/" + noMatch
			}
		}
	}
	return v
}

// Searchable drops the entries of a parameter whose values a search
// cannot state unambiguously: references to contained resources ("#id"),
// relative canonicals (which read as Type/id in a search) and references
// to types outside targets, the parameter's target types (nil: any).
func Searchable(typ string, entries []storage.IndexEntry, targets []string) []storage.IndexEntry {
	if typ != conformance.ParamReference {
		return entries
	}
	var out []storage.IndexEntry
	for _, e := range entries {
		switch {
		case e.RefType != "" && (targets == nil || slices.Contains(targets, e.RefType)):
		case e.RefType == "" && strings.Contains(e.URL, "://"):
		default:
			continue
		}
		out = append(out, e)
	}
	return out
}

// Placeholder returns a value of a parameter of type typ that selects no
// resource lacking a value for the parameter; targets are a reference
// parameter's target types. It returns "" for special parameters and for
// composites without components.
func Placeholder(typ string, targets []string, components []string) string {
	switch typ {
	case conformance.ParamToken:
		return "urn:" + noMatch + "|" + noMatch
	case conformance.ParamString:
		return noMatch
	case conformance.ParamURI:
		return "urn:" + noMatch
	case conformance.ParamReference:
		if len(targets) > 0 {
			return targets[0] + "/" + noMatch
		}
		return noMatch
	case conformance.ParamDate:
		return "1001-01-01"
	case conformance.ParamNumber, conformance.ParamQuantity:
		return "-987654321"
	case conformance.ParamComposite:
		if len(components) == 0 {
			return ""
		}
		parts := make([]string, len(components))
		for i, c := range components {
			if parts[i] = Placeholder(c, nil, nil); parts[i] == "" {
				return ""
			}
		}
		return strings.Join(parts, "$")
	}
	return ""
}

// single is the value of e alone that selects it, "" when there is none.
func single(typ string, e storage.IndexEntry) string {
	switch typ {
	case conformance.ParamToken:
		if e.Code == "" {
			return ""
		}
		if e.System == "" {
			return escape(e.Code)
		}
		return escape(e.System) + "|" + escape(e.Code)
	case conformance.ParamString:
		s := strings.TrimSpace(e.Exact)
		if r := []rune(s); len(r) > 60 {
			s = strings.TrimSpace(string(r[:60])) // a prefix matches too
		}
		return escape(s)
	case conformance.ParamURI:
		return escape(e.Exact)
	case conformance.ParamReference:
		if e.RefType != "" && e.RefID != "" {
			return escape(e.RefType + "/" + e.RefID)
		}
		return escape(e.URL)
	case conformance.ParamDate:
		return dateValues([]storage.IndexEntry{e}).Match
	case conformance.ParamNumber, conformance.ParamQuantity:
		return numberValues(typ, []storage.IndexEntry{e}).Match
	}
	return ""
}

// tokenNoMatch is a code in the system of the first coded entry that none
// of the entries has; for booleans the value the resource lacks.
func tokenNoMatch(entries []storage.IndexEntry) string {
	seen := map[string]bool{}
	system, coded := "", false
	for _, e := range entries {
		if e.Code != "" {
			seen[e.Code] = true
			if !coded {
				system, coded = e.System, true
			}
		}
	}
	if coded && system == "" && len(seen) <= 2 && (seen["true"] || seen["false"]) {
		switch {
		case len(seen) == 2:
			return ""
		case seen["true"]:
			return "false"
		case seen["false"]:
			return "true"
		}
	}
	if system == "" {
		return noMatch
	}
	return escape(system) + "|" + noMatch
}

// dateValues selects the resource with a bound below or above its ranges
// and excludes it with a bound beyond all of them; open ranges have no
// bound on that side.
func dateValues(entries []storage.IndexEntry) Values {
	var v Values
	allEnd, allStart := len(entries) > 0, len(entries) > 0
	var maxEnd, minStart int64 = storage.MinTime, storage.MaxTime
	for _, e := range entries {
		if v.Match == "" {
			if e.Start != storage.MinTime {
				v.Match = dateBound("ge", e.Start, -dateMargin)
			} else if e.End != storage.MaxTime {
				v.Match = dateBound("le", e.End, dateMargin)
			}
		}
		allEnd = allEnd && e.End != storage.MaxTime
		allStart = allStart && e.Start != storage.MinTime
		maxEnd, minStart = max(maxEnd, e.End), min(minStart, e.Start)
	}
	switch {
	case allEnd:
		v.NoMatch = dateBound("ge", maxEnd, dateMargin)
	case allStart:
		v.NoMatch = dateBound("le", minStart, -dateMargin)
	}
	return v
}

// dateBound formats prefix and the instant micros+shift (microseconds
// since the epoch) to the second, "" outside the years 1 to 9999.
func dateBound(prefix string, micros int64, shift time.Duration) string {
	t := time.UnixMicro(micros).UTC().Add(shift).Truncate(time.Second)
	if t.Year() < 1 || t.Year() > 9999 {
		return ""
	}
	return prefix + t.Format("2006-01-02T15:04:05Z")
}

// numberValues matches a value as written (its precision contains it)
// and excludes with a whole number far above every value; quantities
// carry the unit's system and code.
func numberValues(typ string, entries []storage.IndexEntry) Values {
	var v Values
	hi := math.Inf(-1)
	for _, e := range entries {
		if v.Match == "" {
			v.Match = formatNumber(e.Number) + unit(typ, e)
		}
		hi = max(hi, e.Number, e.High)
	}
	if len(entries) > 0 && !math.IsInf(hi, 0) && !math.IsNaN(hi) {
		v.NoMatch = formatNumber(math.Floor(hi)+1000) + unit(typ, entries[0])
	}
	return v
}

func unit(typ string, e storage.IndexEntry) string {
	if typ != conformance.ParamQuantity || (e.System == "" && e.Code == "") {
		return ""
	}
	return "|" + escape(e.System) + "|" + escape(e.Code)
}

func formatNumber(f float64) string {
	if math.Abs(f) >= 1e15 {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// compositeValues joins the components' own values with "$"; it excludes
// with the first component changed to a value that cannot match.
func compositeValues(entries []storage.IndexEntry) Values {
	for _, e := range entries {
		if len(e.Components) == 0 {
			continue
		}
		parts := make([]string, len(e.Components))
		ok := true
		for i, c := range e.Components {
			parts[i] = single(c.Type, c)
			ok = ok && parts[i] != ""
		}
		if !ok {
			continue
		}
		v := Values{Match: strings.Join(parts, "$")}
		var first []storage.IndexEntry
		for _, other := range entries {
			if len(other.Components) > 0 {
				first = append(first, other.Components[0])
			}
		}
		if no := DeriveValues(e.Components[0].Type, first).NoMatch; no != "" && e.Components[0].Type != conformance.ParamDate {
			parts[0] = no
			v.NoMatch = strings.Join(parts, "$")
		}
		return v
	}
	return Values{}
}

// escape escapes FHIR search's reserved characters in a value.
func escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `,`, `\,`, `$`, `\$`, `|`, `\|`).Replace(s)
}
