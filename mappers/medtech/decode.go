package medtech

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// fileErrors collects the problems of one template file, each naming the
// file and the JSON path of the offending element.
type fileErrors struct {
	file string
	errs []error
}

func (fe *fileErrors) add(path, format string, args ...any) {
	fe.errs = append(fe.errs, fmt.Errorf("%s: %s: %s", fe.file, path, fmt.Sprintf(format, args...)))
}

func (fe *fileErrors) err() error { return errors.Join(fe.errs...) }

// decodeFile parses a template file; a syntax error names line and column.
func decodeFile(file string, data []byte) (any, error) {
	var v any
	err := json.Unmarshal(data, &v)
	if err == nil {
		return v, nil
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := position(data, se.Offset)
		return nil, fmt.Errorf("%s: malformed JSON at line %d, column %d: %v", file, line, col, err)
	}
	return nil, fmt.Errorf("%s: malformed JSON: %v", file, err)
}

// position is the 1-based line and column of the byte before offset
// (the decoder's offset is past the offending byte).
func position(data []byte, offset int64) (line, col int) {
	offset = min(max(offset-1, 0), int64(len(data)))
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

var plainName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// member is the JSON path of member name of the value at path.
func member(path, name string) string {
	if plainName.MatchString(name) {
		return path + "." + name
	}
	return path + "[" + strconv.Quote(name) + "]"
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// object reads the members of a template object. Member names match
// case-insensitively (as Newtonsoft.Json's deserializer does for iomt-fhir);
// members nobody reads are reported as unknown by done.
type object struct {
	fe   *fileErrors
	path string
	m    map[string]any
	// names maps lower-case member names to the names as written.
	names map[string]string
	read  map[string]bool
}

// asObject returns the object at path, or nil after reporting that the
// value is not one.
func asObject(fe *fileErrors, path string, v any) *object {
	m, ok := v.(map[string]any)
	if !ok {
		fe.add(path, "expected an object, found %s", describe(v))
		return nil
	}
	o := &object{fe: fe, path: path, m: m, names: make(map[string]string, len(m)), read: map[string]bool{}}
	for k := range m {
		o.names[strings.ToLower(k)] = k
	}
	return o
}

// get returns member name's value and path; ok is false when it is absent
// or null.
func (o *object) get(name string) (v any, path string, ok bool) {
	key, found := o.names[strings.ToLower(name)]
	if !found {
		return nil, member(o.path, name), false
	}
	o.read[key] = true
	return o.m[key], member(o.path, key), o.m[key] != nil
}

// str returns a string member; a missing required one is reported.
func (o *object) str(name string, required bool) string {
	v, path, ok := o.get(name)
	if !ok {
		if required {
			o.fe.add(path, "missing")
		}
		return ""
	}
	s, isString := v.(string)
	if !isString {
		o.fe.add(path, "expected a string, found %s", describe(v))
		return ""
	}
	if required && strings.TrimSpace(s) == "" {
		o.fe.add(path, "empty")
	}
	return s
}

// array returns an array member; a missing required one is reported.
func (o *object) array(name string, required bool) ([]any, string) {
	v, path, ok := o.get(name)
	if !ok {
		if required {
			o.fe.add(path, "missing")
		}
		return nil, path
	}
	a, isArray := v.([]any)
	if !isArray {
		o.fe.add(path, "expected an array, found %s", describe(v))
		return nil, path
	}
	if required && len(a) == 0 {
		o.fe.add(path, "empty; at least one is required")
	}
	return a, path
}

// boolean reads a boolean given as JSON true/false or as the string
// "true"/"false" (iomt-fhir's samples write "required": "true").
func (o *object) boolean(name string) bool {
	v, path, ok := o.get(name)
	if !ok {
		return false
	}
	switch v := v.(type) {
	case bool:
		return v
	case string:
		if b, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(v))); err == nil {
			return b
		}
	}
	o.fe.add(path, "expected true or false, found %s", describe(v))
	return false
}

// number reads a number member.
func (o *object) number(name string) (float64, bool) {
	v, path, ok := o.get(name)
	if !ok {
		return 0, false
	}
	f, isNumber := v.(float64)
	if !isNumber {
		o.fe.add(path, "expected a number, found %s", describe(v))
		return 0, false
	}
	return f, true
}

// skip marks every member read: the object is reported as a whole.
func (o *object) skip() {
	for k := range o.m {
		o.read[k] = true
	}
}

// done reports the members nobody read, in name order.
func (o *object) done() {
	var unknown []string
	for k := range o.m {
		if !o.read[k] {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		o.fe.add(member(o.path, k), "unknown member")
	}
}

// describe names the JSON type of v for error messages.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return "the number " + strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		return "the string " + strconv.Quote(v)
	case []any:
		return "an array"
	}
	return "an object"
}

// templateType reports whether a templateType value names want, as
// iomt-fhir matches them: case-insensitively, "Template" suffix optional.
func templateType(got, want string) bool {
	return strings.EqualFold(got, want) || strings.EqualFold(got, want+"Template")
}
