package search

import (
	"slices"
	"strings"

	"github.com/medbridge/medbridge/conformance"
)

// modifiers lists the R4 modifiers ParseQuery accepts per parameter type,
// besides a reference's ":Type". Token :above/:below (subsumption) need a
// terminology server and are not supported.
var modifiers = map[string][]string{
	conformance.ParamNumber:    {"missing"},
	conformance.ParamDate:      {"missing"},
	conformance.ParamString:    {"missing", "exact", "contains"},
	conformance.ParamToken:     {"missing", "text", "not", "in", "not-in", "of-type"},
	conformance.ParamReference: {"missing", "identifier"},
	conformance.ParamQuantity:  {"missing"},
	conformance.ParamURI:       {"missing", "above", "below"},
	conformance.ParamComposite: {"missing"},
}

// parseFilter parses one occurrence of the parameter name, searched on
// types, with its raw value: a plain parameter with an optional modifier, a
// chain (ref[:Type].rest) or a reverse chain (_has:Type:ref:rest). It
// returns nil, nil for a known name with an empty value, an *unknownError
// for a name it does not support, and a *valueError for a bad value.
func (p *parser) parseFilter(types []string, name, raw string) (*Filter, error) {
	if rest, ok := strings.CutPrefix(name, "_has:"); ok {
		return p.parseHas(types, rest, raw)
	}
	link, rest, chained := strings.Cut(name, ".")
	code, mod, hasMod := strings.Cut(link, ":")
	param := p.lookup(types, code)
	if param == nil {
		return nil, unknownf("%s is not a search parameter of %s", code, typesText(types))
	}
	if chained {
		return p.parseChain(param, mod, rest, raw)
	}
	if _, ok := modifiers[param.Type]; !ok {
		return nil, unknownf("%s is a %s parameter, which is not supported", code, param.Type)
	}
	if hasMod && !p.modifierValid(param, mod) {
		return nil, unknownf("%s is not a modifier of %s (a %s parameter)", mod, code, param.Type)
	}
	if raw == "" {
		return nil, nil
	}
	f := &Filter{Param: param, Modifier: mod}
	if mod == "missing" {
		switch raw {
		case "true", "false":
			b := raw == "true"
			f.Missing = &b
			return f, nil
		}
		return nil, valuef(":missing takes true or false")
	}
	for _, item := range splitEscaped(raw, ',') {
		if item == "" {
			continue
		}
		v, err := p.parseValue(param, mod, item)
		if err != nil {
			return nil, err
		}
		f.Values = append(f.Values, v)
	}
	if len(f.Values) == 0 {
		return nil, nil
	}
	return f, nil
}

func (p *parser) modifierValid(param *conformance.SearchParam, mod string) bool {
	if slices.Contains(modifiers[param.Type], mod) {
		return true
	}
	return param.Type == conformance.ParamReference && p.isTarget(param, mod)
}

// isTarget reports whether typ is a resource type that param may refer to.
func (p *parser) isTarget(param *conformance.SearchParam, typ string) bool {
	return p.spec.IsResourceType(typ) && (len(param.Targets) == 0 || slices.Contains(param.Targets, typ))
}

// parseValue parses one of the ORed values of a parameter.
func (p *parser) parseValue(param *conformance.SearchParam, mod, item string) (Value, error) {
	switch param.Type {
	case conformance.ParamNumber:
		return parseNumberValue(item)
	case conformance.ParamDate:
		return parseDateValue(item)
	case conformance.ParamString, conformance.ParamURI:
		return Value{String: unescape(item)}, nil
	case conformance.ParamToken:
		return parseTokenValue(mod, item)
	case conformance.ParamReference:
		return p.parseReferenceValue(param, mod, item)
	case conformance.ParamQuantity:
		return parseQuantityValue(item)
	case conformance.ParamComposite:
		return p.parseCompositeValue(param, item)
	}
	return Value{}, valuef("%s parameters are not supported", param.Type)
}

func typesText(types []string) string {
	if len(types) == 0 {
		return "every resource type"
	}
	return strings.Join(types, ", ")
}
