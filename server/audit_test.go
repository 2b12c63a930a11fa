package server_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/medbridge/medbridge/audit"
	"github.com/medbridge/medbridge/server/servertest"
	"github.com/medbridge/medbridge/storage"
)

// auditEvents returns the AuditEvents that match query (AuditEvent search
// parameters), decoded, but the records of the test's own searches of
// the trail.
func auditEvents(t *testing.T, srv *servertest.Server, query string, header ...string) []map[string]any {
	t.Helper()
	set := search(t, srv, "/fhir/AuditEvent?_count=500&"+query, header...)
	var out []map[string]any
	for i := range set.Entry {
		if ev := set.Entry[i].resource(t); !strings.HasPrefix(queryOf(t, ev), "/fhir/AuditEvent?") {
			out = append(out, ev)
		}
	}
	return out
}

// oneAuditEvent returns the one AuditEvent that matches query.
func oneAuditEvent(t *testing.T, srv *servertest.Server, query string) map[string]any {
	t.Helper()
	evs := auditEvents(t, srv, query)
	if len(evs) != 1 {
		t.Fatalf("AuditEvent?%s: %d records, want 1: %v", query, len(evs), evs)
	}
	return evs[0]
}

// entityRefs are the what references of an AuditEvent's entities.
func entityRefs(ev map[string]any) []string {
	var out []string
	for _, e := range list(ev["entity"]) {
		if what, ok := e.(map[string]any)["what"].(map[string]any); ok {
			out = append(out, what["reference"].(string))
		}
	}
	return out
}

func list(v any) []any { l, _ := v.([]any); return l }

