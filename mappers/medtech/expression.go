package medtech

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	jmespath "github.com/jmespath-community/go-jmespath"
	"github.com/jmespath-community/go-jmespath/pkg/parsing"
)

// Expression languages, as templates name them (case-insensitively).
const (
	langJSONPath = "JsonPath"
	langJMESPath = "JmesPath"
)

// expression is a compiled template expression.
type expression struct {
	src  string
	lang string
	jp   *jsonPath
	jm   jmespath.JMESPath
	// projection: the JMESPath expression is a projection, whose result
	// is a list of matches rather than one value.
	projection bool
}

func compileExpression(src, lang string) (*expression, error) {
	e := &expression{src: src, lang: lang}
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("the expression is empty")
	}
	switch lang {
	case langJSONPath:
		jp, err := compileJSONPath(src)
		if err != nil {
			return nil, err
		}
		e.jp = jp
	case langJMESPath:
		ast, err := parsing.NewParser().Parse(src)
		if err != nil {
			return nil, fmt.Errorf("invalid JMESPath %q: %v", src, err)
		}
		if err := checkFunctions(ast); err != nil {
			return nil, fmt.Errorf("invalid JMESPath %q: %v", src, err)
		}
		if e.jm, err = jmespath.Compile(src, customFunctions...); err != nil {
			return nil, fmt.Errorf("invalid JMESPath %q: %v", src, err)
		}
		e.projection = isProjection(ast)
	}
	return e, nil
}

// all returns every match of the expression in data (a type match).
func (e *expression) all(data any) ([]any, error) {
	if e.jp != nil {
		return e.jp.selectAll(data), nil
	}
	v, err := e.jm.Search(data)
	if err != nil {
		return nil, fmt.Errorf("JMESPath %s: %v", e.src, err)
	}
	if a, ok := v.([]any); ok && e.projection {
		return a, nil
	}
	if v == nil {
		return nil, nil
	}
	return []any{v}, nil
}

// one returns the one value of the expression in data, nil when there is
// none; several values are an error.
func (e *expression) one(data any) (any, error) {
	if e.jp != nil {
		vs := e.jp.selectAll(data)
		switch len(vs) {
		case 0:
			return nil, nil
		case 1:
			return vs[0], nil
		}
		return nil, fmt.Errorf("%s selects %d values, not one", e.src, len(vs))
	}
	v, err := e.jm.Search(data)
	if err != nil {
		return nil, fmt.Errorf("JMESPath %s: %v", e.src, err)
	}
	if a, ok := v.([]any); ok && e.projection {
		switch len(a) {
		case 0:
			return nil, nil
		case 1:
			return a[0], nil
		}
		return nil, fmt.Errorf("%s selects %d values, not one", e.src, len(a))
	}
	return v, nil
}

// isProjection reports whether the expression's result is a projection
// (JmesPath.NET's IsProjection): each of its elements is a match.
func isProjection(n parsing.ASTNode) bool {
	switch n.NodeType {
	case parsing.ASTProjection, parsing.ASTFilterProjection, parsing.ASTValueProjection, parsing.ASTFlatten:
		return true
	case parsing.ASTSubexpression, parsing.ASTIndexExpression:
		return len(n.Children) > 0 && isProjection(n.Children[len(n.Children)-1])
	}
	return false
}

// checkFunctions reports a call of a function JMESPath does not know, at
// load time rather than on the first message.
func checkFunctions(n parsing.ASTNode) error {
	if n.NodeType == parsing.ASTFunctionExpression {
		name, _ := n.Value.(string)
		if !knownFunctions[name] {
			return fmt.Errorf("unknown function %s()", name)
		}
	}
	for _, c := range n.Children {
		if err := checkFunctions(c); err != nil {
			return err
		}
	}
	return nil
}

var knownFunctions = func() map[string]bool {
	known := map[string]bool{}
	for _, name := range strings.Fields(`abs avg ceil contains ends_with find_first find_last floor
		from_items group_by items join keys length lower map max max_by merge min min_by not_null
		pad_left pad_right replace reverse sort sort_by split starts_with sum to_array to_number
		to_string trim trim_left trim_right type upper values zip`) {
		known[name] = true
	}
	for _, f := range customFunctions {
		known[f.Name] = true
	}
	return known
}()

// customFunctions are iomt-fhir's JMESPath functions (docs/CustomFunctions.md).
var customFunctions = []jmespath.FunctionEntry{
	arithmetic("add", func(l, r float64) (float64, error) { return l + r, nil }),
	arithmetic("subtract", func(l, r float64) (float64, error) { return l - r, nil }),
	arithmetic("multiply", func(l, r float64) (float64, error) { return l * r, nil }),
	arithmetic("divide", func(l, r float64) (float64, error) {
		if r == 0 {
			return 0, errors.New("divide by zero")
		}
		return l / r, nil
	}),
	arithmetic("pow", func(l, r float64) (float64, error) { return math.Pow(l, r), nil }),
	{
		Name: "insertString",
		Arguments: []jmespath.ArgSpec{
			{Types: []jmespath.JpType{jmespath.JpString}},
			{Types: []jmespath.JpType{jmespath.JpString}},
			{Types: []jmespath.JpType{jmespath.JpNumber}},
		},
		Handler: func(args []any) (any, error) {
			original, insert, pos := args[0].(string), args[1].(string), args[2].(float64)
			n := utf8.RuneCountInString(original)
			if pos != math.Trunc(pos) || pos < 0 || int(pos) > n {
				return nil, fmt.Errorf("insertString: position %v is outside %q", pos, original)
			}
			runes := []rune(original)
			return string(runes[:int(pos)]) + insert + string(runes[int(pos):]), nil
		},
	},
	unixTime("fromUnixTimestamp", time.Second),
	unixTime("fromUnixTimestampMs", time.Millisecond),
}

func arithmetic(name string, op func(l, r float64) (float64, error)) jmespath.FunctionEntry {
	return jmespath.FunctionEntry{
		Name: name,
		Arguments: []jmespath.ArgSpec{
			{Types: []jmespath.JpType{jmespath.JpNumber}},
			{Types: []jmespath.JpType{jmespath.JpNumber}},
		},
		Handler: func(args []any) (any, error) {
			v, err := op(args[0].(float64), args[1].(float64))
			if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
				err = errors.New("overflow")
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %v", name, err)
			}
			return v, nil
		},
	}
}

// unixTime converts a Unix time in unit to an ISO 8601 UTC timestamp.
func unixTime(name string, unit time.Duration) jmespath.FunctionEntry {
	return jmespath.FunctionEntry{
		Name:      name,
		Arguments: []jmespath.ArgSpec{{Types: []jmespath.JpType{jmespath.JpNumber}}},
		Handler: func(args []any) (any, error) {
			n := math.Trunc(args[0].(float64))
			if math.Abs(n) > float64(math.MaxInt64/int64(unit)) {
				return nil, fmt.Errorf("%s: %v is out of range", name, args[0])
			}
			return time.Unix(0, int64(n)*int64(unit)).UTC().Format(time.RFC3339Nano), nil
		},
	}
}
