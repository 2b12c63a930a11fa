package scope

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
)

// Level is the first part of a clinical scope: whose data it reaches.
type Level string

// The levels of clinical scopes, from narrowest to broadest.
const (
	// Patient scopes reach the data of the patient in context only.
	Patient Level = "patient"
	// User scopes reach what the signed-in user may reach.
	User Level = "user"
	// System scopes reach what a backend client's policy allows.
	System Level = "system"
)

// levels lists the levels in canonical order.
var levels = []Level{Patient, User, System}

// Perms is a set of SMART v2 permissions.
type Perms uint8

// The SMART v2 permissions, in the order "cruds" writes them.
const (
	PermCreate Perms = 1 << iota // c: create
	PermRead                     // r: read, vread, history of an instance
	PermUpdate                   // u: update (including update as create), patch
	PermDelete                   // d: delete
	PermSearch                   // s: search and history of a type or the system
)

// permLetters spells the permissions in canonical order.
const permLetters = "cruds"

// The SMART v1 permission words and what they mean in v2.
const (
	v1Read  = PermRead | PermSearch
	v1Write = PermCreate | PermUpdate | PermDelete
	v1All   = v1Read | v1Write
)

// String spells p as the letters of "cruds" it holds, in that order.
func (p Perms) String() string {
	var b strings.Builder
	for i := range len(permLetters) {
		if p&(1<<i) != 0 {
			b.WriteByte(permLetters[i])
		}
	}
	return b.String()
}

// v1Word returns the SMART v1 word for p, or "" when v1 has none.
func (p Perms) v1Word() string {
	switch p {
	case v1Read:
		return "read"
	case v1Write:
		return "write"
	case v1All:
		return "*"
	}
	return ""
}

// Clinical is one clinical scope, "level/Type.perms[?query]".
type Clinical struct {
	Level Level
	// Type is a resource type, or "*" for every type.
	Type  string
	Perms Perms
	// Query holds the scope's search constraints, ANDed; nil when the scope
	// has none. Values are unescaped, sorted and distinct.
	Query url.Values
	// V1 records that the scope is spelled with a SMART v1 word; it is kept
	// so that v1 requests are answered with v1 scopes.
	V1 bool
}

// String returns the canonical text of c: a v1 word when c is v1, else the
// v2 letters, then the query with its parameters sorted.
func (c Clinical) String() string {
	perm := c.Perms.String()
	if w := c.Perms.v1Word(); c.V1 && w != "" && len(c.Query) == 0 {
		perm = w
	}
	s := string(c.Level) + "/" + c.Type + "." + perm
	if len(c.Query) > 0 {
		s += "?" + encodeQuery(c.Query)
	}
	return s
}

// SyntaxError reports a malformed clinical scope.
type SyntaxError struct {
	Scope  string // the scope as written
	Reason string
}

// Error names the scope and what is wrong with it.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("malformed scope %q: %s", e.Scope, e.Reason)
}

// Parse parses a space-separated scope string. Clinical scopes are
// validated and canonicalised (see the package documentation); other
// scopes are kept as written. Duplicates collapse, and clinical scopes that
// differ only in permissions merge ("patient/Observation.r
// patient/Observation.s" is "patient/Observation.rs").
//
// A token is taken for a clinical scope when its level is patient, user or
// system, or when it looks like one with another level ("Patient/*.read",
// "practitioner/Observation.rs"); Parse returns a *SyntaxError for the
// first malformed one. A token like "launch/patient" or "admin/users.read"
// (lower-case "type") is an unknown scope, kept and ignored.
func Parse(text string) (Set, error) {
	var clinical []Clinical
	var other []string
	for _, tok := range strings.Fields(text) {
		c, ok, err := parseClinical(tok)
		switch {
		case err != nil:
			return Set{}, err
		case ok:
			clinical = append(clinical, c)
		default:
			other = append(other, tok)
		}
	}
	return newSet(clinical, other), nil
}

