package harness

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"github.com/medbridge/medbridge/conformance"
)

// Every operation claimed with a definition is also a claim of kind
// definition: the canonical URL resolves on the server to an
// OperationDefinition that defines that operation where the statement
// claims it. A definition under the server's base (absolute or relative)
// is read; any other canonical is looked up with
// OperationDefinition?url= when the statement claims that search, and
// skipped otherwise: the harness does not fetch definitions from
// elsewhere.

// definitionFetch is the one lookup of a definition, shared by every
// claim that names it ($validate on each type).
type definitionFetch struct {
	once sync.Once
	// evidence are the requests made; err the one that got no answer.
	evidence []Exchange
	err      error
	// status and body are the answer (the OperationDefinition found by a
	// search when the URL is not under the base); found is false when a
	// search found none.
	status int
	body   []byte
	found  bool
	// local: the canonical is under the server's base; searched: it was
	// looked up by url instead.
	local, searched bool
}

// definitionPath is the path of canonical relative to the base, and
// whether it is under the base (or relative, which means the same).
func (r *runner) definitionPath(canonical string) (string, bool) {
	if rel, ok := strings.CutPrefix(canonical, r.base+"/"); ok {
		return rel, true
	}
	if !strings.Contains(canonical, "://") && !strings.HasPrefix(canonical, "urn:") {
		return strings.TrimPrefix(canonical, "/"), true
	}
	return "", false
}

// fetchDefinition looks canonical up once per run.
func (r *runner) fetchDefinition(ctx context.Context, canonical string) *definitionFetch {
	v, _ := r.definitions.LoadOrStore(canonical, &definitionFetch{})
	f := v.(*definitionFetch)
	f.once.Do(func() {
		path, local := r.definitionPath(canonical)
		f.local = local
		if !local {
			if !r.searchesDefinitions() {
				return
			}
			f.searched = true
			path = "OperationDefinition?" + query("url", canonical)
		}
		res, err := r.do(ctx, http.MethodGet, path, nil, nil)
		f.evidence = append(f.evidence, res.ex)
		if err != nil {
			f.err = err
			return
		}
		f.status, f.body, f.found = res.status, res.body, true
		if f.searched && res.status == http.StatusOK {
			f.found, f.body = false, nil
			if b, ok := parseBundle(res.body); ok {
				for _, e := range b.Entry {
					if parseResource(e.Resource).ResourceType == "OperationDefinition" {
						f.found, f.body = true, e.Resource
						break
					}
				}
			}
		}
	})
	return f
}

// searchesDefinitions reports whether the statement claims a search of
// OperationDefinitions by url.
func (r *runner) searchesDefinitions() bool {
	for i := range r.rest.Resource {
		if rc := &r.rest.Resource[i]; rc.Type == "OperationDefinition" {
			return rc.Has("search-type") && rc.Param("url") != nil
		}
	}
	return false
}

// definition checks the definition of op, claimed on typ ("" for the
// system).
func (r *runner) definition(ctx context.Context, c *check, typ string, op conformance.OperationJSON) {
	canonical, _, _ := strings.Cut(op.Definition, "|")
	if canonical == "" {
		c.fail("the operation has no definition")
		return
	}
	f := r.fetchDefinition(ctx, canonical)
	c.res.Evidence = append(c.res.Evidence, f.evidence...)
	switch {
	case f.err != nil:
		c.error(f.err)
		return
	case !f.local && !f.searched:
		c.skip("%s is not under the server's base, and the statement claims no OperationDefinition search by url to find it on the server", canonical)
		return
	case f.searched && f.status == http.StatusOK && !f.found:
		c.skip("%s is not under the server's base, and no OperationDefinition on the server has that url", canonical)
		return
	case f.status != http.StatusOK:
		c.fail("the definition %s does not resolve: GET answered %d%s", canonical, f.status, outcome(f.body))
		return
	}
	var def conformance.OperationDefinitionJSON
	if err := json.Unmarshal(f.body, &def); err != nil || def.ResourceType != "OperationDefinition" {
		c.fail("the definition %s is not an OperationDefinition (a %q)", canonical, parseResource(f.body).ResourceType)
		return
	}
	var wrong []string
	if def.Code != op.Name {
		wrong = append(wrong, "its code is "+quote(def.Code)+", not "+quote(op.Name))
	}
	absolute := canonical
	if rel, local := r.definitionPath(canonical); local {
		absolute = r.base + "/" + rel
	}
	if def.URL != "" && def.URL != absolute {
		wrong = append(wrong, "its url is "+quote(def.URL))
	}
	where := "the system level"
	switch {
	case typ == "" && !def.System:
		wrong = append(wrong, "it is claimed on the system but system is not true")
	case typ != "" && !def.Type && !def.Instance:
		wrong = append(wrong, "it is claimed on "+typ+" but neither type nor instance is true")
	case typ != "" && !def.AppliesTo(typ):
		wrong = append(wrong, "it is claimed on "+typ+" but its resource is "+quote(strings.Join(def.Resource, ", ")))
	case typ != "":
		var levels []string
		if def.Type {
			levels = append(levels, "type")
		}
		if def.Instance {
			levels = append(levels, "instance")
		}
		where = typ + " at the " + strings.Join(levels, " and ") + " level"
	}
	if len(wrong) > 0 {
		c.fail("the definition %s does not define $%s here: %s", canonical, op.Name, strings.Join(wrong, "; "))
		return
	}
	c.pass("%s defines $%s on %s", canonical, op.Name, where)
}

func quote(s string) string { return `"` + s + `"` }
