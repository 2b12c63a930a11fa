package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/audit"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// The audit trail. Every FHIR and ingest request (but the public
// CapabilityStatement, OperationDefinitions and SMART discovery, and CORS
// preflights) leaves one AuditEvent (package audit) saying who asked
// (the token's user and client, the address), what (the resources with
// their versions, or the query), which patients, and how it ended —
// refusals by authorization included. The record is written before the
// client hears anything:
//
//   - a write's record is committed with the write itself (commit), in one
//     store transaction: no change without its record, no record of a
//     change that did not happen. A store without transactions (FerretDB,
//     a standalone MongoDB) gets the record right after the write.
//   - any other request's record is written after the handler, while its
//     response is held back (held); when the record cannot be written the
//     response is dropped and the client gets a 500 instead.
//
// AuditEvents are append-only: create (also by PUT with a new id, to
// import another system's records) and read, but no update of a stored
// one, no patch, no delete (appendOnly); the CapabilityStatement does not
// claim these.

// appendOnly reports whether resources of typ may be created and read but
// never changed or deleted through the API: the audit trail.
func appendOnly(typ string) bool { return typ == "AuditEvent" }

// refuseChange is the answer to an update, patch or delete of an
// append-only type.
func refuseChange(typ, interaction string) error {
	if !appendOnly(typ) {
		return nil
	}
	return fhir.Errorf(http.StatusMethodNotAllowed, fhir.CodeNotSupported,
		"%s resources are an append-only audit trail: %s is not allowed", typ, interaction)
}

// ctxAudit is the echo context key of the request's *auditRecord.
const ctxAudit = "medbridge.audit"

// auditTimeout bounds the writing of a record after the request's own
// context ended (a client that hung up is audited too).
const auditTimeout = 30 * time.Second

// auditRecord collects what a request's AuditEvent says while handlers run.
type auditRecord struct {
	interaction string
	start       time.Time
	// kind is the record's type, subtype and action (interactionKinds),
	// changed by handlers that know better (a batch, an update that
	// created).
	kind auditKind
	// entities are the resources the request touched; patients the ids of
	// the patients they concern.
	entities []audit.Entity
	patients []string
	// written is set once a success record has been committed with the
	// request's writes: no other is needed unless the request then fails.
	written bool
}

// auditKind is how an interaction is recorded.
type auditKind struct {
	typ     audit.Coding
	subtype []audit.Coding
	action  string
}

func rest(subtype, action string) auditKind {
	return auditKind{typ: audit.REST, subtype: []audit.Coding{audit.Interaction(subtype)}, action: action}
}

func operation(name string) auditKind {
	k := rest("operation", audit.Execute)
	k.subtype = append(k.subtype, audit.Operation("$"+name))
	return k
}

func ingestKind(name, action string) auditKind {
	return auditKind{typ: audit.REST, subtype: []audit.Coding{audit.Operation(name)}, action: action}
}

// interactionKinds maps the route interactions to their records: the
// restful-interaction codes of R4, Execute for searches and operations as
// R4's own examples and IHE BALP do.
var interactionKinds = map[string]auditKind{
	"read":                        rest("read", audit.Read),
	"vread":                       rest("vread", audit.Read),
	"update":                      rest("update", audit.Update),
	"conditional-update":          rest("update", audit.Update),
	"patch":                       rest("patch", audit.Update),
	"conditional-patch":           rest("patch", audit.Update),
	"delete":                      rest("delete", audit.Delete),
	"conditional-delete":          rest("delete", audit.Delete),
	"create":                      rest("create", audit.Create),
	"history-instance":            rest("history-instance", audit.Read),
	"history-type":                rest("history-type", audit.Read),
	"history-system":              rest("history-system", audit.Read),
	"search-type":                 rest("search-type", audit.Execute),
	"search-compartment":          rest("search-type", audit.Execute),
	"search-system":               rest("search-system", audit.Execute),
	"transaction":                 rest("transaction", audit.Execute),
	"operation-lastn":             operation("lastn"),
	"operation-stats":             operation("stats"),
	"operation-validate":          operation("validate"),
	"operation-validate-instance": operation("validate"),
	"ingest":                      {typ: audit.Import, action: audit.Create},
	"ingest-replay":               {typ: audit.Import, action: audit.Create},
	"ingest-mappings":             ingestKind("ingest-mappings", audit.Read),
	"ingest-errors":               ingestKind("ingest-errors", audit.Read),
	"ingest-error":                ingestKind("ingest-error", audit.Read),
	"ingest-discard":              ingestKind("ingest-discard", audit.Delete),
}

