package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/auth/scope"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// The first pass of a transaction (see transaction_run.go): each write
// entry authorized, its target found, its If-Match checked, its fullUrl
// named; a DELETE's write made.

// resolve authorizes write entry i and finds its target.
func (t *txn) resolve(i int) error {
	s, c, e := t.s, t.c, &t.entries[i]
	op := &txOp{i: i, method: e.Request.Method}
	switch op.method {
	case http.MethodGet, http.MethodHead:
		return nil
	case http.MethodPost:
		u, err := s.parseEntryURL(e.Request.URL)
		if err != nil {
			return err
		}
		if u.id != "" || len(u.query) > 0 {
			return fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid, "a POST entry's request.url is a resource type, not %q", e.Request.URL)
		}
		op.u = u
	default:
		u, err := s.target(e.Request.URL, true)
		if err != nil {
			return err
		}
		op.u = u
	}
	if err := s.checkType(op.u.typ); err != nil {
		return err
	}
	if op.method == http.MethodPatch || op.method == http.MethodDelete {
		if err := refuseChange(op.u.typ, strings.ToLower(op.method)); err != nil {
			return err
		}
	}
	want, err := entryIfMatch(e.Request.IfMatch)
	if err != nil {
		return err
	}
	op.want = want
	c.Set(decisionKey, nil)
	if err := s.decideEntry(c, entryInteractions[op.method], op.u.typ); err != nil {
		return err
	}
	op.decision = decision(c)
	t.ops[i] = op
	if err := t.find(op, e); err != nil {
		return err
	}
	if op.id == "" || op.result != nil && op.method == http.MethodPost {
		return t.name(op, e)
	}
	if err := t.claim(op); err != nil {
		return err
	}
	if err := checkPrecondition(op.want, op.prev, op.u.typ, op.id); err != nil {
		return err
	}
	if op.prev != nil && !op.prev.Deleted {
		if err := refuseChange(op.u.typ, "update"); err != nil {
			return err
		}
	}
	if op.method == http.MethodDelete {
		t.remove(op)
	}
	return t.name(op, e)
}

// entryInteractions are the interactions SMART scopes decide write
// entries as.
var entryInteractions = map[string]scope.Interaction{
	http.MethodPost: scope.Create, http.MethodPut: scope.Update, http.MethodPatch: scope.Patch, http.MethodDelete: scope.Delete,
}

// entryIfMatch reads request.ifMatch as ifMatch reads the header.
func entryIfMatch(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, ok := parseETag(v)
	if !ok {
		return 0, fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid, `request.ifMatch %q is not a version ETag such as W/"3"`, v)
	}
	return n, nil
}

// find sets op's target: a conditional interaction's match (confined to
// what the token reaches), or the id the URL names, or a new id; and its
// current version.
func (t *txn) find(op *txOp, e *bundleEntry) error {
	s, typ := t.s, op.u.typ
	var criteria url.Values
	switch {
	case op.method == http.MethodPost && e.Request.IfNoneExist != "":
		params, err := criteriaParams(typ, e.Request.IfNoneExist)
		if err != nil {
			return err
		}
		criteria = params
	case op.u.conditional():
		criteria = op.u.query
	}
	if criteria != nil {
		cond, err := s.parseCondition(typ, criteria)
		if err != nil {
			return err
		}
		found, err := t.findOne(cond)
		if err != nil {
			return err
		}
		if found != nil {
			op.id, op.prev, op.status = found.ID, found, http.StatusOK
			if op.method == http.MethodPost {
				op.result = found
			}
			return nil
		}
		if op.method == http.MethodPost || op.method == http.MethodPut {
			t.creates = append(t.creates, cond.key)
		}
	}
	switch op.method {
	case http.MethodPost:
		op.id, op.status = uuid.NewString(), http.StatusCreated
		return nil
	case http.MethodDelete:
		if criteria != nil {
			op.status = http.StatusNoContent // nothing matches: nothing to delete
			return nil
		}
	case http.MethodPatch:
		if criteria != nil {
			return fhir.Errorf(http.StatusNotFound, fhir.CodeNotFound, "no %s matches the criteria", typ)
		}
	case http.MethodPut:
		if criteria != nil {
			return t.findCreated(op, e)
		}
	}
	op.id = op.u.id
	return t.current(op, true)
}