// queryOf decodes the Query entity of an AuditEvent.
func queryOf(t *testing.T, ev map[string]any) string {
	t.Helper()
	for _, e := range list(ev["entity"]) {
		if q, ok := e.(map[string]any)["query"].(string); ok {
			b, err := base64.StdEncoding.DecodeString(q)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
	return ""
}

// checkEvent checks an AuditEvent's action, outcome and entities.
func checkEvent(t *testing.T, what string, ev map[string]any, action, outcome string, refs ...string) {
	t.Helper()
	if ev["action"] != action || ev["outcome"] != outcome {
		t.Errorf("%s: action %v outcome %v, want %s %s", what, ev["action"], ev["outcome"], action, outcome)
	}
	got := entityRefs(ev)
	for _, r := range refs {
		if !slices.Contains(got, r) {
			t.Errorf("%s: no entity %s in %v", what, r, got)
		}
	}
	if src, _ := ev["source"].(map[string]any); src == nil || src["observer"] == nil {
		t.Errorf("%s: no source.observer", what)
	}
}

// TestAuditEventPerInteraction: every kind of interaction leaves exactly
// one AuditEvent that names it, its resource (with the version) or
// query, the patient and the outcome, on both stores.
func TestAuditEventPerInteraction(t *testing.T) {
	servertest.EachBackend(t, func(t *testing.T, b servertest.Backend) {
		srv := servertest.StartBackend(t, b)
		created := srv.Do(t, http.MethodPost, "/fhir/Patient", []byte(`{"resourceType":"Patient","name":[{"family":"Audit"}]}`))
		if created.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", created.Status, created.Body)
		}
		p := created.JSON(t)["id"].(string)
		patient := "patient=Patient/" + p
		checkEvent(t, "create", oneAuditEvent(t, srv, "subtype=create&entity=Patient/"+p), "C", "0", "Patient/"+p+"/_history/1", "Patient/"+p)

		obs := func(v int) []byte {
			return []byte(fmt.Sprintf(`{"resourceType":"Observation","id":"o1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2026-11-28T10:00:00Z","valueQuantity":{"value":%d,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`, p, v))
		}
		steps := []struct {
			name, method, path string
			body               []byte
			header             []string
			status             int
			// query finds the interaction's one record (with the patient's
			// when it concerns the patient); action and refs are checked.
			query, action string
			refs          []string
		}{
			{"update creating", http.MethodPut, "/fhir/Observation/o1", obs(60), nil, http.StatusCreated, "subtype=update&action=C&entity=Observation/o1&" + patient, "C", []string{"Observation/o1/_history/1"}},
			{"update", http.MethodPut, "/fhir/Observation/o1", obs(61), nil, http.StatusOK, "subtype=update&action=U&entity=Observation/o1&" + patient, "U", []string{"Observation/o1/_history/2"}},
			{"read", http.MethodGet, "/fhir/Observation/o1", nil, nil, http.StatusOK, "subtype=read&entity=Observation/o1&" + patient, "R", []string{"Observation/o1/_history/2"}},
			{"vread", http.MethodGet, "/fhir/Observation/o1/_history/1", nil, nil, http.StatusOK, "subtype=vread&entity=Observation/o1&" + patient, "R", []string{"Observation/o1/_history/1"}},
			{"patch", http.MethodPatch, "/fhir/Observation/o1", []byte(`[{"op":"replace","path":"/status","value":"amended"}]`), []string{"Content-Type", "application/json-patch+json"}, http.StatusOK, "subtype=patch&entity=Observation/o1&" + patient, "U", []string{"Observation/o1/_history/3"}},
			{"history-instance", http.MethodGet, "/fhir/Observation/o1/_history", nil, nil, http.StatusOK, "subtype=history-instance&entity=Observation/o1", "R", nil},
			{"history-type", http.MethodGet, "/fhir/Observation/_history", nil, nil, http.StatusOK, "subtype=history-type", "R", nil},
			{"history-system", http.MethodGet, "/fhir/_history", nil, nil, http.StatusOK, "subtype=history-system", "R", nil},
			{"search-type", http.MethodGet, "/fhir/Observation?subject=Patient/" + p, nil, nil, http.StatusOK, "subtype=search-type&" + patient, "E", []string{"Patient/" + p}},
			{"search-system", http.MethodGet, "/fhir?_type=Patient&_id=" + p, nil, nil, http.StatusOK, "subtype=search-system", "E", nil},
			{"compartment", http.MethodGet, "/fhir/Patient/" + p + "/Observation", nil, nil, http.StatusOK, "subtype=search-type&" + patient + "&_id:not=", "E", nil},
			{"$validate", http.MethodPost, "/fhir/Observation/$validate", obs(62), nil, http.StatusOK, "subtype=" + url.QueryEscape(audit.SystemOperation+"|$validate"), "E", nil},
			{"$lastn", http.MethodGet, "/fhir/Observation/$lastn?patient=" + p, nil, nil, http.StatusOK, "subtype=" + url.QueryEscape(audit.SystemOperation+"|$lastn") + "&" + patient, "E", nil},
			{"not found", http.MethodGet, "/fhir/Observation/nope", nil, nil, http.StatusNotFound, "subtype=read&entity=Observation/nope&outcome=4", "R", nil},
			{"delete", http.MethodDelete, "/fhir/Observation/o1", nil, nil, http.StatusNoContent, "subtype=delete&entity=Observation/o1&" + patient, "D", []string{"Observation/o1/_history/4"}},
		}
		for _, st := range steps {
			res := srv.Do(t, st.method, st.path, st.body, st.header...)
			if res.Status != st.status {
				t.Fatalf("%s: %d %s", st.name, res.Status, res.Body)
			}
			query := strings.TrimSuffix(st.query, "&_id:not=")
			if st.name == "compartment" {
				// The type search above concerns the patient too: the
				// compartment search is the newer of the two.
				evs := auditEvents(t, srv, query+"&_sort=-date")
				if len(evs) != 2 || queryOf(t, evs[0]) != "/fhir/Patient/"+p+"/Observation" {
					t.Fatalf("compartment search: %d records, newest %q", len(evs), queryOf(t, evs[0]))
				}
				continue
			}
			outcome := "0"
			if st.status >= 400 {
				outcome = "4"
			}
			ev := oneAuditEvent(t, srv, query)
			checkEvent(t, st.name, ev, st.action, outcome, st.refs...)
			if st.name == "search-type" && queryOf(t, ev) != "/fhir/Observation?subject=Patient/"+p {
				t.Errorf("search query entity %q", queryOf(t, ev))
			}
			if st.name == "not found" && !strings.Contains(fmt.Sprint(ev["outcomeDesc"]), "nope") {
				t.Errorf("failure without outcomeDesc: %v", ev["outcomeDesc"])
			}
		}

		// A transaction's writes and its record commit together; a batch is
		// recorded as a batch and each of its entries as itself.
		tx := srv.Do(t, http.MethodPost, "/fhir", []byte(`{"resourceType":"Bundle","type":"transaction","entry":[
			{"fullUrl":"urn:uuid:7f1d6ab2-3c1e-4a55-9d31-0c7b1d8a2e01","resource":{"resourceType":"Observation","status":"final","code":{"text":"t"},"subject":{"reference":"Patient/`+p+`"}},"request":{"method":"POST","url":"Observation"}}]}`))
		switch {
		case b.Name == "mongo" && tx.Status == http.StatusNotImplemented:
			// FerretDB has no transactions: the refusal is recorded.
			checkEvent(t, "refused transaction", oneAuditEvent(t, srv, "subtype=transaction"), "E", "8")
		case tx.Status != http.StatusOK:
			t.Fatalf("transaction: %d %s", tx.Status, tx.Body)
		default:
			loc := tx.JSON(t)["entry"].([]any)[0].(map[string]any)["response"].(map[string]any)["location"].(string)
			_, rest, _ := strings.Cut(loc, "Observation/")
			id, _, _ := strings.Cut(rest, "/")
			checkEvent(t, "transaction", oneAuditEvent(t, srv, "subtype=transaction&entity=Observation/"+id+"&"+patient), "E", "0", "Observation/"+id+"/_history/1")
		}
		batch := srv.Do(t, http.MethodPost, "/fhir", []byte(`{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/`+p+`"}}]}`))
		if batch.Status != http.StatusOK {
			t.Fatalf("batch: %d %s", batch.Status, batch.Body)
		}
		oneAuditEvent(t, srv, "subtype=batch")
		// (entity=Patient/p also finds the records that concern p.)
		reads := 0
		for _, ev := range auditEvents(t, srv, "subtype=read&entity=Patient/"+p) {
			if slices.Contains(entityRefs(ev), "Patient/"+p+"/_history/1") {
				reads++
			}
		}
		if reads != 1 {
			t.Errorf("the batch's read: %d records, want 1", reads)
		}
	})
}

// TestAuditTrailIsAppendOnly: AuditEvents can be read and created, never
// updated, patched or deleted, also not in a transaction; each refusal
// is itself recorded.
func TestAuditTrailIsAppendOnly(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite)
	srv.Do(t, http.MethodGet, "/fhir/Patient?name=x", nil)
	ev := oneAuditEvent(t, srv, "subtype=search-type")
	id := ev["id"].(string)
	path := "/fhir/AuditEvent/" + id
	body := srv.Do(t, http.MethodGet, path, nil).Body
	changed := []byte(strings.Replace(string(body), `"outcome":"0"`, `"outcome":"8"`, 1))
	for _, tc := range []struct {
		method, path string
		body         []byte
		header       []string
	}{
		{http.MethodPut, path, changed, nil},
		{http.MethodPatch, path, []byte(`[{"op":"replace","path":"/outcome","value":"8"}]`), []string{"Content-Type", "application/json-patch+json"}},
		{http.MethodDelete, path, nil, nil},
		{http.MethodDelete, "/fhir/AuditEvent?_id=" + id, nil, nil},
		{http.MethodPut, "/fhir/AuditEvent?_id=" + id, changed, nil},
		{http.MethodPost, "/fhir", []byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"DELETE","url":"AuditEvent/` + id + `"}}]}`), nil},
	} {
		res := srv.Do(t, tc.method, tc.path, tc.body, tc.header...)
		if res.Status != http.StatusMethodNotAllowed || res.JSON(t)["resourceType"] != "OperationOutcome" {
			t.Errorf("%s %s: %d %s, want 405", tc.method, tc.path, res.Status, res.Body)
		}
	}
	if res := srv.Do(t, http.MethodGet, path, nil); res.Status != http.StatusOK || res.Header.Get("ETag") != `W/"1"` || string(res.Body) != string(body) {
		t.Errorf("the record after the refused changes: %d %s %s", res.Status, res.Header.Get("ETag"), res.Body)
	}
	for _, sub := range []string{"update", "patch", "delete"} {
		for _, ev := range auditEvents(t, srv, "subtype="+sub) {
			if ev["outcome"] != "4" {
				t.Errorf("refused %s recorded with outcome %v", sub, ev["outcome"])
			}
		}
	}
	if evs := auditEvents(t, srv, "subtype=transaction&outcome=4"); len(evs) != 1 {
		t.Errorf("refused transaction: %d records", len(evs))
	}
	// Other systems may send their own records (an IHE ATNA-style feed).
	sent := srv.Do(t, http.MethodPost, "/fhir/AuditEvent", changed)
	if sent.Status != http.StatusCreated {
		t.Errorf("create AuditEvent: %d %s", sent.Status, sent.Body)
	}
}

// unwritableAudit is the real store refusing AuditEvent writes, as a
// full disk or a lost database would: fault injection around the store,
// not a stand-in for it.
type unwritableAudit struct{ storage.Store }

var errAuditDown = errors.New("audit partition unavailable")

func (u unwritableAudit) Write(ctx context.Context, w storage.Write) error {
	if w.Resource.Type == "AuditEvent" {
		return errAuditDown
	}
	return u.Store.Write(ctx, w)
}

func (u unwritableAudit) WriteAtomic(ctx context.Context, ws []storage.Write) error {
	for i, w := range ws {
		if w.Resource.Type == "AuditEvent" {
			return &storage.AtomicError{Index: i, Err: errAuditDown}
		}
	}
	return u.Store.WriteAtomic(ctx, ws)
}

// TestAuditUnwritableFailsRequest: when the record cannot be written the
// request fails with a 500 OperationOutcome: a read's resource is not
// sent, and a write is not made.
func TestAuditUnwritableFailsRequest(t *testing.T) {
	store := servertest.SQLite.Open(t, t.TempDir())
	t.Cleanup(func() { store.Close() })
	good := servertest.Start(t, store)
	if res := good.Do(t, http.MethodPut, "/fhir/Patient/a", []byte(`{"resourceType":"Patient","id":"a"}`)); res.Status != http.StatusCreated {
		t.Fatalf("fixture: %d %s", res.Status, res.Body)
	}
	bad := servertest.Start(t, unwritableAudit{store})
	for _, tc := range []struct{ method, path, body string }{
		{http.MethodGet, "/fhir/Patient/a", ""},
		{http.MethodGet, "/fhir/Patient?_id=a", ""},
		{http.MethodPost, "/fhir/Patient", `{"resourceType":"Patient","name":[{"family":"Lost"}]}`},
		{http.MethodPut, "/fhir/Patient/a", `{"resourceType":"Patient","id":"a","active":true}`},
		{http.MethodDelete, "/fhir/Patient/a", ""},
		{http.MethodPost, "/fhir", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","name":[{"family":"Lost"}]},"request":{"method":"POST","url":"Patient"}}]}`},
	} {
		var body []byte
		if tc.body != "" {
			body = []byte(tc.body)
		}
		res := bad.Do(t, tc.method, tc.path, body)
		if res.Status != http.StatusInternalServerError || res.JSON(t)["resourceType"] != "OperationOutcome" {
			t.Errorf("%s %s: %d %s, want a 500 OperationOutcome", tc.method, tc.path, res.Status, res.Body)
		}
		if strings.Contains(string(res.Body), `"Patient"`) || res.Header.Get("ETag") != "" || res.Header.Get("Location") != "" {
			t.Errorf("%s %s: the withheld result leaked: %s %v", tc.method, tc.path, res.Body, res.Header)
		}
	}
	if res := good.Do(t, http.MethodGet, "/fhir/Patient/a", nil); res.Status != http.StatusOK || res.Header.Get("ETag") != `W/"1"` {
		t.Errorf("Patient/a after the failed update and delete: %d %s", res.Status, res.Header.Get("ETag"))
	}
	if set := search(t, good, "/fhir/Patient?family=Lost"); len(set.Entry) != 0 {
		t.Errorf("a create without its record was stored: %v", set.refs("match"))
	}
}

