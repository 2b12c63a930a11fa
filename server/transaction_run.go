package server

import (
	"errors"
	"mime"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/auth/scope"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// A transaction runs in two passes over its write entries, in processing
// order, then commits:
//
//  1. resolve (transaction_resolve.go): authorize each entry, find its target (the id a POST gets,
//     the match of a conditional interaction, the current version of what
//     it changes) and check If-Match; a DELETE's write is made here.
//     Afterwards every fullUrl is known as the Type/id it stands for.
//  2. content: rewrite each resource's references to other entries and its
//     conditional references, parse and validate it (or apply the patch),
//     and make its write as an update would, checked against the token.
//  3. hold the locks of its conditional creates (transaction_locks.go),
//     then one WriteAtomic with every write, each a compare-and-swap on
//     the version resolve read. A conflict with a concurrent writer on an
//     entry without If-Match runs the transaction again from the start.
//
// GET and HEAD entries run after the commit (see transaction) and see its
// writes. A resource may be the target of one write entry only.

// errNoTransactions is the refusal of a transaction by a store without
// atomic writes.
var errNoTransactions = fhir.Errorf(http.StatusNotImplemented, fhir.CodeNotSupported,
	"this server's MongoDB deployment has no multi-document transactions (a standalone server or FerretDB), so a transaction Bundle cannot be all or nothing and nothing of it was done; run MongoDB as a replica set, or send the entries as a batch")

// transaction processes a transaction Bundle all or nothing and returns
// its transaction-response.
func (s *Server) transaction(c echo.Context, entries []bundleEntry) (*bundle, error) {
	if err := s.store.WriteAtomic(c.Request().Context(), nil); errors.Is(err, storage.ErrNoTransactions) {
		return nil, errNoTransactions
	} else if err != nil {
		return nil, err
	}
	order := make([]int, len(entries))
	for i := range entries {
		if err := checkRequest(&entries[i]); err != nil {
			return nil, entryError(i, err)
		}
		order[i] = i
	}
	sortByMethod(entries, order)
	out := newBundle("transaction-response", s.now())
	out.Entry = make([]bundleEntry, len(entries))
	ctx := c.Request().Context()
	locks := &condLocks{store: s.store, held: map[string]bool{}}
	defer locks.release(ctx)
	giveUp := time.Now().Add(conditionLockTTL)
	for attempt := 1; ; attempt++ {
		t := &txn{s: s, c: c, entries: entries, ops: make([]*txOp, len(entries)), locks: locks,
			ids: map[string]string{}, targets: map[string]int{}, condRefs: map[string]string{}, deleted: map[string]bool{}}
		err := t.run(order)
		c.Set(decisionKey, nil)
		switch {
		case errors.Is(err, errResolveAgain) && time.Now().Before(giveUp):
			continue
		case errors.Is(err, errResolveAgain):
			return nil, errLocksBusy
		case t.retry && attempt < maxWriteAttempts:
			continue
		case err != nil:
			return nil, err
		}
		for i, op := range t.ops {
			if op != nil {
				out.Entry[i] = t.response(op)
			}
		}
		break
	}
	for _, i := range order {
		if m := entries[i].Request.Method; m == http.MethodGet || m == http.MethodHead {
			out.Entry[i] = s.dispatch(c, i, &entries[i])
		}
	}
	return out, nil
}

// txn is one attempt at a transaction.
type txn struct {
	s       *Server
	c       echo.Context
	entries []bundleEntry
	// ops[i] is the write entry i (nil for GET and HEAD).
	ops    []*txOp
	writes []storage.Write
	// writers[k] is the entry of writes[k].
	writers []*txOp
	// ids maps each fullUrl to the Type/id it stands for.
	ids map[string]string
	// targets maps Type/id to the entry that writes it.
	targets map[string]int
	// condRefs caches resolved conditional references; mu guards it.
	condRefs map[string]string
	mu       sync.Mutex
	// deleted holds the Type/id of what the transaction deletes, which
	// the searches of later entries must not find.
	deleted map[string]bool
	// retry is set when the commit lost a race that another attempt may
	// win.
	retry bool
	// locks are the conditional locks the transaction holds (see
	// transaction_locks.go); creates are the keys of the conditions whose
	// entries create because nothing matched.
	locks   *condLocks
	creates []string
}

// txOp is a write entry of a transaction.
type txOp struct {
	i      int
	method string
	u      entryURL
	// want is If-Match (0: none).
	want     int64
	decision *scope.Decision
	// id is the target's id ("" when a conditional delete matched nothing).
	id string
	// prev is the target's current version, nil when there is none.
	prev *fhir.Resource
	// write is the write content made.
	write *storage.Write
	// result is what the entry answers with: the version it wrote (after
	// the commit) or the one that made a write needless.
	result *fhir.Resource
	status int
}

// run resolves, makes the content of, and commits the write entries.
func (t *txn) run(order []int) error {
	for _, i := range order {
		if err := t.resolve(i); err != nil {
			return entryError(i, err)
		}
	}
	var ops []*txOp
	for _, i := range order {
		if op := t.ops[i]; op != nil && op.method != http.MethodDelete && op.result == nil {
			ops = append(ops, op)
		}
	}
	if err := t.contents(ops); err != nil {
		return err
	}
	if err := t.locks.cover(t.c.Request().Context(), t.creates); err != nil {
		return err
	}
	return t.commit()
}

// contents makes the content of ops (see content) on all processors, as
// parsing and validating are most of a transaction's cost, and adds their
// writes in processing order. Each worker has an echo context of its own
// for the entries' decisions. Once an entry fails, no other starts; the
// failure named is the first in processing order.
func (t *txn) contents(ops []*txOp) error {
	var (
		next   atomic.Int64
		failed atomic.Bool
		wg     sync.WaitGroup
	)
	errs := make([]error, len(ops))
	for range min(runtime.GOMAXPROCS(0), len(ops)) {
		c := t.fork()
		wg.Go(func() {
			for k := int(next.Add(1) - 1); k < len(ops) && !failed.Load(); k = int(next.Add(1) - 1) {
				if errs[k] = t.content(c, ops[k]); errs[k] != nil {
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()
	for k, op := range ops {
		if errs[k] != nil {
			return entryError(op.i, errs[k])
		}
	}
	for _, op := range ops {
		if op.write != nil {
			t.add(op, *op.write)
		}
	}
	return nil
}

// fork returns a context for a worker of contents: the request's, with
// its principal and logging, without a decision.
func (t *txn) fork() echo.Context {
	c := t.s.echo.NewContext(t.c.Request(), t.c.Response())
	for _, k := range []string{principalKey, ctxRequestID, ctxBaseLogger} {
		c.Set(k, t.c.Get(k))
	}
	return c
}

// content makes the write of a POST, PUT or PATCH entry: the new content,
// with its references rewritten, validated, indexed and checked against
// the token. An update that changes nothing writes nothing.
func (t *txn) content(c echo.Context, op *txOp) error {
	s, e, typ := t.s, &t.entries[op.i], op.u.typ
	c.Set(decisionKey, op.decision)
	var p *fhir.Parsed
	if op.method == http.MethodPatch {
		pt, err := s.entryPatch(e)
		if err != nil {
			return err
		}
		if p, err = s.patched(typ, op.id, pt)(op.prev); err != nil {
			return err
		}
	} else {
		if len(e.Resource) == 0 {
			return fhir.Errorf(http.StatusBadRequest, fhir.CodeRequired, "a %s entry needs a resource", op.method)
		}
		body, err := t.rewrite(c, e.Resource)
		if err != nil {
			return err
		}
		if p, err = s.parseAs(body, typ); err != nil {
			return err
		}
		if err := checkBodyID(op, p.ID()); err != nil {
			return err
		}
		p.SetID(op.id)
	}
	if op.method != http.MethodPost && op.prev != nil && !op.prev.Deleted {
		same, err := s.unchanged(p, op.prev)
		if err != nil {
			return err
		}
		if same {
			op.result = op.prev
			return nil
		}
	}
	w, err := s.prepare(c, p, op.prev, op.method)
	if err != nil {
		return err
	}
	op.write = &w
	return nil
}

// checkBodyID checks the id in a PUT's resource against its target: an
// update by id carries the URL's id; a conditional update may carry none.
// A POST's id is replaced.
func checkBodyID(op *txOp, bodyID string) error {
	switch {
	case op.method != http.MethodPut || bodyID == op.id:
		return nil
	case bodyID == "" && op.u.conditional():
		return nil
	case bodyID == "":
		return fhir.Errorf(http.StatusBadRequest, fhir.CodeRequired, "the resource has no id; an update must carry the id of request.url (%s)", op.id).At(op.u.typ + ".id")
	}
	return fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid, "the resource's id %q differs from its target's, %s/%s", bodyID, op.u.typ, op.id).At(op.u.typ + ".id")
}

// entryPatch reads a PATCH entry's patch: a Binary holding a JSON Patch,
// or a FHIRPath Patch Parameters resource.
func (s *Server) entryPatch(e *bundleEntry) (patcher, error) {
	body, contentType, err := entryBody(e)
	if err != nil {
		return nil, err
	}
	if mt, _, _ := mime.ParseMediaType(contentType); strings.EqualFold(mt, mimeJSONPatch) {
		return parseJSONPatch(body)
	}
	model, err := s.spec.FHIRPathModel()
	if err != nil {
		return nil, err
	}
	return parseFHIRPathPatch(body, model)
}

// commit writes every write of the transaction at once, with the
// transaction's audit record.
func (t *txn) commit() error {
	ws := t.writes
	if record(t.c) != nil && len(ws) > 0 {
		prev := map[string]*fhir.Resource{}
		for _, op := range t.writers {
			prev[op.u.typ+"/"+op.id] = op.prev
		}
		aw, err := t.s.successRecord(t.c, ws, prev, "")
		if err != nil {
			return err
		}
		ws = append(ws[:len(ws):len(ws)], aw)
	}
	err := t.s.store.WriteAtomic(t.c.Request().Context(), ws)
	var ae *storage.AtomicError
	switch {
	case errors.As(err, &ae) && ae.Index == len(t.writes):
		return ae.Err // the audit record: the transaction fails
	case errors.As(err, &ae):
		op := t.writers[ae.Index]
		t.retry = errors.Is(err, storage.ErrVersionConflict) && op.want == 0
		return entryError(op.i, versionConflict(ae.Err, op.want, op.u.typ, op.id))
	case errors.Is(err, storage.ErrNoTransactions):
		return errNoTransactions
	case err != nil:
		return err
	}
	for k, op := range t.writers {
		op.result = &t.writes[k].Resource
	}
	auditWritten(t.c)
	return nil
}

// response is the response entry of write entry op.
func (t *txn) response(op *txOp) bundleEntry {
	if op.result == nil {
		return bundleEntry{Response: &entryResponse{Status: statusLine(op.status)}}
	}
	return t.s.writtenEntry(t.c, op.result, op.status)
}
