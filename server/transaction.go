package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/auth/scope"
	"github.com/medbridge/medbridge/fhir"
)

// Batch and transaction Bundles (POST /fhir, http://hl7.org/fhir/R4/http.html#transaction).
//
// Both are processed in the spec's order — DELETE, then POST, then PUT
// and PATCH, then GET and HEAD — and answered with one entry per request
// entry, in the request's order, each with its response (status,
// location, etag, lastModified, and the OperationOutcome of a failure).
//
// A batch runs each entry as the REST interaction it names, through the
// server's own routes (see dispatch), so every entry behaves and is
// authorized exactly as the same request sent alone; a failing entry
// fails alone. A transaction is all or nothing (see transaction_run.go):
// its writes are prepared against the store, then committed by one
// WriteAtomic; any entry's failure fails the whole Bundle with that
// entry's status and an OperationOutcome naming Bundle.entry[i], and
// nothing is written.
//
// Authorization is per entry: each is decided as the interaction it holds
// (scope.Decide with the request's token) and confined like that
// interaction; the route itself only authenticates.

// DefaultMaxBundleEntries is the default of Config.MaxBundleEntries.
const DefaultMaxBundleEntries = 10000

// processBundle serves POST /fhir: a batch or transaction Bundle.
func (s *Server) processBundle(c echo.Context) error {
	if s.verifier != nil {
		if err := s.authenticate(c); err != nil {
			return err
		}
	}
	in, err := s.readBundle(c)
	if err != nil {
		return err
	}
	c.Set(ctxInteraction, in.Type)
	auditAs(c, in.Type)
	var out *bundle
	if in.Type == "transaction" {
		out, err = s.transaction(c, in.Entry)
	} else {
		out = s.batch(c, in.Entry)
	}
	if err != nil {
		return err
	}
	body, err := json.Marshal(out)
	if err != nil {
		return err
	}
	writeJSON(c, http.StatusOK, body)
	return nil
}

// readBundle reads the request's Bundle and checks what applies to the
// Bundle as a whole: its type and its size.
func (s *Server) readBundle(c echo.Context) (*bundle, error) {
	body, err := readResourceBody(c)
	if err != nil {
		return nil, err
	}
	var in bundle
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeStructure, "the body is not a Bundle: %v", err)
	}
	if in.ResourceType != "Bundle" {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid,
			"POST to the FHIR base takes a batch or transaction Bundle, not a %q", in.ResourceType).At("resourceType")
	}
	if in.Type != "transaction" && in.Type != "batch" {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid,
			"Bundle.type is %q; POST to the FHIR base takes a batch or a transaction", in.Type).At("Bundle.type")
	}
	if limit := s.bundleLimit(); len(in.Entry) > limit {
		return nil, fhir.Errorf(http.StatusRequestEntityTooLarge, fhir.CodeTooCostly,
			"the Bundle has %d entries; this server takes at most %d in one %s, so split it", len(in.Entry), limit, in.Type).At("Bundle.entry")
	}
	return &in, nil
}

// bundleLimit is the largest number of entries a batch or transaction may
// have.
func (s *Server) bundleLimit() int {
	if s.maxBundleEntries <= 0 {
		return DefaultMaxBundleEntries
	}
	return s.maxBundleEntries
}

// entryURL is what an entry's request.url names, relative to the base.
type entryURL struct {
	// rel is the URL under the base (e.g. Patient/1?_summary=true).
	rel     string
	typ, id string
	// query holds the parameters: a conditional interaction's criteria,
	// or a search's.
	query url.Values
}

// conditional reports whether the URL names its target by criteria.
func (u entryURL) conditional() bool { return u.id == "" && len(u.query) > 0 }

// parseEntryURL reads request.url: relative to the base, or absolute
// under it.
func (s *Server) parseEntryURL(raw string) (entryURL, error) {
	rel := strings.TrimPrefix(raw, s.baseURL+"/")
	if strings.Contains(rel, "://") {
		return entryURL{}, fhir.Errorf(http.StatusBadRequest, fhir.CodeNotSupported,
			"request.url %q is not under this server's base %s", raw, s.baseURL)
	}
	rel = strings.TrimPrefix(rel, "/")
	p, rawQuery, _ := strings.Cut(rel, "?")
	if p == "" || path.Clean("/"+p) != "/"+strings.TrimSuffix(p, "/") {
		return entryURL{}, fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid,
			"request.url %q names no resource type (e.g. Patient, Patient/1, Patient?identifier=…)", raw)
	}
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return entryURL{}, fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid, "request.url %q: %v", raw, err)
	}
	u := entryURL{rel: rel, query: query}
	segs := strings.Split(p, "/")
	u.typ = segs[0]
	if len(segs) > 1 {
		u.id = segs[1]
	}
	return u, nil
}

// target parses request.url for an interaction on one resource or on the
// resources matching criteria: Type/id, or Type?criteria (when the
// interaction has a conditional form). The type must be known and the id
// valid.
func (s *Server) target(raw string, conditional bool) (entryURL, error) {
	u, err := s.parseEntryURL(raw)
	if err != nil {
		return u, err
	}
	if err := s.checkType(u.typ); err != nil {
		return u, err
	}
	switch segs := strings.Count(strings.SplitN(u.rel, "?", 2)[0], "/"); {
	case segs == 0 && conditional && len(u.query) > 0:
		return u, nil
	case segs == 1 && len(u.query) == 0:
		return u, checkID(u.typ, u.id)
	}
	form := "Type/id"
	if conditional {
		form += " or Type?criteria"
	}
	return u, fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid, "request.url %q is not of the form %s", raw, form)
}