// TestAuditSMART: the record names the token's client and user; refusals
// (no token, a scope that does not allow) are recorded; an auditor needs
// an AuditEvent scope, and a patient's app sees only the records about
// that patient.
func TestAuditSMART(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil)
	denied(t, s.as(t, "", http.MethodGet, "/fhir/Observation/a-vital", ""), http.StatusUnauthorized)
	patientApp := s.patientToken(t, "patient/Observation.rs", "patient/AuditEvent.rs")
	denied(t, s.as(t, patientApp, http.MethodGet, "/fhir/Observation/b-vital", ""), http.StatusForbidden)
	if res := s.as(t, patientApp, http.MethodGet, "/fhir/Observation/a-vital", ""); res.Status != http.StatusOK {
		t.Fatalf("read: %d %s", res.Status, res.Body)
	}

	auditor := s.backendToken(t, "system/AuditEvent.rs")
	header := []string{"Authorization", auditor}
	evs := auditEvents(t, s.Server, "subtype=read&entity=Observation/a-vital&outcome=4", header...)
	if len(evs) != 1 || evs[0]["outcomeDesc"] == nil {
		t.Fatalf("the refused anonymous read: %v", evs)
	}
	if agents := list(evs[0]["agent"]); len(agents) != 1 || agents[0].(map[string]any)["altId"] != nil {
		t.Errorf("an anonymous request has one agent without identity: %v", agents)
	}
	refused := auditEvents(t, s.Server, "subtype=read&entity=Observation/b-vital&outcome=4&altid="+s.app.ClientID, header...)
	if len(refused) != 1 {
		t.Fatalf("the refused read of another patient's record, by client %s: %d records", s.app.ClientID, len(refused))
	}
	ok := auditEvents(t, s.Server, "subtype=read&entity=Observation/a-vital&outcome=0&agent=Patient/pa&patient=Patient/pa", header...)
	if len(ok) != 1 {
		t.Fatalf("the patient's read, by Patient/pa: %d records", len(ok))
	}

	// Token requests and sign-ins are recorded, granted or refused.
	s.agent.TokenRequest(url.Values{"grant_type": {"client_credentials"}, "client_id": {"nobody"}, "scope": {"system/*.rs"}}).MustFail(t, http.StatusUnauthorized, "invalid_client")
	login := "type=" + url.QueryEscape("http://dicom.nema.org/resources/ontology/DCM|110114")
	if evs := auditEvents(t, s.Server, login+"&altid="+s.backend+"&outcome=0", header...); len(evs) < 2 {
		t.Errorf("the backend's token requests: %d records", len(evs))
	}
	if evs := auditEvents(t, s.Server, login+"&altid=alice&outcome=0", header...); len(evs) != 1 {
		t.Errorf("alice's sign-in: %d records", len(evs))
	}
	if evs := auditEvents(t, s.Server, login+"&altid=nobody&outcome=4", header...); len(evs) != 1 {
		t.Errorf("the refused token request: %d records", len(evs))
	}

	// Without an AuditEvent scope the trail is closed.
	denied(t, s.as(t, s.backendToken(t, "system/Observation.rs"), http.MethodGet, "/fhir/AuditEvent", ""), http.StatusForbidden)
	// The patient's app sees records about pa only.
	mine := s.refs(t, patientApp, "/fhir/AuditEvent?_count=500")
	if len(mine) == 0 {
		t.Fatal("the patient sees no records about themselves")
	}
	for _, ev := range auditEvents(t, s.Server, "patient=Patient/pb", header...) {
		without(t, "the patient's AuditEvent search", mine, "AuditEvent/"+ev["id"].(string))
	}
}
