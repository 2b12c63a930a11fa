package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/medbridge/medbridge/conformance"
)

// systemInteractions are the whole-system interactions the harness checks.
var systemInteractions = []string{"search-system", "history-system", "batch", "transaction"}

// checkSystem checks the claims about the whole server: formats, patch
// formats, security, system interactions, search parameters and
// operations, and compartments. It works on a resource of its own, of the
// first claimed type with create among Patient, Basic and the rest.
func (r *runner) checkSystem(ctx context.Context) {
	rest := r.rest
	r.formats(ctx)
	r.security(ctx)

	var sys *conformance.RestResourceJSON
	for _, typ := range []string{"Patient", "Basic", ""} {
		i := slices.IndexFunc(rest.Resource, func(rc conformance.RestResourceJSON) bool {
			_, ok := fixture(rc.Type, "", "")
			return (typ == "" || rc.Type == typ) && has(rc.Interaction, "create") && ok
		})
		if i >= 0 {
			sys = &rest.Resource[i]
			break
		}
	}
	var in *instance
	noResource := "no resource to check it on: no claimed type can be created"
	if sys != nil {
		// Not a claim: create is checked as a claim of its type.
		c := &check{r: r, done: true}
		if in, _ = r.create(ctx, c, sys.Type, "", nil); in != nil {
			res, err := r.do(ctx, http.MethodGet, in.ref(), nil, nil)
			if err == nil && res.status == http.StatusOK {
				in.learn(res)
			}
		} else {
			noResource = "no resource to check it on: creating a " + sys.Type + " for the system checks failed"
			if len(c.res.Evidence) > 0 {
				noResource += " (" + c.res.Evidence[0].String() + ")"
			}
		}
	}
	for _, f := range r.cs.PatchFormat {
		c := r.claim(SystemScope, KindCapability, "patchFormat: "+f)
		switch {
		case in == nil || !has(sys.Interaction, "patch"):
			c.skip("no resource of a type that claims patch to patch: %s", noResource)
		case patchBody(f, in, "") == nil:
			c.skip("the harness cannot write a patch in %s", f)
		default:
			t := &typeRun{r: r, rc: sys, checked: map[string]bool{}}
			if r.patch(ctx, c, t, in, f) {
				c.pass("patched %s with %s", in.ref(), f)
			}
		}
	}
	for _, i := range rest.Interaction {
		c := r.claim(SystemScope, KindInteraction, i.Code)
		switch {
		case !slices.Contains(systemInteractions, i.Code):
			c.skip("the harness has no check for the interaction %q", i.Code)
		case in == nil:
			c.skip("%s", noResource)
		case i.Code == "search-system":
			r.searchSystem(ctx, c, in)
		case i.Code == "history-system":
			r.historySystem(ctx, c, in)
		case i.Code == "batch":
			r.batch(ctx, c, in)
		case i.Code == "transaction":
			r.transaction(ctx, c, in, sys)
		}
	}
	idFilter := slices.ContainsFunc(rest.SearchParam, func(p conformance.SearchParamJSON) bool { return p.Name == "_id" })
	for _, p := range rest.SearchParam {
		c := r.claim(SystemScope, KindSearchParam, p.Name)
		if in == nil {
			c.skip("%s", noResource)
			continue
		}
		defs, _ := r.spec.SearchParams(in.typ)
		r.checkParam(ctx, c, "", p, in, r.entries(in.typ, in.body)[p.Name], defs[p.Name], idFilter && p.Name != "_id")
	}
	for _, op := range rest.Operation {
		r.operation(ctx, r.claim(SystemScope, KindOperation, "$"+op.Name), "", op.Name, in)
		r.definition(ctx, r.claim(SystemScope, KindDefinition, "$"+op.Name), "", op)
	}
	for _, comp := range rest.Compartment {
		r.compartment(ctx, r.claim(SystemScope, KindCapability, "compartment: "+comp), comp)
	}
}

// formats checks that the statement is served in every claimed format.
func (r *runner) formats(ctx context.Context) {
	for _, f := range r.cs.Format {
		c := r.claim(SystemScope, KindCapability, "format: "+f)
		res := c.expect(ctx, http.MethodGet, "metadata?"+query("_format", f), nil, map[string]string{"Accept": ""}, http.StatusOK)
		if res == nil {
			continue
		}
		ct := res.header.Get("Content-Type")
		want := "json"
		switch {
		case strings.Contains(f, "xml"):
			want = "xml"
		case strings.Contains(f, "ttl") || strings.Contains(f, "turtle"):
			want = "turtle"
		}
		if !strings.Contains(ct, want) {
			c.fail("_format=%s answered Content-Type %q", f, ct)
			continue
		}
		c.pass("_format=%s answers %s", f, ct)
	}
}