// audited is the middleware that records a request (see the top of this
// file). It runs outside authorize, so refusals are recorded too.
func (s *Server) audited(interaction string) echo.MiddlewareFunc {
	kind, ok := interactionKinds[interaction]
	if !ok && !public[interaction] {
		panic("server: no audit rule for interaction " + interaction) // a route added without one
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if !ok || s.noAudit {
			return next
		}
		return func(c echo.Context) error {
			if c.Request().Method == http.MethodOptions {
				return next(c)
			}
			rec := &auditRecord{interaction: interaction, start: s.now(), kind: kind}
			c.Set(ctxAudit, rec)
			h := hold(c)
			err := next(c)
			if err != nil {
				s.handleError(err, c)
			}
			status := c.Response().Status
			if rec.written && err == nil && status < http.StatusBadRequest {
				return h.release()
			}
			ev := s.auditEvent(c)
			ev.Outcome = audit.OutcomeOf(status)
			if err != nil {
				ev.Description = s.toFHIRError(err, c).Issues[0].Diagnostics
			}
			if aerr := s.writeAudit(c.Request().Context(), ev); aerr != nil {
				h.drop()
				logger(c).Error("audit record not written: the request fails", "error", aerr.Error())
				return fhir.Errorf(http.StatusInternalServerError, fhir.CodeException,
					"the audit record of this request could not be written, so its result is withheld; quote request id %s to the operator", requestID(c))
			}
			return h.release()
		}
	}
}

// record returns the request's audit record, nil when it is not audited.
func record(c echo.Context) *auditRecord {
	rec, _ := c.Get(ctxAudit).(*auditRecord)
	return rec
}

// auditAs changes how the request is recorded (a Bundle turns out to be a
// batch).
func auditAs(c echo.Context, interaction string) {
	if rec := record(c); rec != nil {
		rec.kind = interactionKinds[interaction]
		if rec.kind.typ == (audit.Coding{}) {
			rec.kind = rest(interaction, audit.Execute)
		}
	}
}

// auditEvent is the record so far of an audited request: who, when,
// what, patients. The ingest handler completes it and commits it with the
// readings.
func (s *Server) auditEvent(c echo.Context) *audit.Event {
	rec := record(c)
	ev := &audit.Event{
		Type: rec.kind.typ, Subtype: rec.kind.subtype, Action: rec.kind.action,
		Start: rec.start, End: s.now(), Outcome: audit.Success,
		Who: s.who(c), Source: s.baseURL,
		Entities: slices.Clone(rec.entities),
		Patients: append(slices.Clone(rec.patients), s.queryPatients(c)...),
	}
	if len(ev.Entities) == 0 {
		ev.Entities = s.requestEntities(c)
	}
	return ev
}

// auditWritten tells the middleware that the request's success record
// was committed with its data (ingest).
func auditWritten(c echo.Context) {
	if rec := record(c); rec != nil {
		rec.written = true
	}
}

// who is the requestor: the token's client and user, and the address.
func (s *Server) who(c echo.Context) audit.Who {
	var w audit.Who
	if host, _, err := net.SplitHostPort(c.Request().RemoteAddr); err == nil {
		w.Address = host
	}
	if p := principal(c); p != nil {
		w.ClientID, w.Subject, w.FHIRUser = p.ClientID, p.Subject, p.FHIRUser
	}
	return w
}

// requestEntities names what a request without noted resources was
// about: the instance of its URL, or the request itself as a query.
func (s *Server) requestEntities(c echo.Context) []audit.Entity {
	if typ, id := c.Param("type"), c.Param("id"); typ != "" && id != "" && c.Param("target") == "" {
		return []audit.Entity{{Reference: typ + "/" + id}}
	}
	u := *c.Request().URL
	if f := c.Request().PostForm; len(f) > 0 {
		q := u.Query()
		for k, vs := range f {
			q[k] = append(q[k], vs...)
		}
		u.RawQuery = q.Encode()
	}
	return []audit.Entity{{Query: u.RequestURI()}}
}