// parseClinical parses tok as a clinical scope. ok is false when tok is
// not a clinical scope at all.
func parseClinical(tok string) (c Clinical, ok bool, err error) {
	level, rest, found := strings.Cut(tok, "/")
	if !found {
		return Clinical{}, false, nil
	}
	fail := func(format string, args ...any) (Clinical, bool, error) {
		return Clinical{}, true, &SyntaxError{Scope: tok, Reason: fmt.Sprintf(format, args...)}
	}
	if !slices.Contains(levels, Level(level)) {
		if isWord(level) && looksLikeTypePerm(rest) {
			return fail("level must be patient, user or system")
		}
		return Clinical{}, false, nil
	}
	typ, perm, found := strings.Cut(rest, ".")
	if !isType(typ) {
		return fail("resource type must be a FHIR type name or *")
	}
	if !found {
		return fail("no permissions (want .read, .write, .* or letters of .cruds)")
	}
	perm, query, hasQuery := strings.Cut(perm, "?")
	c = Clinical{Level: Level(level), Type: typ}
	switch perm {
	case "read":
		c.Perms, c.V1 = v1Read, true
	case "write":
		c.Perms, c.V1 = v1Write, true
	case "*":
		c.Perms, c.V1 = v1All, true
	default:
		p, ok := parsePerms(perm)
		if !ok {
			return fail("permissions %q are neither read, write, * nor letters of cruds in that order", perm)
		}
		c.Perms = p
	}
	if hasQuery {
		if c.V1 {
			return fail("a query needs SMART v2 permissions (letters of cruds)")
		}
		q, err := parseQuery(query)
		if err != nil {
			return fail("%v", err)
		}
		c.Query = q
	}
	return c, true, nil
}

// parsePerms parses a non-empty run of "cruds" letters in order, each at
// most once.
func parsePerms(s string) (Perms, bool) {
	var p Perms
	next := 0 // the index in permLetters the next letter may start from
	for i := range len(s) {
		j := strings.IndexByte(permLetters[next:], s[i])
		if j < 0 {
			return 0, false
		}
		p |= 1 << (next + j)
		next += j + 1
	}
	return p, p != 0
}

// isWord reports whether s is a non-empty run of ASCII letters, digits,
// '-' and '_': something that could be meant as a level.
func isWord(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !isLetter(c) && !('0' <= c && c <= '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// looksLikeTypePerm reports whether s starts with a resource type (or "*")
// and a dot, as the part of a clinical scope after the level does.
func looksLikeTypePerm(s string) bool {
	typ, _, found := strings.Cut(s, ".")
	return found && isType(typ)
}

// isType reports whether s is "*" or shaped like a FHIR resource type name:
// an upper-case ASCII letter followed by ASCII letters.
func isType(s string) bool {
	if s == "*" {
		return true
	}
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := range len(s) {
		if !isLetter(s[i]) {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// parseQuery parses "param=value&..." into sorted, distinct values. Escapes
// are read as in a URL query, so a scope's query means what the same text
// means after "?" in a search URL.
func parseQuery(s string) (url.Values, error) {
	if s == "" {
		return nil, fmt.Errorf("empty query after ?")
	}
	q := url.Values{}
	for item := range strings.SplitSeq(s, "&") {
		rawName, rawValue, found := strings.Cut(item, "=")
		if !found {
			return nil, fmt.Errorf("query item %q is not param=value", item)
		}
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			return nil, fmt.Errorf("query parameter %q: %w", rawName, err)
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return nil, fmt.Errorf("query value %q: %w", rawValue, err)
		}
		if name == "" || value == "" {
			return nil, fmt.Errorf("query item %q needs both a parameter and a value", item)
		}
		q[name] = append(q[name], value)
	}
	return normalQuery(q), nil
}

// normalQuery sorts the values of each parameter and drops repeats, in
// place; it returns nil for an empty query.
func normalQuery(q url.Values) url.Values {
	if len(q) == 0 {
		return nil
	}
	for k, vs := range q {
		slices.Sort(vs)
		q[k] = slices.Compact(vs)
	}
	return q
}

// encodeQuery writes q with its parameters sorted, escaping only what a
// scope token cannot hold (RFC 6749 NQCHAR) or what the query syntax would
// misread, so that "|", ":" and "/" stay legible.
func encodeQuery(q url.Values) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(q)) {
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			escapeInto(&b, k, true)
			b.WriteByte('=')
			escapeInto(&b, v, false)
		}
	}
	return b.String()
}

// escapeInto writes s to b, percent-encoding the bytes that cannot appear
// literally in a scope's query; '=' is escaped in parameter names only.
func escapeInto(b *strings.Builder, s string, name bool) {
	const hex = "0123456789ABCDEF"
	for i := range len(s) {
		c := s[i]
		literal := c > ' ' && c < 0x7f && c != '"' && c != '\\' &&
			c != '%' && c != '&' && c != '+' && !(name && c == '=')
		if literal {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
}