// security checks rest.security: a request without a token is refused,
// and SMART servers publish their configuration and oauth-uris.
func (r *runner) security(ctx context.Context) {
	sec := r.rest.Security
	if sec == nil {
		return
	}
	probe := ""
	for _, rc := range r.rest.Resource {
		if has(rc.Interaction, "search-type") || has(rc.Interaction, "read") {
			probe = rc.Type + "?" + query("_count", "1")
			break
		}
	}
	for _, s := range sec.Service {
		for _, code := range s.Coding {
			c := r.claim(SystemScope, KindSecurity, code.Code)
			if probe != "" && c.expect(ctx, http.MethodGet, probe, nil, map[string]string{"Authorization": ""}, http.StatusUnauthorized) == nil {
				continue
			}
			if code.Code != "SMART-on-FHIR" {
				c.pass("a request without credentials is refused with 401")
				continue
			}
			res := c.expect(ctx, http.MethodGet, ".well-known/smart-configuration", nil, map[string]string{"Accept": "application/json", "Authorization": ""}, http.StatusOK)
			if res == nil {
				continue
			}
			var conf map[string]any
			if json.Unmarshal(res.body, &conf) != nil || conf["token_endpoint"] == nil {
				c.fail(".well-known/smart-configuration has no token_endpoint")
				continue
			}
			if msg := oauthURIsAgree(sec, conf); msg != "" {
				c.fail("%s", msg)
				continue
			}
			c.pass("a request without a token is refused with 401; .well-known/smart-configuration names the endpoints")
		}
	}
}

// oauthURIsAgree compares the oauth-uris extension with the SMART
// configuration; it returns what disagrees, "" when all agrees.
func oauthURIsAgree(sec *conformance.SecurityJSON, conf map[string]any) string {
	keys := map[string]string{"authorize": "authorization_endpoint", "token": "token_endpoint",
		"introspect": "introspection_endpoint", "revoke": "revocation_endpoint", "register": "registration_endpoint", "manage": "management_endpoint"}
	for _, ext := range sec.Extension {
		if ext.URL != "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris" {
			continue
		}
		for _, e := range ext.Extension {
			if want, ok := conf[keys[e.URL]].(string); ok && want != e.ValueURI {
				return fmt.Sprintf("oauth-uris %s is %s, the SMART configuration says %s", e.URL, e.ValueURI, want)
			}
		}
	}
	return ""
}

// searchSystem: a search of the whole server finds in.
func (r *runner) searchSystem(ctx context.Context, c *check, in *instance) {
	path := "?" + query("_count", "10")
	byID := slices.ContainsFunc(r.rest.SearchParam, func(p conformance.SearchParamJSON) bool { return p.Name == "_id" })
	if byID {
		path = "?" + query("_id", in.id)
	}
	found, ok := c.find(ctx, path, "searchset", in.typ, in.id, false)
	switch {
	case !ok:
	case byID && !found:
		c.fail("_id=%s does not find %s", in.id, in.ref())
	default:
		c.pass("answers a searchset")
	}
}

// historySystem: the server's history since in was written lists it.
func (r *runner) historySystem(ctx context.Context, c *check, in *instance) {
	path := "_history"
	if in.lastUpdated != "" {
		path += "?" + query("_since", in.lastUpdated)
	}
	if found, ok := c.find(ctx, path, "history", in.typ, in.id, true); ok {
		if found {
			c.pass("the server's history lists %s", in.ref())
		} else {
			c.fail("the server's history since %s does not list %s (%d pages read)", in.lastUpdated, in.ref(), maxPages)
		}
	}
}

type entry struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Request  map[string]any  `json:"request"`
}

// postBundle sends a batch or transaction Bundle and tracks what it
// created from the response's locations.
func (r *runner) postBundle(ctx context.Context, c *check, typ string, entries []entry, want ...int) (*response, *bundle) {
	body, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": typ, "entry": entries})
	res := c.expect(ctx, http.MethodPost, "", body, nil, want...)
	if res == nil {
		return nil, nil
	}
	b, ok := parseBundle(res.body)
	if !ok {
		return res, nil
	}
	for _, e := range b.Entry {
		if strings.HasPrefix(e.Response.Status, "201") {
			if t, id, _ := splitLocation(e.Response.Location); id != "" {
				r.track(t, id, true)
			}
		}
	}
	return res, b
}