// queryPatients are the patients a request names: the compartment of its
// URL or token, and Patient references in its parameters.
func (s *Server) queryPatients(c echo.Context) []string {
	var out []string
	if d := decision(c); d != nil && d.Compartment != "" {
		out = append(out, d.Compartment)
	}
	if c.Param("type") == "Patient" && c.Param("id") != "" {
		out = append(out, c.Param("id"))
	}
	params := c.Request().Form
	if params == nil {
		params = c.Request().URL.Query()
	}
	for k, vs := range params {
		name, modifier, _ := strings.Cut(k, ":")
		for _, v := range vs {
			for _, v := range strings.Split(v, ",") {
				id, ok := strings.CutPrefix(strings.TrimPrefix(v, s.baseURL+"/"), "Patient/")
				switch {
				case ok:
				case modifier == "Patient", name == "patient" && modifier == "" && !strings.Contains(v, "/"):
					id = v
				case name == "_id" && c.Param("type") == "Patient":
					id = v
				default:
					continue
				}
				if fhir.ValidID(id) {
					out = append(out, id)
				}
			}
		}
	}
	return out
}

// noteResource records r, a resource the request returns or wrote, and
// the patients it concerns.
func (s *Server) noteResource(c echo.Context, r *fhir.Resource, idx []storage.IndexEntry) {
	rec := record(c)
	if rec == nil {
		return
	}
	rec.entities = append(rec.entities, audit.Entity{Reference: versioned(r)})
	rec.patients = append(rec.patients, s.patientsOf(r, idx)...)
}

func versioned(r *fhir.Resource) string {
	return r.Type + "/" + r.ID + "/_history/" + strconv.FormatInt(r.Version, 10)
}

// patientsOf returns the ids of the patients r concerns: r itself, or the
// patients its compartment parameters reference, from idx or, when idx is
// nil, from r's JSON.
func (s *Server) patientsOf(r *fhir.Resource, idx []storage.IndexEntry) []string {
	if r.Type == "Patient" {
		return []string{r.ID}
	}
	codes := s.spec.CompartmentParams("Patient", r.Type)
	if idx == nil && len(r.JSON) > 0 {
		var err error
		if idx, err = s.extractor.ExtractParams(r.Type, r.JSON, codes); err != nil {
			return nil // stored JSON always extracts; nothing to add otherwise
		}
	}
	var out []string
	for _, e := range idx {
		if e.RefType == "Patient" && slices.Contains(codes, e.Param) {
			out = append(out, e.RefID)
		}
	}
	return out
}

// successRecord is the AuditEvent write that commits with ws, the writes
// of a successful request (prev, when set, are the versions the deletions
// among them replace: their patients are those of the deleted content).
// action, when set, replaces the interaction's.
func (s *Server) successRecord(c echo.Context, ws []storage.Write, prev map[string]*fhir.Resource, action string) (storage.Write, error) {
	rec := record(c)
	ev := s.auditEvent(c)
	ev.Entities = slices.Clone(rec.entities)
	if action != "" {
		ev.Action = action
	}
	for i := range ws {
		r := &ws[i].Resource
		ev.Entities = append(ev.Entities, audit.Entity{Reference: versioned(r)})
		ev.Patients = append(ev.Patients, s.patientsOf(r, ws[i].Index)...)
		if p := prev[r.Type+"/"+r.ID]; r.Deleted && p != nil {
			ev.Patients = append(ev.Patients, s.patientsOf(p, nil)...)
		}
	}
	return s.auditWrite(ev)
}

// writeAction is the action of a request whose one write is w: an update
// may create.
func writeAction(w storage.Write) string {
	switch {
	case w.Resource.Deleted:
		return audit.Delete
	case w.Expected == 0:
		return audit.Create
	}
	return audit.Update
}

// commit writes w, the one write of a request, with the request's success
// record (see the top of this file). prev is the version w replaces, if
// any.
func (s *Server) commit(c echo.Context, w storage.Write, prev *fhir.Resource) error {
	ctx := c.Request().Context()
	rec := record(c)
	if rec == nil {
		return s.store.Write(ctx, w)
	}
	aw, err := s.successRecord(c, []storage.Write{w}, map[string]*fhir.Resource{w.Resource.Type + "/" + w.Resource.ID: prev}, writeAction(w))
	if err != nil {
		return err
	}
	err = s.store.WriteAtomic(ctx, []storage.Write{w, aw})
	var ae *storage.AtomicError
	switch {
	case errors.Is(err, storage.ErrNoTransactions):
		// The record follows the write (the middleware writes it).
		if err := s.store.Write(ctx, w); err != nil {
			return err
		}
		rec.kind.action = writeAction(w)
		s.noteResource(c, &w.Resource, w.Index)
		if prev != nil && w.Resource.Deleted {
			rec.patients = append(rec.patients, s.patientsOf(prev, nil)...)
		}
		return nil
	case errors.As(err, &ae) && ae.Index == 0:
		return ae.Err
	case err != nil:
		return err
	}
	rec.written = true
	return nil
}

