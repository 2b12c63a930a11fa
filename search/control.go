package search

import (
	"slices"
	"strconv"
	"strings"
)

// The result parameters: _type, _sort, _count, _total, _summary,
// _elements and the paging cursors. Their values are never ignored: a
// value that does not parse is a 400 in lenient handling too.

// parseTypes sets q.Types from a system search's _type.
func (p *parser) parseTypes(q *Query, values []string) error {
	if len(values) > 1 {
		return invalid("_type", "_type is given more than once")
	}
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if t == "" {
				continue
			}
			if !p.spec.IsResourceType(t) {
				return invalid("_type", "%q is not a resource type", t)
			}
			if !slices.Contains(q.Types, t) {
				q.Types = append(q.Types, t)
			}
		}
	}
	return nil
}

// checkTypes checks the _type of a search whose types the caller gave:
// it may only repeat them, as when the caller read _type itself. The
// query is then a system search.
func (p *parser) checkTypes(q *Query, values []string) error {
	if len(values) == 0 {
		return nil
	}
	given := &Query{}
	if err := p.parseTypes(given, values); err != nil {
		return err
	}
	if len(given.Types) != len(q.Types) {
		return invalid("_type", "_type=%s contradicts the searched types %s", strings.Join(given.Types, ","), typesText(q.Types))
	}
	for _, t := range given.Types {
		if !slices.Contains(q.Types, t) {
			return invalid("_type", "_type=%s contradicts the searched types %s", strings.Join(given.Types, ","), typesText(q.Types))
		}
	}
	q.System = true
	return nil
}

// parseSort sets q.Sort from _sort=[-]param,...; each parameter must
// exist on every searched type.
func (p *parser) parseSort(q *Query, values []string) error {
	v, err := single("_sort", values)
	if err != nil {
		return err
	}
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		code, desc := strings.CutPrefix(item, "-")
		param := p.lookup(q.Types, code)
		if param == nil {
			return invalid("_sort", "cannot sort by %s: it is not a search parameter of %s", code, typesText(q.Types))
		}
		q.Sort = append(q.Sort, SortKey{Param: param, Descending: desc})
	}
	return nil
}

// parseCount sets q.Count from _count, capped at the maximum.
func (p *parser) parseCount(q *Query, values []string) error {
	v, err := single("_count", values)
	if err != nil || v == "" {
		return err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return invalid("_count", "_count must be a whole number of at least 0, not %q", v)
	}
	_, max := p.opts.counts()
	q.Count = min(n, max)
	return nil
}

// parseChoice sets *dst to the one value of name, which must be one of
// choices.
func parseChoice(dst *string, name string, values []string, choices ...string) error {
	v, err := single(name, values)
	if err != nil || v == "" {
		return err
	}
	if !slices.Contains(choices, v) {
		return invalid(name, "%s must be one of %s, not %q", name, strings.Join(choices, ", "), v)
	}
	*dst = v
	return nil
}

// parseSingle sets *dst to the one value of name.
func parseSingle(dst *string, name string, values []string) error {
	v, err := single(name, values)
	if err == nil {
		*dst = v
	}
	return err
}

func parseElements(q *Query, values []string) error {
	v, err := single("_elements", values)
	if err != nil {
		return err
	}
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			q.Elements = append(q.Elements, e)
		}
	}
	return nil
}

// single returns the value of a parameter that may be given once.
func single(name string, values []string) (string, error) {
	if len(values) > 1 {
		return "", invalid(name, "%s is given more than once", name)
	}
	if len(values) == 0 {
		return "", nil
	}
	return strings.TrimSpace(values[0]), nil
}
