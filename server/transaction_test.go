package server_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/medbridge/medbridge/server"
	"github.com/medbridge/medbridge/server/servertest"
)

// txEntry is a batch or transaction entry as a client writes it.
type txEntry struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Request  txRequest       `json:"request"`
}

type txRequest struct {
	Method      string `json:"method"`
	URL         string `json:"url"`
	IfMatch     string `json:"ifMatch,omitempty"`
	IfNoneExist string `json:"ifNoneExist,omitempty"`
}

// txResult is the part of a batch- or transaction-response the tests read.
type txResult struct {
	ResourceType, Type string
	Entry              []struct {
		FullURL  string
		Resource json.RawMessage
		Response struct {
			Status, Location, Etag, LastModified string
			Outcome                              json.RawMessage
		}
	}
}

// txPost, txPut, txDelete and txGet build entries.
func txPost(fullURL, typ, resource string) txEntry {
	return txEntry{FullURL: fullURL, Resource: json.RawMessage(resource), Request: txRequest{Method: "POST", URL: typ}}
}

func txPut(url, resource string) txEntry {
	return txEntry{Resource: json.RawMessage(resource), Request: txRequest{Method: "PUT", URL: url}}
}

func txDelete(url string) txEntry { return txEntry{Request: txRequest{Method: "DELETE", URL: url}} }

func txGet(url string) txEntry { return txEntry{Request: txRequest{Method: "GET", URL: url}} }

// sendBundle POSTs a Bundle of type typ with entries to the base.
func sendBundle(t testing.TB, srv *servertest.Server, typ string, entries []txEntry, header ...string) *servertest.Response {
	t.Helper()
	body, err := json.Marshal(map[string]any{"resourceType": "Bundle", "type": typ, "entry": entries})
	if err != nil {
		t.Fatal(err)
	}
	return srv.Do(t, http.MethodPost, "/fhir", body, header...)
}

// txOK sends a Bundle that must succeed and returns its response, which
// must have one entry per request entry.
func txOK(t testing.TB, srv *servertest.Server, typ string, entries []txEntry, header ...string) *txResult {
	t.Helper()
	res := sendBundle(t, srv, typ, entries, header...)
	if res.Status != http.StatusOK {
		t.Fatalf("%s: %d %s", typ, res.Status, res.Body)
	}
	var out txResult
	if err := json.Unmarshal(res.Body, &out); err != nil {
		t.Fatal(err)
	}
	if out.ResourceType != "Bundle" || out.Type != typ+"-response" || len(out.Entry) != len(entries) {
		t.Fatalf("%s: want a %s-response with %d entries: %s", typ, typ, len(entries), res.Body)
	}
	return &out
}

// statuses are the response statuses of a batch or transaction.
func (r *txResult) statuses() []string {
	out := make([]string, len(r.Entry))
	for i, e := range r.Entry {
		out[i] = e.Response.Status
	}
	return out
}

// txPatient is a Patient with an MRN, and an id unless id is "".
func txPatient(id, mrn string) string {
	if id != "" {
		id = fmt.Sprintf(`"id":%q,`, id)
	}
	return fmt.Sprintf(`{"resourceType":"Patient",%s"identifier":[{"system":"urn:mrn","value":%q}]}`, id, mrn)
}

// txObservation is a heart rate of the patient that subject references.
func txObservation(subject string, value int) string {
	return fmt.Sprintf(`{"resourceType":"Observation","status":"final",
		"code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},
		"subject":{"reference":%q},"effectiveDateTime":"2026-01-01T10:00:00Z",
		"valueQuantity":{"value":%d,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`, subject, value)
}

// putPatients stores a Patient for each id, with the id as its MRN.
func putPatients(t *testing.T, srv *servertest.Server, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if res := srv.Do(t, http.MethodPut, "/fhir/Patient/"+id, []byte(txPatient(id, id))); res.Status != http.StatusCreated {
			t.Fatalf("PUT Patient/%s: %d %s", id, res.Status, res.Body)
		}
	}
}

