package harness

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/medbridge/medbridge/conformance"
)

// typeRun checks the claims of one rest.resource.
type typeRun struct {
	r  *runner
	rc *conformance.RestResourceJSON
	// checked are the claims recorded, as kind + " " + name.
	mu      sync.Mutex
	checked map[string]bool
}

func (t *typeRun) has(code string) bool { return has(t.rc.Interaction, code) }

// claim starts the check of one claim of the type.
func (t *typeRun) claim(kind, name string) *check {
	t.mu.Lock()
	t.checked[kind+" "+name] = true
	t.mu.Unlock()
	return t.r.claim(t.rc.Type, kind, name)
}

// checkType checks every claim about one resource type. Whatever it does
// not reach is recorded as skipped, so every claim is in the report.
func (r *runner) checkType(ctx context.Context, rc *conformance.RestResourceJSON) {
	t := &typeRun{r: r, rc: rc, checked: map[string]bool{}}
	unchecked := "not checked: a check it depends on (create, read or update) failed"
	defer func() {
		if ctx.Err() != nil {
			unchecked = "not reached: " + errBudget.Error()
		}
		for _, k := range claimsOf(rc) {
			if !t.checked[k[0]+" "+k[1]] {
				r.record(Result{Scope: rc.Type, Kind: k[0], Claim: k[1], Status: Skip, Reason: unchecked})
			}
		}
	}()
	for _, op := range rc.Operation {
		r.definition(ctx, t.claim(KindDefinition, "$"+op.Name), rc.Type, op)
	}
	in := t.establish(ctx)
	if in == nil {
		unchecked = "no instance of " + rc.Type + " to check it on (see create)"
		return
	}
	t.read(ctx, in)
	t.searches(ctx, in)
	t.history(ctx, in)
	t.conditionalRead(ctx, in)
	if !in.owned {
		unchecked = "the harness changes only resources it created, and create is not claimed"
		t.operations(ctx, in)
		return
	}
	t.update(ctx, in)
	t.patch(ctx, in)
	t.conditionals(ctx, in)
	t.operations(ctx, in)
	t.delete(ctx, in)
	for _, i := range rc.Interaction {
		if !slices.Contains(typeInteractions, i.Code) {
			t.claim(KindInteraction, i.Code).skip("the harness has no check for the interaction %q", i.Code)
		}
	}
	for _, p := range rc.ReferencePolicy {
		t.claim(KindCapability, "referencePolicy: "+p).skip("reference policies are not checked: the harness creates no referenced resources")
	}
}

// typeInteractions are the type interactions the harness checks.
var typeInteractions = []string{"create", "read", "vread", "update", "patch", "delete", "history-instance", "history-type", "search-type"}

// claimsOf lists every claim of rc as kind, name.
func claimsOf(rc *conformance.RestResourceJSON) [][2]string {
	var out [][2]string
	add := func(kind, name string) { out = append(out, [2]string{kind, name}) }
	for _, i := range rc.Interaction {
		add(KindInteraction, i.Code)
	}
	for _, c := range capabilityFlags(rc) {
		add(KindCapability, c)
	}
	for _, p := range rc.ReferencePolicy {
		add(KindCapability, "referencePolicy: "+p)
	}
	for _, p := range rc.SearchParam {
		add(KindSearchParam, p.Name)
	}
	for _, v := range rc.SearchInclude {
		add(KindInclude, v)
	}
	for _, v := range rc.SearchRevInclude {
		add(KindRevInclude, v)
	}
	for _, o := range rc.Operation {
		add(KindOperation, "$"+o.Name)
		add(KindDefinition, "$"+o.Name)
	}
	return out
}

// capabilityFlags names the flags rc claims (capability claims).
func capabilityFlags(rc *conformance.RestResourceJSON) []string {
	var out []string
	if rc.Versioning == "versioned" || rc.Versioning == "versioned-update" {
		out = append(out, "versioning: "+rc.Versioning)
	}
	if rc.ReadHistory {
		out = append(out, "readHistory")
	}
	if rc.UpdateCreate {
		out = append(out, "updateCreate")
	}
	if rc.ConditionalCreate {
		out = append(out, "conditionalCreate")
	}
	if rc.ConditionalUpdate {
		out = append(out, "conditionalUpdate")
	}
	if rc.ConditionalRead != "" && rc.ConditionalRead != "not-supported" {
		out = append(out, "conditionalRead: "+rc.ConditionalRead)
	}
	if rc.ConditionalDelete != "" && rc.ConditionalDelete != "not-supported" {
		out = append(out, "conditionalDelete: "+rc.ConditionalDelete)
	}
	return out
}

