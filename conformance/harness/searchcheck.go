package harness

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/storage"
)

// searches checks search-type, every claimed search parameter and every
// _include and _revinclude value, concurrently.
func (t *typeRun) searches(ctx context.Context, in *instance) {
	typ := in.typ
	idFilter := t.rc.Param("_id") != nil
	if t.has("search-type") {
		c := t.claim(KindInteraction, "search-type")
		path := typ + "?" + query("_count", "10")
		if idFilter {
			path = typ + "?" + query("_id", in.id)
		}
		if found, ok := c.find(ctx, path, "searchset", typ, in.id, false); ok {
			switch {
			case idFilter && !found:
				c.fail("_id=%s does not find %s", in.id, in.ref())
			case idFilter:
				c.pass("answers a searchset; _id finds %s", in.ref())
			default:
				c.pass("answers a searchset")
			}
		}
	}
	byParam := t.r.entries(typ, in.body)
	defs, _ := t.r.spec.SearchParams(typ)
	var wg sync.WaitGroup
	for _, p := range t.rc.SearchParam {
		c := t.claim(KindSearchParam, p.Name)
		wg.Go(func() {
			t.r.checkParam(ctx, c, typ, p, in, byParam[p.Name], defs[p.Name], idFilter && p.Name != "_id")
		})
	}
	for _, inc := range []struct {
		kind, name string
		values     []string
	}{{KindInclude, "_include", t.rc.SearchInclude}, {KindRevInclude, "_revinclude", t.rc.SearchRevInclude}} {
		for _, v := range inc.values {
			c := t.claim(inc.kind, v)
			wg.Go(func() { t.include(ctx, c, inc.name, v, in, idFilter) })
		}
	}
	wg.Wait()
}

// entries are the index entries of a resource by parameter code (none
// for a body the extractor cannot read).
func (r *runner) entries(typ string, body []byte) map[string][]storage.IndexEntry {
	out := map[string][]storage.IndexEntry{}
	if body == nil {
		return out
	}
	idx, err := r.extractor.Extract(typ, body)
	if err != nil {
		return out
	}
	for _, e := range idx {
		out[e.Param] = append(out[e.Param], e)
	}
	return out
}

// checkParam checks one search parameter at path (a type, or "" for
// search-system): a value derived from in must select it and a value it
// cannot have must not. Without a derivable value, a placeholder shows
// that the parameter answers and excludes in, which has no value for it.
// idFilter adds _id=in.id, so that no paging is needed.
func (r *runner) checkParam(ctx context.Context, c *check, path string, p conformance.SearchParamJSON, in *instance, entries []storage.IndexEntry, def *conformance.SearchParam, idFilter bool) {
	if p.Type == conformance.ParamSpecial {
		c.skip("no generic value syntax is known for special parameters")
		return
	}
	var targets, components []string
	if def != nil {
		targets = def.Targets
		for _, comp := range def.Components {
			if d := r.spec.SearchParamByURL(comp.Definition); d != nil {
				components = append(components, d.Type)
			}
		}
	}
	usable := Searchable(p.Type, entries, targets)
	v := DeriveValues(p.Type, usable)
	placeholder := v.Match == "" && v.NoMatch == ""
	if placeholder {
		v.NoMatch = Placeholder(p.Type, targets, components)
	}
	if v.Match == "" && v.NoMatch == "" {
		c.skip("no search value of a %s parameter can be formed", p.Type)
		return
	}
	prefix := path + "?"
	if idFilter {
		prefix += query("_id", in.id) + "&"
	}
	var shown []string
	if v.Match != "" {
		found, ok := c.find(ctx, prefix+query(p.Name, v.Match), "searchset", in.typ, in.id, !idFilter)
		if !ok {
			return
		}
		if !found {
			c.fail("%s=%s does not select %s, whose value it is", p.Name, v.Match, in.ref())
			return
		}
		shown = append(shown, fmt.Sprintf("%s=%s selects %s", p.Name, v.Match, in.ref()))
		c.res.Selected = true
	}
	if v.NoMatch != "" {
		found, ok := c.find(ctx, prefix+query(p.Name, v.NoMatch), "searchset", in.typ, in.id, !idFilter)
		if !ok {
			return
		}
		if found {
			c.fail("%s=%s selects %s, which has no such value", p.Name, v.NoMatch, in.ref())
			return
		}
		shown = append(shown, fmt.Sprintf("%s=%s excludes it", p.Name, v.NoMatch))
	}
	switch {
	case placeholder && len(entries) == 0:
		shown = append(shown, "the fixture has no value for it, so selection is not shown")
	case placeholder:
		shown = append(shown, "the fixture's values (contained references, relative canonicals) cannot be stated in a search, so selection is not shown")
	case v.Match == "":
		shown = append(shown, "no selecting value can be derived from the fixture's values")
	case v.NoMatch == "":
		shown = append(shown, "no value is provably outside the fixture's, so exclusion is not shown")
	}
	c.pass("%s", strings.Join(shown, "; "))
}

