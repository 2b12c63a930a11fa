package harness

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/medbridge/medbridge/conformance"
)

// instance is a resource the checks of a type work on.
type instance struct {
	typ, id, vid, lastUpdated, etag string
	// tag is the harness tag code it was created with.
	tag string
	// body is the resource as the server last returned it (nil when
	// unknown).
	body []byte
	// owned: the harness created it, so it may change and delete it.
	owned bool
}

// learn takes the id, version and body from a response about the
// instance: Location, ETag and a resource body.
func (in *instance) learn(res *response) {
	if _, id, vid := splitLocation(res.header.Get("Location")); id != "" && in.id == "" {
		in.id = id
		if vid != "" {
			in.vid = vid
		}
	} else if vid != "" {
		in.vid = vid
	}
	if ri := parseResource(res.body); ri.ResourceType == in.typ && (ri.ID == in.id || in.id == "") {
		in.id, in.body = ri.ID, res.body
		if ri.Meta.VersionID != "" {
			in.vid = ri.Meta.VersionID
		}
		if ri.Meta.LastUpdated != "" {
			in.lastUpdated = ri.Meta.LastUpdated
		}
	}
	if etag := res.header.Get("ETag"); etag != "" {
		in.etag = etag
		if v := strings.Trim(strings.TrimPrefix(etag, "W/"), `"`); v != "" && in.vid == "" {
			in.vid = v
		}
	}
}

// ref is "Type/id".
func (in *instance) ref() string { return in.typ + "/" + in.id }

// create POSTs a new resource of type typ from its fixture, tagged with
// tag (a new one when ""), and returns it; header adds request headers. want are the acceptable
// statuses (default 201). It returns nil, having failed or skipped c, when
// the server did not create it.
func (r *runner) create(ctx context.Context, c *check, typ, tag string, header map[string]string, want ...int) (*instance, *response) {
	if tag == "" {
		tag = r.newTag()
	}
	in := &instance{typ: typ, tag: tag, owned: true}
	body, ok := fixture(typ, "", in.tag)
	if !ok {
		c.skip("the harness has no instance of %s to create (not an R4 resource type)", typ)
		return nil, nil
	}
	if len(want) == 0 {
		want = []int{http.StatusCreated}
	}
	h := map[string]string{"Prefer": "return=representation"}
	for k, v := range header {
		h[k] = v
	}
	res := c.expect(ctx, http.MethodPost, typ, body, h, want...)
	if res == nil {
		return nil, nil
	}
	in.learn(res)
	if in.id == "" {
		c.fail("POST %s answered %d without a Location header or a resource with an id", typ, res.status)
		return nil, res
	}
	if res.status == http.StatusCreated {
		r.track(typ, in.id, true)
	}
	return in, res
}

// putNew PUTs a new resource with a client-chosen id (update as create).
func (r *runner) putNew(ctx context.Context, c *check, typ string) *instance {
	in := &instance{typ: typ, tag: r.newTag(), owned: true}
	in.id = "h" + in.tag
	body, ok := fixture(typ, in.id, in.tag)
	if !ok {
		c.skip("the harness has no instance of %s to create (not an R4 resource type)", typ)
		return nil
	}
	res := c.expect(ctx, http.MethodPut, in.ref(), body, map[string]string{"Prefer": "return=representation"}, http.StatusCreated)
	if res == nil {
		// A server that created it anyway (200) still gets it deleted.
		r.track(typ, in.id, true)
		return nil
	}
	r.track(typ, in.id, true)
	in.learn(res)
	return in
}

// gone checks that a deleted resource reads as 410 Gone (404 Not Found is
// accepted too unless the server keeps history) and records it as deleted.
func (r *runner) gone(ctx context.Context, c *check, in *instance, history bool) bool {
	want := []int{http.StatusGone, http.StatusNotFound}
	if history {
		want = want[:1]
	}
	if c.expect(ctx, http.MethodGet, in.ref(), nil, nil, want...) == nil {
		return false
	}
	r.track(in.typ, in.id, false)
	return true
}

// condition is a search that selects exactly in: its harness tag when the
// type claims _tag, else its id; "" when neither is claimed.
func condition(rc *conformance.RestResourceJSON, in *instance) string {
	switch {
	case rc.Param("_tag") != nil:
		return query("_tag", tagSystem+"|"+in.tag)
	case rc.Param("_id") != nil:
		return query("_id", in.id)
	}
	return ""
}

// httpDate is the HTTP date an hour after a FHIR instant ("" if unparsable).
func httpDate(instant string) string {
	t, err := time.Parse(time.RFC3339Nano, instant)
	if err != nil {
		return ""
	}
	return t.Add(time.Hour).UTC().Format(http.TimeFormat)
}

// weakETag is the ETag of version vid.
func weakETag(vid string) string { return fmt.Sprintf(`W/"%s"`, vid) }