// establish gets the instance to check the type on: created (create, or
// update as create), or else an existing one found by search, which is
// then only read.
func (t *typeRun) establish(ctx context.Context) *instance {
	typ := t.rc.Type
	switch {
	case t.has("create"):
		c := t.claim(KindInteraction, "create")
		in, _ := t.r.create(ctx, c, typ, "", nil)
		if in != nil {
			c.pass("created %s", in.ref())
		}
		return in
	case t.has("update") && t.rc.UpdateCreate:
		c := t.claim(KindCapability, "updateCreate")
		in := t.r.putNew(ctx, c, typ)
		if in != nil {
			c.pass("PUT to a new id created %s", in.ref())
		}
		return in
	case t.has("search-type"):
		res, err := t.r.do(ctx, http.MethodGet, typ+"?"+query("_count", "1"), nil, nil)
		if err != nil || res.status != http.StatusOK {
			return nil
		}
		if b, ok := parseBundle(res.body); ok {
			for _, e := range b.Entry {
				if ri := parseResource(e.Resource); ri.ResourceType == typ && ri.ID != "" {
					return &instance{typ: typ, id: ri.ID, vid: ri.Meta.VersionID, lastUpdated: ri.Meta.LastUpdated, body: e.Resource}
				}
			}
		}
	}
	return nil
}

// read checks read and vread.
func (t *typeRun) read(ctx context.Context, in *instance) {
	if t.has("read") {
		c := t.claim(KindInteraction, "read")
		if res := c.expect(ctx, http.MethodGet, in.ref(), nil, nil, http.StatusOK); res != nil {
			if ri := parseResource(res.body); ri.ResourceType != in.typ || ri.ID != in.id {
				c.fail("GET %s answered a %s with id %q", in.ref(), ri.ResourceType, ri.ID)
			} else {
				in.learn(res)
				c.pass("read %s", in.ref())
			}
		}
	}
	if t.has("vread") {
		c := t.claim(KindInteraction, "vread")
		if in.vid == "" {
			c.fail("the server gave no version id of %s (meta.versionId, ETag or Location) to read", in.ref())
			return
		}
		if res := c.expect(ctx, http.MethodGet, in.ref()+"/_history/"+in.vid, nil, nil, http.StatusOK); res != nil {
			if ri := parseResource(res.body); ri.ID != in.id || ri.Meta.VersionID != "" && ri.Meta.VersionID != in.vid {
				c.fail("GET %s/_history/%s answered id %q version %q", in.ref(), in.vid, ri.ID, ri.Meta.VersionID)
			} else {
				c.pass("read version %s of %s", in.vid, in.ref())
			}
		}
	}
}

// history checks history-instance and history-type.
func (t *typeRun) history(ctx context.Context, in *instance) {
	if t.has("history-instance") {
		c := t.claim(KindInteraction, "history-instance")
		if found, ok := c.find(ctx, in.ref()+"/_history", "history", in.typ, in.id, false); ok {
			if found {
				c.pass("the history of %s lists it", in.ref())
			} else {
				c.fail("the history of %s does not list it", in.ref())
			}
		}
	}
	if t.has("history-type") {
		c := t.claim(KindInteraction, "history-type")
		path := in.typ + "/_history"
		if in.lastUpdated != "" {
			path += "?" + query("_since", in.lastUpdated)
		}
		found, ok := c.find(ctx, path, "history", in.typ, in.id, true)
		also := ""
		if ok && !found && in.lastUpdated != "" {
			also = ", also with _at"
			// A type written all the time (an audit trail) buries the
			// version under newer ones: narrow to what was current then.
			found, ok = c.find(ctx, path+"&"+query("_at", in.lastUpdated), "history", in.typ, in.id, true)
		}
		switch {
		case !ok:
		case found:
			c.pass("the history of %s lists %s", in.typ, in.ref())
		default:
			c.fail("the history of %s does not list %s (%d pages read%s)", in.typ, in.ref(), maxPages, also)
		}
	}
}