// methodOrder ranks methods in the spec's processing order.
var methodOrder = map[string]int{
	http.MethodDelete: 0, http.MethodPost: 1, http.MethodPut: 2, http.MethodPatch: 2, http.MethodGet: 3, http.MethodHead: 3,
}

// checkRequest refuses an entry without a request or with an unknown
// method.
func checkRequest(e *bundleEntry) error {
	if e.Request == nil {
		return fhir.Errorf(http.StatusBadRequest, fhir.CodeRequired,
			"the entry has no request; each entry of a batch or transaction says what to do with request.method and request.url")
	}
	if _, ok := methodOrder[e.Request.Method]; !ok {
		return fhir.Errorf(http.StatusBadRequest, fhir.CodeNotSupported,
			"request.method %q is not one of GET, HEAD, POST, PUT, PATCH, DELETE", e.Request.Method)
	}
	return nil
}

// sortByMethod sorts indexes of entries (all checked by checkRequest)
// into the processing order, keeping the Bundle's order within a method.
func sortByMethod(entries []bundleEntry, indexes []int) {
	slices.SortStableFunc(indexes, func(a, b int) int {
		return methodOrder[entries[a].Request.Method] - methodOrder[entries[b].Request.Method]
	})
}

// entryError names entry i in err's issues: Bundle.entry[i] in each
// diagnostics, and expressions rooted at the entry's resource. Errors
// that are not *fhir.Error are internal and returned as they are.
func entryError(i int, err error) error {
	var fe *fhir.Error
	if !errors.As(err, &fe) {
		return err
	}
	at := fmt.Sprintf("Bundle.entry[%d]", i)
	out := &fhir.Error{Status: fe.Status, Issues: make([]fhir.Issue, len(fe.Issues))}
	for k, is := range fe.Issues {
		is.Diagnostics = at + ": " + is.Diagnostics
		exprs := []string{at}
		if len(is.Expression) > 0 {
			exprs = make([]string, len(is.Expression))
			for j, x := range is.Expression {
				exprs[j] = at + ".resource" + x[strings.IndexByte(x+".", '.'):]
			}
		}
		is.Expression = exprs
		out.Issues[k] = is
	}
	return out
}

// decideEntry authorizes an entry as interaction on typ and makes the
// decision the request's, so that the checks of confinement that follow
// (searches, checkStored, checkWrite) apply it. Without authorization it
// does nothing.
func (s *Server) decideEntry(c echo.Context, interaction scope.Interaction, typ string) error {
	p := principal(c)
	if s.verifier == nil || p == nil {
		return nil
	}
	d := scope.Decide(grant(p), scope.Request{Interaction: interaction, Type: typ})
	if !d.Allowed {
		return fhir.Errorf(http.StatusForbidden, fhir.CodeForbidden, "%s", d.Reason)
	}
	c.Set(decisionKey, &d)
	return nil
}

// batch runs each entry on its own and answers each; a malformed entry
// is answered with its failure and the others run.
func (s *Server) batch(c echo.Context, entries []bundleEntry) *bundle {
	out := newBundle("batch-response", s.now())
	out.Entry = make([]bundleEntry, len(entries))
	order := make([]int, 0, len(entries))
	for i := range entries {
		if err := checkRequest(&entries[i]); err != nil {
			out.Entry[i] = s.failedEntry(c, i, err)
			continue
		}
		order = append(order, i)
	}
	sortByMethod(entries, order)
	for _, i := range order {
		out.Entry[i] = s.dispatch(c, i, &entries[i])
	}
	return out
}

// failedEntry is the response entry of entry i that failed with err.
func (s *Server) failedEntry(c echo.Context, i int, err error) bundleEntry {
	fe := s.toFHIRError(entryError(i, err), c)
	return bundleEntry{Response: &entryResponse{Status: statusLine(fe.Status), Outcome: outcomeJSON(fe.Issues)}}
}

// statusLine is an entry's response.status: the code and its text.
func statusLine(code int) string { return strconv.Itoa(code) + " " + http.StatusText(code) }

// writtenEntry is the response entry of a write entry whose outcome is r
// with status code, with the resource as Prefer: return= asks.
func (s *Server) writtenEntry(c echo.Context, r *fhir.Resource, code int) bundleEntry {
	e := bundleEntry{Response: &entryResponse{
		Status:       statusLine(code),
		Location:     s.location(r),
		Etag:         etag(r.Version),
		LastModified: r.LastUpdated.UTC().Format(fhir.InstantFormat),
	}}
	if r.Deleted {
		return e
	}
	e.FullURL = s.fullURL(r)
	switch preferReturn(c) {
	case "representation":
		e.Resource = r.JSON
	case "OperationOutcome":
		e.Response.Outcome = outcomeJSON([]fhir.Issue{{Severity: fhir.SeverityInformation, Code: fhir.CodeInformational,
			Diagnostics: "stored " + r.Type + "/" + r.ID + " version " + strconv.FormatInt(r.Version, 10)}})
	}
	return e
}

// instant turns an HTTP date (Last-Modified) into a FHIR instant.
func instant(httpDate string) string {
	t, err := http.ParseTime(httpDate)
	if err != nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