// batch: a read and a create in one batch both succeed.
func (r *runner) batch(ctx context.Context, c *check, in *instance) {
	body, _ := fixture(in.typ, "", r.newTag())
	res, b := r.postBundle(ctx, c, "batch", []entry{
		{Request: map[string]any{"method": "GET", "url": in.ref()}},
		{Resource: body, Request: map[string]any{"method": "POST", "url": in.typ}},
	}, http.StatusOK)
	switch {
	case res == nil:
	case b == nil || b.Type != "batch-response" || len(b.Entry) != 2:
		c.fail("the answer is not a batch-response Bundle with 2 entries")
	case !strings.HasPrefix(b.Entry[0].Response.Status, "200") || !strings.HasPrefix(b.Entry[1].Response.Status, "201"):
		c.fail("entry statuses %q and %q, want 200 (read) and 201 (create)", b.Entry[0].Response.Status, b.Entry[1].Response.Status)
	default:
		c.pass("a batch of a read (200) and a create (201) succeeded")
	}
}

// transaction: a create in a transaction succeeds; a transaction with a
// failing entry fails as a whole, leaving its other create undone.
func (r *runner) transaction(ctx context.Context, c *check, in *instance, rc *conformance.RestResourceJSON) {
	body, _ := fixture(in.typ, "", r.newTag())
	res, b := r.postBundle(ctx, c, "transaction", []entry{
		{FullURL: "urn:uuid:6a0e9cf2-0c4b-4f3e-9a43-4f1d7e0b1c01", Resource: body, Request: map[string]any{"method": "POST", "url": in.typ}},
	}, http.StatusOK)
	switch {
	case res == nil:
		return
	case b == nil || b.Type != "transaction-response" || len(b.Entry) != 1:
		c.fail("the answer is not a transaction-response Bundle with 1 entry")
		return
	case !strings.HasPrefix(b.Entry[0].Response.Status, "201"):
		c.fail("the create entry answered %q, want 201", b.Entry[0].Response.Status)
		return
	}
	tag := r.newTag()
	body, _ = fixture(in.typ, "", tag)
	wrong, _ := fixture("Parameters", "", r.newTag())
	res, err := c.do(ctx, http.MethodPost, "", mustJSON(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": []entry{
		{FullURL: "urn:uuid:6a0e9cf2-0c4b-4f3e-9a43-4f1d7e0b1c02", Resource: body, Request: map[string]any{"method": "POST", "url": in.typ}},
		{FullURL: "urn:uuid:6a0e9cf2-0c4b-4f3e-9a43-4f1d7e0b1c03", Resource: wrong, Request: map[string]any{"method": "POST", "url": in.typ}},
	}}), nil)
	if err != nil {
		c.error(err)
		return
	}
	if res.status < 400 {
		if b, ok := parseBundle(res.body); ok {
			for _, e := range b.Entry {
				if t, id, _ := splitLocation(e.Response.Location); id != "" {
					r.track(t, id, true)
				}
			}
		}
		c.fail("a transaction POSTing a Parameters to %s answered %d, want an error for the whole transaction", in.typ, res.status)
		return
	}
	if rc.Param("_tag") == nil {
		c.pass("a create in a transaction succeeded; a transaction with a failing entry answered %d (that its other create was undone is not checked: %s claims no _tag)", res.status, in.typ)
		return
	}
	check := c.expect(ctx, http.MethodGet, in.typ+"?"+query("_tag", tagSystem+"|"+tag), nil, nil, http.StatusOK)
	if check == nil {
		return
	}
	if b, ok := parseBundle(check.body); !ok || len(b.Entry) > 0 {
		c.fail("the failed transaction's other create is there (a search by its tag does not answer an empty searchset)")
		return
	}
	c.pass("a create in a transaction succeeded; a transaction with a failing entry answered %d and created nothing", res.status)
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// compartment: a search in the compartment of a new owner answers.
func (r *runner) compartment(ctx context.Context, c *check, canonical string) {
	code := canonical[strings.LastIndex(canonical, "/")+1:]
	if code == "" {
		c.skip("%q names no compartment", canonical)
		return
	}
	owner := strings.ToUpper(code[:1]) + code[1:]
	members, ok := r.spec.Compartment(owner)
	if !ok {
		c.skip("%s is not an R4 compartment", canonical)
		return
	}
	var member string
	for _, rc := range r.rest.Resource {
		if _, in := members[rc.Type]; in && has(rc.Interaction, "search-type") && (member == "" || rc.Type < member) {
			member = rc.Type
		}
	}
	if member == "" {
		c.skip("no type of the compartment claims search-type")
		return
	}
	in, _ := r.create(ctx, c, owner, "", nil)
	if in == nil {
		return
	}
	if _, ok := c.find(ctx, in.ref()+"/"+member, "searchset", member, "", false); ok {
		c.pass("%s/%s answers a searchset", in.ref(), member)
	}
}