// conditionalRead checks If-Modified-Since and If-None-Match on read.
func (t *typeRun) conditionalRead(ctx context.Context, in *instance) {
	mode := t.rc.ConditionalRead
	if mode == "" || mode == "not-supported" {
		return
	}
	c := t.claim(KindCapability, "conditionalRead: "+mode)
	var shown []string
	if mode == "modified-since" || mode == "full-support" {
		since := httpDate(in.lastUpdated)
		if since == "" {
			c.fail("%s has no meta.lastUpdated to send If-Modified-Since for", in.ref())
			return
		}
		if c.expect(ctx, http.MethodGet, in.ref(), nil, map[string]string{"If-Modified-Since": since}, http.StatusNotModified) == nil {
			return
		}
		shown = append(shown, "If-Modified-Since after its last update answers 304")
	}
	if mode == "not-match" || mode == "full-support" {
		etag := in.etag
		if etag == "" && in.vid != "" {
			etag = weakETag(in.vid)
		}
		if c.expect(ctx, http.MethodGet, in.ref(), nil, map[string]string{"If-None-Match": etag}, http.StatusNotModified) == nil {
			return
		}
		shown = append(shown, "If-None-Match with its ETag answers 304")
	}
	c.pass("%s", strings.Join(shown, "; "))
}

// update checks update and the versioning and readHistory claims.
func (t *typeRun) update(ctx context.Context, in *instance) {
	if !t.has("update") {
		t.versionsWithoutUpdate(in)
		return
	}
	c := t.claim(KindInteraction, "update")
	if in.body == nil {
		c.fail("no copy of %s to update: neither create nor read returned it", in.ref())
		return
	}
	old := in.vid
	code := in.tag + "-updated"
	res := c.expect(ctx, http.MethodPut, in.ref(), withTag(in.body, code), map[string]string{"Prefer": "return=representation"}, http.StatusOK)
	if res == nil {
		return
	}
	in.vid = ""
	in.learn(res)
	if !t.changed(ctx, c, in, code) {
		return
	}
	c.pass("updated %s", in.ref())

	if v := t.rc.Versioning; v == "versioned" || v == "versioned-update" {
		c := t.claim(KindCapability, "versioning: "+v)
		switch {
		case in.vid == "" || in.vid == old:
			c.fail("the update of %s kept version %q", in.ref(), old)
		case v == "versioned-update":
			t.versionedUpdate(ctx, c, in, old)
		default:
			c.pass("update made version %s after %s", in.vid, old)
		}
	}
	if t.rc.ReadHistory {
		c := t.claim(KindCapability, "readHistory")
		if old == "" || !t.has("vread") {
			c.fail("no earlier version id of %s to read", in.ref())
		} else if c.expect(ctx, http.MethodGet, in.ref()+"/_history/"+old, nil, nil, http.StatusOK) != nil {
			c.pass("vread returns the superseded version %s", old)
		}
	}
}

// versionsWithoutUpdate checks the versioning claims of a type that does
// not claim update (an append-only type): versioned is shown by the
// version id the resource carries; versioned-update needs update, and
// without update there is no past version for readHistory to read.
func (t *typeRun) versionsWithoutUpdate(in *instance) {
	switch v := t.rc.Versioning; v {
	case "versioned":
		c := t.claim(KindCapability, "versioning: "+v)
		if in.vid == "" {
			c.fail("%s carries no version id (meta.versionId, ETag or Location)", in.ref())
		} else {
			c.pass("%s carries version id %s", in.ref(), in.vid)
		}
	case "versioned-update":
		t.claim(KindCapability, "versioning: "+v).fail("version-aware updates are claimed, but update is not")
	}
	if t.rc.ReadHistory {
		t.claim(KindCapability, "readHistory").skip("update is not claimed, so there is no past version to read")
	}
}