// versions counts every version the server holds, from its history, but
// the audit trail's (every request adds to it).
func versions(t *testing.T, srv *servertest.Server) int {
	t.Helper()
	entries, _ := historyPages(t, srv, "/fhir/_history?_count=500")
	n := 0
	for _, e := range entries {
		if !strings.Contains(e.fullURL, "/AuditEvent/") {
			n++
		}
	}
	return n
}

// ref reads an entry's resource's Type/id.
func refOf(t testing.TB, resource json.RawMessage) (typ, id string) {
	t.Helper()
	var head struct{ ResourceType, ID string }
	if err := json.Unmarshal(resource, &head); err != nil {
		t.Fatalf("%v: %s", err, resource)
	}
	return head.ResourceType, head.ID
}

const patientURN = "urn:uuid:6f1c1d38-8a8e-4c56-9d0b-2f3b8e0a1c01"

// A Patient and Observations that reference it by its urn:uuid fullUrl:
// the references become the id the Patient gets, in the narrative too.
func TestTransactionURNReferences(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite)
	withLink := `{"resourceType":"Observation","status":"final","code":{"text":"note"},"subject":{"reference":"` + patientURN + `"},
		"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">About <a href=\"` + patientURN + `\">the patient</a></div>"}}`
	out := txOK(t, srv, "transaction", []txEntry{
		txPost("urn:uuid:0c5c5b0e-98f6-4b55-9f0e-6a3f1c2a7d02", "Observation", txObservation(patientURN, 70)),
		txPost(patientURN, "Patient", txPatient("", "urn-1")),
		txPost("", "Observation", txObservation(patientURN, 71)),
		txPost("", "Observation", withLink),
	})
	for i, e := range out.Entry {
		if e.Response.Status != "201 Created" || !strings.HasSuffix(e.Response.Location, "/_history/1") || e.Response.Etag != `W/"1"` || e.Response.LastModified == "" {
			t.Errorf("entry %d response %+v", i, e.Response)
		}
	}
	_, patient := refOf(t, out.Entry[1].Resource)
	if out.Entry[1].FullURL != srv.Base+"/Patient/"+patient {
		t.Errorf("fullUrl %q", out.Entry[1].FullURL)
	}
	set := search(t, srv, "/fhir/Observation?subject=Patient/"+patient)
	if len(set.Entry) != 3 {
		t.Fatalf("%d Observations reference Patient/%s, want 3", len(set.Entry), patient)
	}
	_, linked := refOf(t, out.Entry[3].Resource)
	body := string(srv.Do(t, http.MethodGet, "/fhir/Observation/"+linked, nil).Body)
	if strings.Contains(body, "urn:uuid") || !strings.Contains(body, `href=\"Patient/`+patient+`\"`) {
		t.Errorf("urn left in the stored resource: %s", body)
	}
}

// A conditional reference resolves to its one match.
func TestTransactionConditionalReference(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite)
	srv.Do(t, http.MethodPut, "/fhir/Patient/cr", []byte(txPatient("cr", "cond-ref")))
	out := txOK(t, srv, "transaction", []txEntry{txPost("", "Observation", txObservation("Patient?identifier=urn:mrn|cond-ref", 60))})
	_, id := refOf(t, out.Entry[0].Resource)
	if set := search(t, srv, "/fhir/Observation?subject=Patient/cr&_id="+id); len(set.Entry) != 1 {
		t.Errorf("the Observation does not reference Patient/cr: %s", out.Entry[0].Resource)
	}
	res := sendBundle(t, srv, "transaction", []txEntry{txPost("", "Observation", txObservation("Patient?identifier=urn:mrn|nobody", 60))})
	if res.Status != http.StatusNotFound {
		t.Errorf("a conditional reference without a match: %d %s", res.Status, res.Body)
	}
}

