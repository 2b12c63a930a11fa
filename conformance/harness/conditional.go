package harness

import (
	"context"
	"net/http"
)

// conditionals checks conditional create, update and delete and update
// as create, as claimed.
func (t *typeRun) conditionals(ctx context.Context, in *instance) {
	cond := condition(t.rc, in)
	const noCondition = "a condition needs _tag or _id, and neither is claimed"
	if t.rc.ConditionalCreate {
		c := t.claim(KindCapability, "conditionalCreate")
		if cond == "" {
			c.skip(noCondition)
		} else {
			t.conditionalCreate(ctx, c, in, cond)
		}
	}
	if t.rc.ConditionalUpdate {
		c := t.claim(KindCapability, "conditionalUpdate")
		if cond == "" {
			c.skip(noCondition)
		} else {
			t.conditionalUpdate(ctx, c, in, cond)
		}
	}
	if mode := t.rc.ConditionalDelete; mode == "single" || mode == "multiple" {
		c := t.claim(KindCapability, "conditionalDelete: "+mode)
		if cond == "" || mode == "multiple" && t.rc.Param("_tag") == nil {
			c.skip("a condition selecting the harness's resources needs _tag, which is not claimed")
		} else {
			t.conditionalDelete(ctx, c, mode)
		}
	}
	if t.rc.UpdateCreate && t.has("create") { // else establish checked it
		c := t.claim(KindCapability, "updateCreate")
		if n := t.r.putNew(ctx, c, in.typ); n != nil {
			c.pass("PUT to a new id created %s", n.ref())
		}
	}
}

// conditionalCreate: If-None-Exist matching in answers 200 and creates
// nothing; matching nothing, it creates.
func (t *typeRun) conditionalCreate(ctx context.Context, c *check, in *instance, cond string) {
	n, res := t.r.create(ctx, c, in.typ, "", map[string]string{"If-None-Exist": cond}, http.StatusOK, http.StatusCreated)
	if n == nil {
		return
	}
	if res.status == http.StatusCreated || n.id != in.id {
		c.fail("If-None-Exist: %s, which matches %s, answered %d with %s instead of 200 with the match", cond, in.ref(), res.status, n.ref())
		return
	}
	tag := t.r.newTag()
	none := query("_id", "x-harness-nomatch")
	if t.rc.Param("_tag") != nil {
		none = query("_tag", tagSystem+"|"+tag)
	}
	if n, _ := t.r.create(ctx, c, in.typ, tag, map[string]string{"If-None-Exist": none}, http.StatusCreated); n != nil {
		c.pass("If-None-Exist matching %s answers 200 without creating; matching nothing, it created %s", in.ref(), n.ref())
	}
}

// conditionalUpdate: PUT Type?condition updates the one match.
func (t *typeRun) conditionalUpdate(ctx context.Context, c *check, in *instance, cond string) {
	if in.body == nil {
		c.fail("no copy of %s to update", in.ref())
		return
	}
	code := in.tag + "-conditional"
	res := c.expect(ctx, http.MethodPut, in.typ+"?"+cond, withTag(in.body, code), map[string]string{"Prefer": "return=representation"}, http.StatusOK)
	if res == nil {
		return
	}
	in.learn(res)
	if t.changed(ctx, c, in, code) {
		c.pass("PUT %s?%s updated %s", in.typ, cond, in.ref())
	}
}

// conditionalDelete creates one resource (two for multiple) with a fresh
// tag and deletes them by it.
func (t *typeRun) conditionalDelete(ctx context.Context, c *check, mode string) {
	tag := t.r.newTag()
	var made []*instance
	for range map[string]int{"single": 1, "multiple": 2}[mode] {
		n, _ := t.r.create(ctx, c, t.rc.Type, tag, nil)
		if n == nil {
			return
		}
		made = append(made, n)
	}
	cond := query("_id", made[0].id)
	if t.rc.Param("_tag") != nil {
		cond = query("_tag", tagSystem+"|"+tag)
	}
	if c.expect(ctx, http.MethodDelete, t.rc.Type+"?"+cond, nil, nil, http.StatusOK, http.StatusAccepted, http.StatusNoContent) == nil {
		return
	}
	for _, n := range made {
		if !t.r.gone(ctx, c, n, false) {
			return
		}
	}
	c.pass("DELETE %s?%s deleted the %d matching resources", t.rc.Type, cond, len(made))
}

// operations checks the type's operations.
func (t *typeRun) operations(ctx context.Context, in *instance) {
	for _, op := range t.rc.Operation {
		t.r.operation(ctx, t.claim(KindOperation, "$"+op.Name), in.typ, op.Name, in)
	}
}
