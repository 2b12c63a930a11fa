package storage

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeResource decodes a resource into what encoding/json's Decoder
// with UseNumber gives (map[string]any, []any, string, json.Number, bool,
// nil), several times faster: extraction decodes every resource written,
// and encoding/json's decoding was more than half its cost. Strings
// without escapes and numbers share the memory of one copy of the input.
// The resource's narrative (the top-level "text") is skipped: no search
// parameter reads it, and it is often most of the bytes.
func decodeResource(b []byte) (map[string]any, error) {
	d := jsonDecoder{b: b, s: string(b)}
	d.space()
	if d.i >= len(b) || b[d.i] != '{' {
		return nil, d.errorf("expected an object")
	}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.space()
	if d.i != len(b) {
		return nil, d.errorf("data after the object")
	}
	return v.(map[string]any), nil
}

type jsonDecoder struct {
	b []byte
	s string // b, which the decoded strings are substrings of
	i int
}

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 1000

func (d *jsonDecoder) errorf(format string, args ...any) error {
	return fmt.Errorf("json: offset %d: %s", d.i, fmt.Sprintf(format, args...))
}

func (d *jsonDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jsonDecoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, d.errorf("nested too deeply")
	}
	d.space()
	if d.i >= len(d.b) {
		return nil, d.errorf("unexpected end")
	}
	switch c := d.b[d.i]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		return d.string()
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	case d.literal("true"):
		return true, nil
	case d.literal("false"):
		return false, nil
	case d.literal("null"):
		return nil, nil
	}
	return nil, d.errorf("unexpected %q", d.b[d.i])
}

// skip passes over a value, checking its syntax loosely and building
// nothing.
func (d *jsonDecoder) skip(depth int) error {
	if depth > maxDepth {
		return d.errorf("nested too deeply")
	}
	d.space()
	if d.i >= len(d.b) {
		return d.errorf("unexpected end")
	}
	switch c := d.b[d.i]; c {
	case '{', '[':
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		d.i++
		for {
			d.space()
			if d.i < len(d.b) && d.b[d.i] == end {
				d.i++
				return nil
			}
			if c == '{' {
				if err := d.skip(depth + 1); err != nil { // the name
					return err
				}
				d.space()
				if d.i >= len(d.b) || d.b[d.i] != ':' {
					return d.errorf("expected ':'")
				}
				d.i++
			}
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			d.space()
			if d.i < len(d.b) && d.b[d.i] == ',' {
				d.i++
			} else if d.i >= len(d.b) || d.b[d.i] != end {
				return d.errorf("expected ',' or %q", end)
			}
		}
	case '"':
		for d.i++; d.i < len(d.b); d.i++ {
			switch d.b[d.i] {
			case '\\':
				d.i++
			case '"':
				d.i++
				return nil
			}
		}
		return d.errorf("unterminated string")
	}
	_, err := d.value(depth)
	return err
}

func (d *jsonDecoder) literal(s string) bool {
	if len(d.b)-d.i >= len(s) && string(d.b[d.i:d.i+len(s)]) == s {
		d.i += len(s)
		return true
	}
	return false
}

func (d *jsonDecoder) object(depth int) (any, error) {
	d.i++ // {
	m := make(map[string]any, 8)
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return m, nil
	}
	for {
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, d.errorf("expected a member name")
		}
		k, err := d.string()
		if err != nil {
			return nil, err
		}
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, d.errorf("expected ':'")
		}
		d.i++
		if depth == 0 && k == "text" {
			if err := d.skip(depth + 1); err != nil {
				return nil, err
			}
		} else {
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m[k.(string)] = v // a repeated name keeps the last value, as encoding/json does
		}
		d.space()
		if d.i >= len(d.b) {
			return nil, d.errorf("unexpected end")
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			return m, nil
		default:
			return nil, d.errorf("expected ',' or '}'")
		}
	}
}

func (d *jsonDecoder) array(depth int) (any, error) {
	d.i++ // [
	a := make([]any, 0, 4)
	d.space()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return a, nil
	}
	for {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		d.space()
		if d.i >= len(d.b) {
			return nil, d.errorf("unexpected end")
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			return a, nil
		default:
			return nil, d.errorf("expected ',' or ']'")
		}
	}
}

func (d *jsonDecoder) number() (any, error) {
	start := d.i
	if d.b[d.i] == '-' {
		d.i++
	}
	digits := func() int {
		n := 0
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	intStart := d.i
	if n := digits(); n == 0 || n > 1 && d.b[intStart] == '0' {
		return nil, d.errorf("invalid number")
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return nil, d.errorf("invalid number")
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return nil, d.errorf("invalid number")
		}
	}
	return json.Number(d.s[start:d.i]), nil
}

// string reads a string at d.i (its opening quote).
func (d *jsonDecoder) string() (any, error) {
	d.i++ // "
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return d.s[start : d.i-1], nil
		case c == '\\' || c >= utf8.RuneSelf:
			return d.slowString(start)
		case c < ' ':
			return nil, d.errorf("control character in string")
		}
		d.i++
	}
	return nil, d.errorf("unterminated string")
}

// slowString decodes a string with escapes or non-ASCII text from start
// (just after its opening quote); invalid UTF-8 becomes U+FFFD, as with
// encoding/json.
func (d *jsonDecoder) slowString(start int) (any, error) {
	buf := make([]byte, 0, d.i-start+16)
	buf = append(buf, d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return string(buf), nil
		case c < ' ':
			return nil, d.errorf("control character in string")
		case c == '\\':
			if d.i+1 >= len(d.b) {
				return nil, d.errorf("unterminated string")
			}
			e := d.b[d.i+1]
			d.i += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := d.hex4()
				if !ok {
					return nil, d.errorf("invalid \\u escape")
				}
				if utf16.IsSurrogate(r) {
					r2 := utf8.RuneError
					if d.i+1 < len(d.b) && d.b[d.i] == '\\' && d.b[d.i+1] == 'u' {
						save := d.i
						d.i += 2
						if lo, ok := d.hex4(); ok {
							if dec := utf16.DecodeRune(r, lo); dec != utf8.RuneError {
								r2 = dec
							} else {
								d.i = save
							}
						} else {
							return nil, d.errorf("invalid \\u escape")
						}
					}
					r = r2
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return nil, d.errorf("invalid escape \\%c", e)
			}
		case c < utf8.RuneSelf:
			j := d.i + 1 // copy a run of plain ASCII at once
			for j < len(d.b) && d.b[j] >= ' ' && d.b[j] != '"' && d.b[j] != '\\' && d.b[j] < utf8.RuneSelf {
				j++
			}
			buf = append(buf, d.b[d.i:j]...)
			d.i = j
		default:
			r, size := utf8.DecodeRune(d.b[d.i:])
			if r == utf8.RuneError && size == 1 {
				buf = utf8.AppendRune(buf, utf8.RuneError)
			} else {
				buf = append(buf, d.b[d.i:d.i+size]...)
			}
			d.i += size
		}
	}
	return nil, d.errorf("unterminated string")
}

func (d *jsonDecoder) hex4() (rune, bool) {
	if len(d.b)-d.i < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(d.b[d.i:d.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	d.i += 4
	return rune(n), true
}