// versionedUpdate checks that If-Match with a stale version is refused
// and with the current one accepted.
func (t *typeRun) versionedUpdate(ctx context.Context, c *check, in *instance, stale string) {
	body := in.body
	if c.expect(ctx, http.MethodPut, in.ref(), body, map[string]string{"If-Match": weakETag(stale)}, http.StatusConflict, http.StatusPreconditionFailed) == nil {
		return
	}
	res := c.expect(ctx, http.MethodPut, in.ref(), body, map[string]string{"If-Match": weakETag(in.vid), "Prefer": "return=representation"}, http.StatusOK)
	if res == nil {
		return
	}
	in.learn(res)
	c.pass("If-Match with stale version %s is refused, with the current one accepted", stale)
}

// changed reads in back (when read is claimed) and checks that it carries
// the tag code a change added; it keeps the body read.
func (t *typeRun) changed(ctx context.Context, c *check, in *instance, code string) bool {
	if t.has("read") {
		res := c.expect(ctx, http.MethodGet, in.ref(), nil, nil, http.StatusOK)
		if res == nil {
			return false
		}
		in.learn(res)
	}
	if !parseResource(in.body).hasTag(code) {
		c.fail("%s does not show the change (meta.tag %s|%s)", in.ref(), tagSystem, code)
		return false
	}
	return true
}

// patch checks the patch interaction in the first patch format the
// harness knows.
func (t *typeRun) patch(ctx context.Context, in *instance) {
	if !t.has("patch") {
		return
	}
	c := t.claim(KindInteraction, "patch")
	formats := t.r.cs.PatchFormat
	if len(formats) == 0 {
		formats = []string{jsonPatch}
	}
	for _, f := range formats {
		if patchBody(f, in, "") != nil {
			if t.r.patch(ctx, c, t, in, f) {
				c.pass("patched %s with %s", in.ref(), f)
			}
			return
		}
	}
	c.skip("none of the claimed patch formats (%v) is one the harness can write", formats)
}

// The patch formats the harness writes.
const (
	jsonPatch     = "application/json-patch+json"
	fhirPathPatch = "application/fhir+json"
)

// patchBody is a patch in format that adds the harness tag code to in;
// nil for a format the harness cannot write.
func patchBody(format string, in *instance, code string) []byte {
	tag := map[string]any{"system": tagSystem, "code": code}
	var v any
	switch format {
	case jsonPatch, "application/json-patch":
		v = []any{map[string]any{"op": "add", "path": "/meta/tag/-", "value": tag}}
	case fhirPathPatch, "application/fhir+json; fhirVersion=4.0":
		v = map[string]any{"resourceType": "Parameters", "parameter": []any{map[string]any{
			"name": "operation", "part": []any{
				map[string]any{"name": "type", "valueCode": "add"},
				map[string]any{"name": "path", "valueString": in.typ + ".meta"},
				map[string]any{"name": "name", "valueString": "tag"},
				map[string]any{"name": "value", "valueCoding": tag},
			}}}}
	default:
		return nil
	}
	b, _ := json.Marshal(v)
	return b
}

// patch sends a patch in format and checks that it took.
func (r *runner) patch(ctx context.Context, c *check, t *typeRun, in *instance, format string) bool {
	code := r.newTag() + "-patched"
	res := c.expect(ctx, http.MethodPatch, in.ref(), patchBody(format, in, code),
		map[string]string{"Content-Type": format, "Prefer": "return=representation"}, http.StatusOK)
	if res == nil {
		return false
	}
	in.learn(res)
	return t.changed(ctx, c, in, code)
}

// delete checks delete: the resource is gone afterwards.
func (t *typeRun) delete(ctx context.Context, in *instance) {
	if !t.has("delete") {
		return
	}
	c := t.claim(KindInteraction, "delete")
	if c.expect(ctx, http.MethodDelete, in.ref(), nil, nil, http.StatusOK, http.StatusAccepted, http.StatusNoContent) == nil {
		return
	}
	if !t.has("read") {
		t.r.track(in.typ, in.id, false)
		c.pass("deleted %s (read is not claimed, so not read back)", in.ref())
		return
	}
	if t.r.gone(ctx, c, in, t.has("history-instance")) {
		c.pass("deleted %s; a read answers %d", in.ref(), c.res.Evidence[len(c.res.Evidence)-1].Status)
	}
}
