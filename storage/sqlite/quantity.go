package sqlite

import (
	"fmt"
	"strconv"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

// quantityCols names the columns of a stored quantity (see idx_quantity
// in schema.go): the unit and value compared (canonical for UCUM units
// storage knows), the system, and the number and code as written (code
// empty when it is the unit).
type quantityCols struct{ unit, value, sys, num, code string }

var quantityColumns = quantityCols{"unit", "value", "sys", "num", "code"}

// quantityCond compares a stored quantity with the search value v:
//
//	number              the number as written, in any unit
//	number||code        the number and code as written, in any system
//	number|ucum|code    both in code's canonical unit when storage knows
//	                    it (70 kg finds 70000 g), as written otherwise
//	number|system|code  the number in that system and code
//
// ok is false when nothing can match (a system no entry has).
func (c *compiler) quantityCond(cols quantityCols, v search.Value) (cond rowCond, branches []rowCond, rank int, ok bool, err error) {
	if v.System == nil && v.Code == "" {
		cond, branches, rank = numberCond(cols.num, v.Prefix, v.Number, v.Low, v.High)
		return cond, branches, rank, true, nil
	}
	if v.System == nil {
		code := v.Code
		unit := func(col func(string) string) expr {
			return cat("(", col(cols.code), " = ", arg(code), " OR (", col(cols.code), " = '' AND ", col(cols.unit), " = ", arg(code), "))")
		}
		cond, branches, rank = numberCond(cols.num, v.Prefix, v.Number, v.Low, v.High)
		return withUnit(cond, unit), withUnits(branches, unit), rank, true, nil
	}
	unitCode, valueCol := v.Code, cols.value
	n, low, high := v.Number, v.Low, v.High
	if *v.System == storage.UCUMSystem {
		if cn, canonical, known := storage.CanonicalUCUM(n, v.Code); known {
			unitCode = canonical
			n = cn
			low, _, _ = storage.CanonicalUCUM(low, v.Code)
			high, _, _ = storage.CanonicalUCUM(high, v.Code)
		}
	}
	sys, known, err := c.term(*v.System)
	if err != nil || !known {
		return nil, nil, 0, false, err
	}
	unit := func(col func(string) string) expr {
		return cat(col(cols.unit), " = ", arg(unitCode), " AND ", col(cols.sys), " = ", arg(sys))
	}
	cond, branches, rank = numberCond(valueCol, v.Prefix, n, low, high)
	return withUnit(cond, unit), withUnits(branches, unit), max(rank, rankText), true, nil
}

func withUnit(cond, unit rowCond) rowCond {
	return func(col func(string) string) expr { return and(unit(col), cond(col)) }
}

func withUnits(branches []rowCond, unit rowCond) []rowCond {
	if branches == nil {
		return nil
	}
	out := make([]rowCond, len(branches))
	for i, b := range branches {
		out[i] = withUnit(b, unit)
	}
	return out
}

// compositeMatches: each value's components must match the slots of one
// idx_composite row, that is, one element (see compositeSlots in
// index.go for the slots of each component type). The lookup is by the
// first component, a token or reference in every R4 composite.
func (c *compiler) compositeMatches(param *conformance.SearchParam, vs []search.Value) ([]match, error) {
	spec, err := conformance.Load()
	if err != nil {
		return nil, err
	}
	var ms []match
values:
	for _, v := range vs {
		var conds []rowCond
		rank := rankPrefix
		for i, comp := range param.Components {
			if i >= len(v.Components) || i >= 3 {
				break
			}
			def := spec.SearchParamByURL(comp.Definition)
			if def == nil {
				return nil, fmt.Errorf("composite %s: unknown component %s", param.Code, comp.Definition)
			}
			slot := func(name string) string { return name + strconv.Itoa(i+1) }
			cond, ok, err := c.componentCond(def.Type, slot, v.Components[i])
			if err != nil {
				return nil, err
			}
			if !ok {
				continue values
			}
			if i == 0 && def.Type == conformance.ParamToken && v.Components[i].Code == "" {
				rank = rankScan // system| only: the lookup is by code
			}
			conds = append(conds, cond)
		}
		ms = append(ms, rowMatch("idx_composite", func(col func(string) string) expr {
			es := make([]expr, len(conds))
			for i, c := range conds {
				es[i] = c(col)
			}
			return and(es...)
		}, nil, rank))
	}
	return ms, nil
}

// componentCond is the condition on the slots of one component (slot
// maps "t" to "t2" for the second); ok is false when it cannot match.
func (c *compiler) componentCond(typ string, slot func(string) string, v search.Value) (rowCond, bool, error) {
	t, s := slot("t"), slot("s")
	eq := func(col string, value any) rowCond {
		return func(cl func(string) string) expr { return cat(cl(col), " = ", arg(value)) }
	}
	both := func(a, b rowCond) rowCond {
		return func(cl func(string) string) expr { return and(a(cl), b(cl)) }
	}
	switch typ {
	case conformance.ParamToken:
		if v.System == nil {
			return eq(t, v.Code), true, nil
		}
		sys, known, err := c.term(*v.System)
		if err != nil || !known {
			return nil, false, err
		}
		if v.Code == "" {
			return eq(s, sys), true, nil
		}
		return both(eq(t, v.Code), eq(s, sys)), true, nil
	case conformance.ParamReference:
		switch {
		case v.URL != "":
			return eq(t, v.URL), true, nil
		case v.RefType != "":
			return both(eq(t, v.RefID), eq(s, v.RefType)), true, nil
		}
		return eq(t, v.RefID), true, nil
	case conformance.ParamString:
		return func(cl func(string) string) expr {
			return hasPrefix(cl(t), storage.NormalizeString(v.String))
		}, true, nil
	case conformance.ParamURI:
		return eq(t, v.String), true, nil
	case conformance.ParamDate:
		cond, _, _ := dateCond(slot("n"), slot("m"), v, c.now)
		return cond, true, nil
	case conformance.ParamNumber:
		cond, _, _ := numberCond(slot("n"), v.Prefix, v.Number, v.Low, v.High)
		return cond, true, nil
	case conformance.ParamQuantity:
		cols := quantityCols{unit: t, value: slot("n"), sys: s, num: "coalesce($." + slot("m") + ", $." + slot("n") + ")", code: slot("u")}
		cond, _, _, ok, err := c.quantityCond(cols, v)
		return cond, ok, err
	}
	return nil, false, fmt.Errorf("a composite component of type %s", typ)
}
