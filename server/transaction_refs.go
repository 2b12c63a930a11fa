package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/auth/scope"
	"github.com/medbridge/medbridge/fhir"
)

// References between the entries of a transaction. An entry's resource
// may reference another entry by its fullUrl (urn:uuid:…, urn:oid:…, or
// an absolute URL): the reference becomes the Type/id the other entry's
// target has, also in the href and src attributes of the narrative. A
// reference to a urn no entry has fails the transaction. A conditional
// reference (Patient?identifier=…) is resolved by a search, confined like
// a search of the token: exactly one match becomes its Type/id; none is a
// 404 and several a 412.

// rewrite returns body with its references to other entries and its
// conditional references resolved.
func (t *txn) rewrite(c echo.Context, body []byte) ([]byte, error) {
	return rewriteStrings(body, func(key, raw []byte) ([]byte, error) {
		switch {
		case string(key) == "reference":
			return t.reference(c, unquote(raw))
		case string(key) == "div":
			return t.narrative(raw), nil
		}
		return nil, nil
	})
}

// reference resolves one Reference.reference; nil when it stays as it is.
func (t *txn) reference(c echo.Context, ref string) ([]byte, error) {
	if target, ok := t.ids[ref]; ok {
		return []byte(target), nil
	}
	if strings.HasPrefix(ref, "urn:uuid:") || strings.HasPrefix(ref, "urn:oid:") {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeNotFound,
			"the reference %q names no entry of this transaction (no entry has it as its fullUrl)", ref)
	}
	typ, query, ok := strings.Cut(ref, "?")
	if !ok || strings.Contains(typ, "/") || !t.s.spec.IsResourceType(typ) {
		return nil, nil
	}
	target, err := t.conditionalReference(c, ref, typ, query)
	return []byte(target), err
}

// conditionalReference resolves ref, a search of typ, to the Type/id of
// its one match; the token must be allowed to search typ.
func (t *txn) conditionalReference(c echo.Context, ref, typ, query string) (string, error) {
	t.mu.Lock()
	target, ok := t.condRefs[ref]
	t.mu.Unlock()
	if ok {
		return target, nil
	}
	s := t.s
	params, err := url.ParseQuery(query)
	if err != nil {
		return "", fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid, "the conditional reference %q is not a search: %v", ref, err)
	}
	saved := c.Get(decisionKey)
	defer c.Set(decisionKey, saved)
	c.Set(decisionKey, nil)
	if err := s.decideEntry(c, scope.SearchType, typ); err != nil {
		return "", err
	}
	cond, err := s.parseCondition(typ, params)
	if err != nil {
		return "", err
	}
	found, err := t.matches(c, cond, 2)
	switch {
	case err != nil:
		return "", err
	case len(found) == 0:
		return "", fhir.Errorf(http.StatusNotFound, fhir.CodeNotFound, "the conditional reference %q matches no %s", ref, typ)
	case len(found) > 1:
		return "", fhir.Errorf(http.StatusPreconditionFailed, fhir.CodeMultipleMatches,
			"the conditional reference %q matches more than one %s; make it more selective", ref, typ)
	}
	target = typ + "/" + found[0].ID
	t.mu.Lock()
	t.condRefs[ref] = target
	t.mu.Unlock()
	return target, nil
}

// narrative rewrites links to other entries in the href and src
// attributes of a div (raw JSON string content, so the attribute quotes
// are escaped); nil when there are none.
func (t *txn) narrative(raw []byte) []byte {
	var out []byte
	last := 0
	for i := 0; ; {
		k := bytes.Index(raw[i:], []byte(`=\"`))
		if k < 0 {
			break
		}
		start := i + k + 3
		end := bytes.Index(raw[start:], []byte(`\"`))
		if end < 0 {
			break
		}
		end += start
		if target, ok := t.ids[string(raw[start:end])]; ok {
			out = append(append(out, raw[last:start]...), target...)
			last = end
		}
		i = end
	}
	if out == nil {
		return nil
	}
	return append(out, raw[last:]...)
}

// rewriteStrings calls f on each string value of the JSON document b that
// is an object member's value, with the member's name, both as raw JSON
// string content (escapes not decoded); f returns the raw content to put
// instead, or nil to keep it. Strings in arrays and object keys are left
// alone. It returns b itself when nothing changed. b is expected to be
// well formed; what is not is left for the parser to refuse.
func rewriteStrings(b []byte, f func(key, raw []byte) ([]byte, error)) ([]byte, error) {
	var (
		out        []byte
		last       int
		key        []byte
		afterColon bool
	)
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case ':':
			afterColon = true
			continue
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
		default:
			afterColon = false
			continue
		}
		end := stringEnd(b, i+1)
		if end < 0 {
			break
		}
		raw := b[i+1 : end]
		if isKey(b, end+1) {
			key, afterColon, i = raw, false, end
			continue
		}
		if afterColon {
			repl, err := f(key, raw)
			if err != nil {
				return nil, err
			}
			if repl != nil {
				out = append(append(out, b[last:i+1]...), repl...)
				last = end
			}
		}
		afterColon, i = false, end
	}
	if out == nil {
		return b, nil
	}
	return append(out, b[last:]...), nil
}

// stringEnd returns the index of the quote that ends the JSON string whose
// content starts at from, -1 when it does not end.
func stringEnd(b []byte, from int) int {
	for j := from; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j
		}
	}
	return -1
}

// isKey reports whether the string that ended before from is an object
// member's name: a colon follows it.
func isKey(b []byte, from int) bool {
	for _, c := range b[from:] {
		switch c {
		case ' ', '\t', '\n', '\r':
		case ':':
			return true
		default:
			return false
		}
	}
	return false
}

// unquote decodes raw JSON string content.
func unquote(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var s string
	if err := json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s); err != nil {
		return string(raw)
	}
	return s
}
