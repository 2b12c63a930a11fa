package search

import "strings"

// FHIR search values escape their separators with a backslash: "\,"
// (OR), "\|" (system|code), "\$" (composite) and "\\". Values are split on
// unescaped separators first and unescaped last, so that an escaped
// separator survives every split.

// splitEscaped splits s at each sep that is not escaped; the parts keep
// their escapes.
func splitEscaped(s string, sep byte) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++ // the escaped byte is never a separator
		case sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// unescape removes the escaping backslash of "\,", "\|", "\$" and "\\".
// Any other backslash is kept as written.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`\,|$`, s[i+1]) >= 0 {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

var escaper = strings.NewReplacer(`\`, `\\`, `,`, `\,`, `|`, `\|`, `$`, `\$`)

// Escape is the inverse of unescape: it escapes every separator of search
// parameter values (\ , | $) in s.
func Escape(s string) string { return escaper.Replace(s) }
