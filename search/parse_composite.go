package search

import (
	"fmt"

	"github.com/medbridge/medbridge/conformance"
)

// parseCompositeValue parses a composite parameter's value: one value per
// component joined by "$", each parsed by its component's type
// (component-code-value-quantity=http://loinc.org|8480-6$gt140).
func (p *parser) parseCompositeValue(param *conformance.SearchParam, item string) (Value, error) {
	parts := splitEscaped(item, '$')
	if len(parts) != len(param.Components) {
		return Value{}, valuef("%s takes %d values joined by $", param.Code, len(param.Components))
	}
	v := Value{Components: make([]Value, len(parts))}
	for i, c := range param.Components {
		cp := p.spec.SearchParamByURL(c.Definition)
		if cp == nil || cp.Type == conformance.ParamComposite {
			return Value{}, fmt.Errorf("search: component %s of %s is not a usable search parameter", c.Definition, param.URL)
		}
		if parts[i] == "" {
			return Value{}, valuef("component %d of %s is empty", i+1, param.Code)
		}
		cv, err := p.parseValue(cp, "", parts[i])
		if err != nil {
			return Value{}, err
		}
		v.Components[i] = cv
	}
	return v, nil
}