// findCreated is the target of a conditional update that matched
// nothing: the body's id when it has one (which must not name a live
// resource, as the criteria did not match it), else a new id.
func (t *txn) findCreated(op *txOp, e *bundleEntry) error {
	var head struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(e.Resource, &head); err != nil || head.ID == "" {
		op.id = uuid.NewString()
		return t.current(op, false)
	}
	op.id = head.ID
	if err := checkID(op.u.typ, op.id); err != nil {
		return err
	}
	if err := t.current(op, false); err != nil {
		return err
	}
	if op.prev != nil && !op.prev.Deleted {
		return fhir.Errorf(http.StatusConflict, fhir.CodeConflict,
			"no %s matches the criteria, and %s/%s exists but does not match them", op.u.typ, op.u.typ, op.id)
	}
	return nil
}

// current reads op's target's current version. An entry that names its
// target by id may change it only when the token reaches it (checked
// when confined, as for the REST interaction).
func (t *txn) current(op *txOp, byID bool) error {
	s, c, typ := t.s, t.c, op.u.typ
	prev, err := s.store.Read(c.Request().Context(), typ, op.id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		if op.method == http.MethodPut {
			op.status = http.StatusCreated
			return nil
		}
		return fhir.NotFound(typ, op.id)
	case err != nil:
		return err
	}
	op.prev = prev
	op.status = http.StatusOK
	if op.method == http.MethodPut && prev.Deleted {
		op.status = http.StatusCreated
	}
	if d := op.decision; byID && d != nil && (d.Compartment != "" || d.Constraints != nil) && (op.method != http.MethodPut || !prev.Deleted) {
		return s.checkStored(c, typ, op.id, d)
	}
	return nil
}

// claim records that op writes its target, which no other entry may.
func (t *txn) claim(op *txOp) error {
	key := op.u.typ + "/" + op.id
	if j, ok := t.targets[key]; ok {
		return fhir.Errorf(http.StatusBadRequest, fhir.CodeDuplicate,
			"Bundle.entry[%d] changes %s too; a transaction may change a resource once", j, key)
	}
	t.targets[key] = op.i
	return nil
}

// remove makes a DELETE's write, or its answer when there is nothing to
// delete.
func (t *txn) remove(op *txOp) {
	op.status = http.StatusNoContent
	if op.prev.Deleted {
		op.result = op.prev
		return
	}
	r := fhir.Resource{Type: op.u.typ, ID: op.id, Version: op.prev.Version + 1, LastUpdated: t.s.nextTime(op.prev), Deleted: true, Method: http.MethodDelete}
	t.add(op, storage.Write{Resource: r, Expected: op.prev.Version})
	t.deleted[op.u.typ+"/"+op.id] = true
}

// matches returns up to n resources that match cond, inside the
// confinement of c's decision, leaving out those the transaction deletes.
func (t *txn) matches(c echo.Context, cond *condition, n int) ([]fhir.Resource, error) {
	found, err := t.s.findMatches(c, cond, n+len(t.deleted))
	if err != nil {
		return nil, err
	}
	live := found[:0]
	for _, r := range found {
		if !t.deleted[r.Type+"/"+r.ID] {
			live = append(live, r)
		}
	}
	return live[:min(n, len(live))], nil
}

// findOne returns the one resource that matches cond, nil when none does,
// and a 412 when several do.
func (t *txn) findOne(cond *condition) (*fhir.Resource, error) {
	found, err := t.matches(t.c, cond, 2)
	switch {
	case err != nil:
		return nil, err
	case len(found) > 1:
		return nil, fhir.Errorf(http.StatusPreconditionFailed, fhir.CodeMultipleMatches,
			"the criteria %s match more than one %s; make them more selective", cond.query.Encode().Encode(), cond.typ)
	case len(found) == 1:
		return &found[0], nil
	}
	return nil, nil
}

// add appends op's write.
func (t *txn) add(op *txOp, w storage.Write) {
	t.writes = append(t.writes, w)
	t.writers = append(t.writers, op)
}

// urnPattern is what a fullUrl that is not a URL must look like.
var urnPattern = regexp.MustCompile(`^urn:(uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|oid:[0-2](\.(0|[1-9][0-9]*))+)$`)

// name records the Type/id entry e's fullUrl stands for. A fullUrl is an
// absolute URL, a urn:uuid or a urn:oid, and unique in the Bundle.
func (t *txn) name(op *txOp, e *bundleEntry) error {
	full := e.FullURL
	if full == "" || op.id == "" {
		return nil
	}
	if u, err := url.Parse(full); !urnPattern.MatchString(full) && (err != nil || !u.IsAbs() || u.Host == "") {
		return fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid,
			"fullUrl %q is neither an absolute URL nor a urn:uuid or urn:oid", full)
	}
	if _, dup := t.ids[full]; dup {
		return fhir.Errorf(http.StatusBadRequest, fhir.CodeDuplicate, "fullUrl %q is used by another entry", full)
	}
	t.ids[full] = op.u.typ + "/" + op.id
	return nil
}