// Every kind of entry failure fails the whole transaction with the
// entry's status and an outcome naming it, and nothing is written.
func TestTransactionRollback(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite)
	putPatients(t, srv, "rb", "rb2")
	srv.Do(t, http.MethodPost, "/fhir/Patient", []byte(txPatient("", "twice")))
	srv.Do(t, http.MethodPost, "/fhir/Patient", []byte(txPatient("", "twice")))
	fine := []txEntry{
		txPost(patientURN, "Patient", txPatient("", "new")),
		txPost("", "Observation", txObservation(patientURN, 80)),
		txPut("Patient/rb", `{"resourceType":"Patient","id":"rb","gender":"other"}`),
	}
	cases := []struct {
		name   string
		bad    txEntry
		status int
	}{
		{"invalid resource", txPost("", "Observation", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"bogus":1}`), http.StatusBadRequest},
		{"missing required element", txPost("", "Observation", `{"resourceType":"Observation","code":{"text":"x"}}`), http.StatusUnprocessableEntity},
		{"stale If-Match", txEntry{Resource: json.RawMessage(txPatient("rb2", "rb-2")), Request: txRequest{Method: "PUT", URL: "Patient/rb2", IfMatch: `W/"7"`}}, http.StatusPreconditionFailed},
		{"conditional create with two matches", txEntry{Resource: json.RawMessage(txPatient("", "twice")), Request: txRequest{Method: "POST", URL: "Patient", IfNoneExist: "identifier=urn:mrn|twice"}}, http.StatusPreconditionFailed},
		{"unresolvable urn:uuid", txPost("", "Observation", txObservation("urn:uuid:00000000-0000-4000-8000-000000000000", 1)), http.StatusBadRequest},
		{"unknown type", txPost("", "Foo", `{"resourceType":"Foo"}`), http.StatusNotFound},
		{"delete of a missing resource", txDelete("Patient/none-such"), http.StatusNotFound},
		{"two entries change one resource", txDelete("Patient/rb"), http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := versions(t, srv)
			entries := append(append([]txEntry{}, fine...), tc.bad)
			res := sendBundle(t, srv, "transaction", entries)
			if res.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", res.Status, tc.status, res.Body)
			}
			want := fmt.Sprintf("Bundle.entry[%d]", len(fine))
			if rt := res.JSON(t)["resourceType"]; rt != "OperationOutcome" || !strings.Contains(string(res.Body), want) {
				t.Errorf("the outcome does not name %s: %s", want, res.Body)
			}
			if after := versions(t, srv); after != before {
				t.Errorf("%d versions before, %d after: the failed transaction wrote", before, after)
			}
		})
	}
}

// Entries run DELETE, POST, PUT, GET whatever their order in the Bundle,
// and are answered in the Bundle's order: the conditional create does not
// find the Patient the DELETE removes, and the GET sees the PUT.
func TestTransactionProcessingOrder(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite)
	putPatients(t, srv, "keep", "gone")
	out := txOK(t, srv, "transaction", []txEntry{
		txGet("Patient/keep"),
		txPut("Patient/keep", `{"resourceType":"Patient","id":"keep","gender":"female"}`),
		{Resource: json.RawMessage(txPatient("", "gone")), Request: txRequest{Method: "POST", URL: "Patient", IfNoneExist: "identifier=urn:mrn|gone"}},
		txDelete("Patient/gone"),
	})
	want := []string{"200 OK", "200 OK", "201 Created", "204 No Content"}
	if got := out.statuses(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if !strings.Contains(string(out.Entry[0].Resource), `"gender":"female"`) || out.Entry[0].Response.Etag != `W/"2"` {
		t.Errorf("the GET did not see the PUT: %s %+v", out.Entry[0].Resource, out.Entry[0].Response)
	}
	if res := srv.Do(t, http.MethodGet, "/fhir/Patient/gone", nil); res.Status != http.StatusGone {
		t.Errorf("Patient/gone: %d", res.Status)
	}
}

// A batch runs each entry on its own: failures are answered in their
// entries and do not stop the others; GET entries read and search.
func TestBatchMixed(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite)
	putPatients(t, srv, "b1", "b3")
	out := txOK(t, srv, "batch", []txEntry{
		txPost("", "Observation", txObservation("Patient/b1", 65)),
		txPost("", "Observation", `{"resourceType":"Observation","bogus":true}`),
		txGet("Patient/b1"),
		txGet("Patient/missing"),
		txGet("Patient?identifier=urn:mrn|b1"),
		txPut("Patient/b2", txPatient("b2", "b2")),
		{Request: txRequest{Method: "PUT", URL: "Patient/b1", IfMatch: `W/"9"`}, Resource: json.RawMessage(txPatient("b1", "b1-x"))},
		txDelete("Patient/b3"),
		{Request: txRequest{Method: "TRACE", URL: "Patient"}},
	})
	want := []string{"201 Created", "400 Bad Request", "200 OK", "404 Not Found", "200 OK", "201 Created", "412 Precondition Failed", "204 No Content", "400 Bad Request"}
	if got := out.statuses(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	for _, i := range []int{1, 3, 6, 8} {
		if !strings.Contains(string(out.Entry[i].Response.Outcome), "OperationOutcome") {
			t.Errorf("entry %d has no outcome: %+v", i, out.Entry[i].Response)
		}
	}
	if typ, _ := refOf(t, out.Entry[4].Resource); typ != "Bundle" || !strings.Contains(string(out.Entry[4].Resource), `"id":"b1"`) {
		t.Errorf("the search entry: %s", out.Entry[4].Resource)
	}
	if !strings.Contains(string(out.Entry[2].Resource), `"id":"b1"`) {
		t.Errorf("the read entry: %s", out.Entry[2].Resource)
	}
	if res := srv.Do(t, http.MethodGet, "/fhir/Patient/b2", nil); res.Status != http.StatusOK {
		t.Errorf("the batch's PUT is not there: %d", res.Status)
	}
	if res := srv.Do(t, http.MethodGet, "/fhir/Patient/b3", nil); res.Status != http.StatusGone {
		t.Errorf("Patient/b3: %d", res.Status)
	}
}

// On FerretDB (no multi-document transactions) a transaction is refused
// with nothing written, and a batch works.
func TestTransactionMongoWithoutTransactions(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.Mongo)
	entries := []txEntry{txPost(patientURN, "Patient", txPatient("", "m")), txPost("", "Observation", txObservation(patientURN, 50))}
	res := sendBundle(t, srv, "transaction", entries)
	if res.Status != http.StatusNotImplemented || !strings.Contains(string(res.Body), "replica set") {
		t.Errorf("transaction: %d %s", res.Status, res.Body)
	}
	if n := versions(t, srv); n != 0 {
		t.Errorf("%d versions written by a refused transaction", n)
	}
	entries[1] = txPost("", "Observation", txObservation("Patient/elsewhere", 50))
	out := txOK(t, srv, "batch", entries)
	if got := out.statuses(); got[0] != "201 Created" || got[1] != "201 Created" {
		t.Errorf("batch: %v", got)
	}
}

// Bundles larger than MaxBundleEntries are refused as a whole.
func TestBundleSizeLimit(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite, func(cfg *server.Config) { cfg.MaxBundleEntries = 3 })
	entries := []txEntry{txGet("Patient"), txGet("Patient"), txGet("Patient")}
	for _, typ := range []string{"transaction", "batch"} {
		txOK(t, srv, typ, entries)
		res := sendBundle(t, srv, typ, append(entries, txGet("Patient")))
		if res.Status != http.StatusRequestEntityTooLarge || !strings.Contains(string(res.Body), "at most 3") {
			t.Errorf("%s of 4 entries: %d %s", typ, res.Status, res.Body)
		}
	}
	for _, body := range []string{`{"resourceType":"Bundle","type":"collection"}`, `{"resourceType":"Patient"}`, `[]`} {
		if res := srv.Do(t, http.MethodPost, "/fhir", []byte(body)); res.Status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", body, res.Status, res.Body)
		}
	}
}

// Conditional update and delete, and both patch formats, in one
// transaction.
func TestTransactionConditionalAndPatch(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite)
	putPatients(t, srv, "cu", "jp", "fp", "cd")
	jsonPatch := base64.StdEncoding.EncodeToString([]byte(`[{"op":"add","path":"/gender","value":"male"}]`))
	fhirPathPatch := `{"resourceType":"Parameters","parameter":[{"name":"operation","part":[
		{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},
		{"name":"name","valueString":"birthDate"},{"name":"value","valueDate":"2000-01-01"}]}]}`
	out := txOK(t, srv, "transaction", []txEntry{
		txPut("Patient?identifier=urn:mrn|cu", `{"resourceType":"Patient","gender":"female","identifier":[{"system":"urn:mrn","value":"cu"}]}`),
		txPut("Patient?identifier=urn:mrn|new", txPatient("", "new")),
		{Resource: json.RawMessage(`{"resourceType":"Binary","contentType":"application/json-patch+json","data":"` + jsonPatch + `"}`), Request: txRequest{Method: "PATCH", URL: "Patient/jp"}},
		{Resource: json.RawMessage(fhirPathPatch), Request: txRequest{Method: "PATCH", URL: "Patient?identifier=urn:mrn|fp", IfMatch: `W/"1"`}},
		txDelete("Patient?identifier=urn:mrn|cd"),
		txDelete("Patient?identifier=urn:mrn|nobody"),
	})
	want := []string{"200 OK", "201 Created", "200 OK", "200 OK", "204 No Content", "204 No Content"}
	if got := out.statuses(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	for path, want := range map[string]string{"Patient/cu": `"gender":"female"`, "Patient/jp": `"gender":"male"`, "Patient/fp": `"birthDate":"2000-01-01"`} {
		if res := srv.Do(t, http.MethodGet, "/fhir/"+path, nil); !strings.Contains(string(res.Body), want) || res.Header.Get("ETag") != `W/"2"` {
			t.Errorf("%s: %s %s", path, res.Header.Get("ETag"), res.Body)
		}
	}
	if res := srv.Do(t, http.MethodGet, "/fhir/Patient/cd", nil); res.Status != http.StatusGone {
		t.Errorf("Patient/cd: %d", res.Status)
	}
	if set := search(t, srv, "/fhir/Patient?identifier=urn:mrn|new"); len(set.Entry) != 1 {
		t.Errorf("the conditional update without a match created %d", len(set.Entry))
	}
}

// 20 parallel transactions, on two servers sharing a store, each
// conditionally creating the same Patient and an Observation of it:
// exactly one creates the Patient and every Observation references it.
func TestTransactionConditionalCreateRace(t *testing.T) {
	store := servertest.SQLite.Open(t, t.TempDir())
	t.Cleanup(func() { store.Close() })
	servers := []*servertest.Server{servertest.Start(t, store), servertest.Start(t, store)}
	const clients = 20
	var (
		wg      sync.WaitGroup
		created atomic.Int64
	)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := txOK(t, servers[i%2], "transaction", []txEntry{
				{FullURL: patientURN, Resource: json.RawMessage(txPatient("", "race")), Request: txRequest{Method: "POST", URL: "Patient", IfNoneExist: "identifier=urn:mrn|race"}},
				txPost("", "Observation", txObservation(patientURN, i)),
			})
			if out.Entry[0].Response.Status == "201 Created" {
				created.Add(1)
			}
		}()
	}
	wg.Wait()
	set := search(t, servers[0], "/fhir/Patient?identifier=urn:mrn|race")
	if len(set.Entry) != 1 || created.Load() != 1 {
		t.Fatalf("%d Patients, %d transactions answered 201 for the Patient; want 1 and 1", len(set.Entry), created.Load())
	}
	if obs := search(t, servers[0], "/fhir/Observation?_count=100&subject=Patient/"+set.Entry[0].id()); len(obs.Entry) != clients {
		t.Errorf("%d Observations reference the Patient, want %d", len(obs.Entry), clients)
	}
}