// include checks one _include or _revinclude value: the search answers a
// searchset with in as a match.
func (t *typeRun) include(ctx context.Context, c *check, name, value string, in *instance, idFilter bool) {
	path := in.typ + "?"
	if idFilter {
		path += query("_id", in.id) + "&"
	}
	path += query(name, value)
	found, ok := c.find(ctx, path, "searchset", in.typ, in.id, false)
	switch {
	case !ok:
	case idFilter && !found:
		c.fail("%s=%s with _id=%s does not find %s", name, value, in.id, in.ref())
	default:
		c.pass("answers a searchset with %s=%s (the referenced resources are not the harness's, so what is included is not checked)", name, value)
	}
}

// operation checks one operation at prefix ("Observation/" or "" for the
// system): a known one with a minimal valid invocation, any other by its
// endpoint answering (a 400 for missing parameters shows it exists; 404,
// 405 and 501 show it does not).
func (r *runner) operation(ctx context.Context, c *check, typ, name string, in *instance) {
	prefix := ""
	if typ != "" {
		prefix = typ + "/"
	}
	switch {
	case name == "validate" && typ != "":
		body, _ := fixture(typ, "", r.newTag())
		params := []byte(`{"resourceType":"Parameters","parameter":[{"name":"resource","resource":` + string(body) + `}]}`)
		if res := c.expect(ctx, http.MethodPost, prefix+"$validate", params, nil, http.StatusOK); res != nil {
			if ri := parseResource(res.body); ri.ResourceType != "OperationOutcome" {
				c.fail("$validate answered a %q, not an OperationOutcome", ri.ResourceType)
			} else {
				c.pass("$validate of a valid %s answers an OperationOutcome", typ)
			}
		}
		return
	case name == "lastn" && typ != "":
		path := prefix + "$lastn?" + query("max", "1")
		if in != nil {
			path += "&" + query("_id", in.id)
		}
		if _, ok := c.find(ctx, path, "searchset", typ, "", false); ok {
			c.pass("$lastn answers a searchset")
		}
		return
	case name == "stats" && typ != "" && in != nil:
		if path := statsQuery(r.entries(typ, in.body)); path != "" {
			if res := c.expect(ctx, http.MethodGet, prefix+"$stats?"+path, nil, nil, http.StatusOK); res != nil {
				if ri := parseResource(res.body); ri.ResourceType != "Parameters" {
					c.fail("$stats answered a %q, not Parameters", ri.ResourceType)
				} else {
					c.pass("$stats of the fixture's subject and code answers Parameters")
				}
			}
			return
		}
	}
	empty := []byte(`{"resourceType":"Parameters"}`)
	paths := []string{prefix + "$" + name}
	if in != nil && typ != "" {
		paths = append(paths, in.ref()+"/$"+name)
	}
	for _, path := range paths {
		res, err := c.do(ctx, http.MethodPost, path, empty, nil)
		if err != nil {
			c.error(err)
			return
		}
		switch res.status {
		case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented:
			continue
		}
		c.pass("the endpoint exists: an empty invocation answers %d", res.status)
		return
	}
	c.fail("no endpoint: POST %s answers 404, 405 or 501", strings.Join(paths, " and "))
}

// statsQuery is a $stats query for the subject and code of a resource's
// index entries, "" when it has either not.
func statsQuery(byParam map[string][]storage.IndexEntry) string {
	var subject string
	for _, code := range []string{"subject", "patient"} {
		for _, e := range byParam[code] {
			if e.RefType != "" && subject == "" {
				subject = e.RefType + "/" + e.RefID
			}
		}
	}
	for _, e := range byParam["code"] {
		if e.Code != "" && e.System != "" && subject != "" {
			return query("subject", subject, "code", e.Code, "system", e.System, "statistic", "count")
		}
	}
	return ""
}