// auditWrite is the store write of ev as a new AuditEvent.
func (s *Server) auditWrite(ev *audit.Event) (storage.Write, error) {
	r := ev.Resource(uuid.NewString(), fhir.NextLastUpdated(s.now(), time.Time{}))
	idx, err := s.extractor.Extract(r.Type, r.JSON)
	if err != nil {
		return storage.Write{}, err
	}
	return storage.Write{Resource: r, Index: idx}, nil
}

// writeAudit stores ev on its own, even when ctx has ended.
func (s *Server) writeAudit(ctx context.Context, ev *audit.Event) error {
	w, err := s.auditWrite(ev)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	return s.store.Write(ctx, w)
}

// auditedSignIn records the sign-ins and token requests of the built-in
// authorization server, granted or refused: the requesting client (as it
// names itself), the user name tried at sign-in (never the password),
// the grant type, the outcome.
func (s *Server) auditedSignIn(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		signIn, token := strings.HasSuffix(r.URL.Path, "/login"), strings.HasSuffix(r.URL.Path, "/token")
		if s.noAudit || r.Method != http.MethodPost || !signIn && !token {
			return next(c)
		}
		start := s.now()
		_ = r.ParseForm() // kept by the request for the handler
		h := hold(c)
		if err := next(c); err != nil {
			s.handleError(err, c)
		}
		ev := &audit.Event{
			Type: audit.Authentication, Subtype: []audit.Coding{audit.Login}, Action: audit.Execute,
			Start: start, End: s.now(), Outcome: audit.OutcomeOf(c.Response().Status),
			Who: s.who(c), Source: s.baseURL,
		}
		ev.Who.ClientID = claimedClient(r)
		if signIn {
			ev.Who.Subject = r.PostForm.Get("username")
			ev.Entities = []audit.Entity{{Name: "sign-in"}}
		} else {
			ev.Entities = []audit.Entity{{Name: "grant_type " + r.PostForm.Get("grant_type")}}
		}
		if err := s.writeAudit(r.Context(), ev); err != nil {
			h.drop()
			logger(c).Error("audit record not written: the request fails", "error", err.Error())
			return fhir.Errorf(http.StatusInternalServerError, fhir.CodeException,
				"the audit record of this request could not be written; quote request id %s to the operator", requestID(c))
		}
		return h.release()
	}
}

// claimedClient is the client a token request names: HTTP Basic
// authentication, client_id, or the issuer of a client assertion (read,
// not verified: the authorization server verifies it).
func claimedClient(r *http.Request) string {
	if id, _, ok := r.BasicAuth(); ok {
		return id
	}
	if id := r.PostForm.Get("client_id"); id != "" {
		return id
	}
	parts := strings.Split(r.PostForm.Get("client_assertion"), ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Issuer string `json:"iss"`
	}
	if err != nil || json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	return claims.Issuer
}

// held keeps a response back until the request's record is written.
type held struct {
	orig   http.ResponseWriter
	header http.Header // the headers before the handler ran
	status int
	body   bytes.Buffer
	c      echo.Context
}

// hold makes the handlers of c write into a buffer.
func hold(c echo.Context) *held {
	h := &held{orig: c.Response().Writer, header: maps.Clone(c.Response().Header()), c: c}
	c.Response().Writer = h
	return h
}

func (h *held) Header() http.Header { return h.orig.Header() }

func (h *held) WriteHeader(code int) { h.status = code }

func (h *held) Write(b []byte) (int, error) { return h.body.Write(b) }

// release sends the held response.
func (h *held) release() error {
	h.c.Response().Writer = h.orig
	if h.status != 0 {
		h.orig.WriteHeader(h.status)
	}
	_, err := h.orig.Write(h.body.Bytes())
	return err
}

// drop forgets the held response and its headers: the request will be
// answered afresh.
func (h *held) drop() {
	hdr := h.orig.Header()
	clear(hdr)
	maps.Copy(hdr, h.header)
	h.c.SetResponse(echo.NewResponse(h.orig, h.c.Echo()))
}

// changes are the interactions that change or remove a resource; an
// update of an append-only type is refused only when it would replace a
// resource (save): creating one with a chosen id is allowed.
var changes = map[string]bool{"patch": true, "delete": true, "conditional-patch": true, "conditional-delete": true}

// mutable refuses the changes of append-only types (405).
func (s *Server) mutable(interaction string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if !changes[interaction] {
			return next
		}
		return func(c echo.Context) error {
			if err := refuseChange(c.Param("type"), interaction); err != nil {
				return err
			}
			return next(c)
		}
	}
}
