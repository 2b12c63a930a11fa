package search

import (
	"errors"
	"strings"

	"github.com/medbridge/medbridge/conformance"
)

// parseChain parses the chain ref[:Type].rest, where param is ref and mod
// the optional Type. rest is parsed on the target type: on Type when
// given, else on each of ref's target types that has it. One such type
// makes one chained filter; several make a filter whose Or holds one
// chain per type, since the client did not say which it means (R4 leaves
// this to the server; rejecting it would reject patient.name on
// Observation, whose patient may be a Patient or a Group). None is an
// unknown parameter.
func (p *parser) parseChain(param *conformance.SearchParam, mod, rest, raw string) (*Filter, error) {
	if param.Type != conformance.ParamReference {
		return nil, unknownf("%s is a %s parameter and cannot be chained", param.Code, param.Type)
	}
	if rest == "" {
		return nil, unknownf("the chain after %s is empty", param.Code)
	}
	candidates := param.Targets
	if mod != "" {
		if !p.isTarget(param, mod) {
			return nil, unknownf("%s is not a target type of %s", mod, param.Code)
		}
		candidates = []string{mod}
	}
	var (
		alts    []Filter
		known   bool
		unknown error
	)
	for _, typ := range candidates {
		inner, err := p.parseFilter([]string{typ}, rest, raw)
		if err != nil {
			var u *unknownError
			if errors.As(err, &u) {
				if unknown == nil {
					unknown = err
				}
				continue
			}
			return nil, err
		}
		known = true
		if inner != nil {
			alts = append(alts, Filter{Param: param, Modifier: mod, ChainType: typ, Chain: inner})
		}
	}
	switch {
	case !known && mod != "":
		return nil, unknown
	case !known:
		return nil, unknownf("no target type of %s (%s) has the chained parameter %s",
			param.Code, strings.Join(candidates, ", "), rest)
	case len(alts) == 0:
		return nil, nil // empty value
	case len(alts) == 1:
		return &alts[0], nil
	}
	return &Filter{Param: param, Or: alts}, nil
}

// parseHas parses a reverse chain; rest is what follows "_has:", that is
// Type:ref:name. The resources searched (types) are those that a Type
// refers to through ref, where the Type matches name=raw (which may be a
// further _has or a chain).
func (p *parser) parseHas(types []string, rest, raw string) (*Filter, error) {
	parts := strings.SplitN(rest, ":", 3)
	if len(parts) < 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return nil, unknownf("_has takes the form _has:Type:reference:parameter")
	}
	typ, code, name := parts[0], parts[1], parts[2]
	if !p.spec.IsResourceType(typ) {
		return nil, unknownf("%s is not a resource type", typ)
	}
	param := p.lookup([]string{typ}, code)
	if param == nil {
		return nil, unknownf("%s is not a search parameter of %s", code, typ)
	}
	if param.Type != conformance.ParamReference {
		return nil, unknownf("%s of %s is not a reference parameter", code, typ)
	}
	if len(types) > 0 && len(param.Targets) > 0 && !anyTarget(param, types) {
		return nil, unknownf("%s of %s does not refer to %s", code, typ, typesText(types))
	}
	inner, err := p.parseFilter([]string{typ}, name, raw)
	if err != nil || inner == nil {
		return nil, err
	}
	return &Filter{Has: &Has{Type: typ, Param: param, Filter: *inner}}, nil
}

func anyTarget(param *conformance.SearchParam, types []string) bool {
	for _, t := range types {
		for _, target := range param.Targets {
			if t == target {
				return true
			}
		}
	}
	return false
}
