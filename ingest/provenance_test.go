package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medbridge/medbridge/audit"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/mappers"
	"github.com/medbridge/medbridge/storage"
)

// find returns the current resources of typ that match params.
func (f *fixture) find(t *testing.T, typ string, params url.Values) []fhir.Resource {
	t.Helper()
	params.Set("_count", "1000")
	return f.search(t, typ, params).Resources
}

// versions counts the stored versions of typ.
func (f *fixture) versions(t *testing.T, typ string) int {
	t.Helper()
	page, err := f.store.History(context.Background(), storage.HistoryQuery{Type: typ, Count: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Versions)
}

// valid parses r with the R4 codec and returns its JSON as a map.
func valid(t *testing.T, r fhir.Resource) map[string]any {
	t.Helper()
	codec, err := fhir.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := codec.Parse(r.JSON); err != nil {
		t.Fatalf("%s/%s is not valid R4: %v\n%s", r.Type, r.ID, err, r.JSON)
	}
	var m map[string]any
	if err := json.Unmarshal(r.JSON, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// provenanceDoc is what the tests read of a Provenance.
type provenanceDoc struct {
	Target []struct{ Reference string }
	Agent  []struct {
		Type struct {
			Coding []struct{ System, Code string }
		}
		Who struct {
			Reference  string
			Identifier struct{ System, Value string }
		}
	}
	Entity []struct {
		Role string
		What struct{ Reference string }
	}
	Activity struct {
		Coding []struct{ System, Code string }
	}
	Recorded string
}

type binaryDoc struct {
	ContentType     string
	SecurityContext struct{ Reference string }
	Data            []byte
}

func decodeAs[T any](t *testing.T, r fhir.Resource) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.JSON, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func devRef(serial string) string {
	return "Device/" + mappers.IdentifierID(mappers.Identifier{System: "urn:example:serial", Value: serial})
}

func patientID(mrn string) string {
	return mappers.IdentifierID(mappers.Identifier{System: "urn:example:mrn", Value: mrn})
}

func requestEvent(path string) *audit.Event {
	return &audit.Event{
		Type: audit.Import, Start: time.Now(), Source: "http://medbridge.test/fhir",
		Who:      audit.Who{ClientID: "gateway-7", Address: "192.0.2.7"},
		Entities: []audit.Entity{{Query: path}},
	}
}

// provenanceOf returns the one current Provenance of device with the
// given activity.
func (f *fixture) provenanceOf(t *testing.T, device, activity string) (fhir.Resource, provenanceDoc) {
	t.Helper()
	var found []fhir.Resource
	for _, r := range f.find(t, "Provenance", url.Values{}) {
		d := decodeAs[provenanceDoc](t, r)
		if d.Agent[0].Who.Reference == device && d.Activity.Coding[0].Code == activity {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s Provenances of %s, want 1", len(found), activity, device)
	}
	valid(t, found[0])
	return found[0], decodeAs[provenanceDoc](t, found[0])
}

func TestProvenanceOfWrittenObservations(t *testing.T) {
	f := newFixture(t, false)
	ctx := context.Background()
	d1a := msg("D1", "MRN1", "2026-11-20T09:00:00Z", 61)
	d1b := msg("D1", "MRN1", "2026-11-20T09:01:00Z", 62)
	d2 := []byte(`{ "device": "D2", "patient": "MRN2", "time": "2026-11-20T09:00:00Z", "hr": 70.0 }`) // as sent, spaces and all
	batch := [][]byte{d1a, d2, d1b}
	res, err := f.svc.Ingest(ctx, "pulse", batch, requestEvent("/ingest/pulse"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 3 {
		t.Fatalf("%+v, want 3 created", res)
	}

	// D1: two messages → one NDJSON Binary, one CREATE Provenance of both Observations.
	_, p1 := f.provenanceOf(t, devRef("D1"), "CREATE")
	var targets []string
	for _, tg := range p1.Target {
		targets = append(targets, tg.Reference)
	}
	obs := f.find(t, "Observation", url.Values{"device": {devRef("D1")}})
	var want []string
	for _, o := range obs {
		want = append(want, "Observation/"+o.ID+"/_history/1")
	}
	slices.Sort(targets)
	slices.Sort(want)
	if !slices.Equal(targets, want) || len(want) != 2 {
		t.Errorf("D1 Provenance targets %v, want %v", targets, want)
	}
	if a := p1.Agent[0]; a.Type.Coding[0].System != "http://terminology.hl7.org/CodeSystem/provenance-participant-type" || a.Type.Coding[0].Code != "author" {
		t.Errorf("device agent %+v, want type author", a)
	}
	if len(p1.Agent) != 2 || p1.Agent[1].Who.Identifier.Value != "gateway-7" || p1.Agent[1].Type.Coding[0].Code != "informant" {
		t.Errorf("agents %+v, want the device and the sending client gateway-7 (informant)", p1.Agent)
	}
	if c := p1.Activity.Coding[0]; c.System != "http://terminology.hl7.org/CodeSystem/v3-DataOperation" {
		t.Errorf("activity %+v", c)
	}
	if len(p1.Entity) != 1 || p1.Entity[0].Role != "source" || !strings.HasPrefix(p1.Entity[0].What.Reference, "Binary/") {
		t.Fatalf("entity %+v, want the source Binary", p1.Entity)
	}
	bin1 := f.readValid(t, p1.Entity[0].What.Reference)
	b1 := decodeAs[binaryDoc](t, bin1)
	if b1.ContentType != "application/x-ndjson" || string(b1.Data) != string(d1a)+"\n"+string(d1b)+"\n" {
		t.Errorf("D1 Binary %s %q, want the two messages as NDJSON", b1.ContentType, b1.Data)
	}
	if b1.SecurityContext.Reference != "Patient/"+patientID("MRN1") {
		t.Errorf("D1 Binary securityContext %q, want the patient", b1.SecurityContext.Reference)
	}

	// D2: one message → byte-exact application/json.
	_, p2 := f.provenanceOf(t, devRef("D2"), "CREATE")
	b2 := decodeAs[binaryDoc](t, f.readValid(t, p2.Entity[0].What.Reference))
	if b2.ContentType != "application/json" || string(b2.Data) != string(d2) {
		t.Errorf("D2 Binary %s %q, want %q as sent", b2.ContentType, b2.Data, d2)
	}

	// The same batch again changes nothing and writes nothing.
	counts := map[string]int{}
	for _, typ := range []string{"Observation", "Binary", "Provenance"} {
		counts[typ] = f.versions(t, typ)
	}
	again, err := f.svc.Ingest(ctx, "pulse", batch, requestEvent("/ingest/pulse"))
	if err != nil {
		t.Fatal(err)
	}
	if again.Unchanged != 3 {
		t.Fatalf("re-sent: %+v, want 3 unchanged", again)
	}
	for typ, n := range counts {
		if got := f.versions(t, typ); got != n {
			t.Errorf("re-sent batch: %d %s versions, want %d (none new)", got, typ, n)
		}
	}

	// A corrected reading updates one Observation: an UPDATE Provenance
	// naming version 2, with that message alone.
	fixed := msg("D1", "MRN1", "2026-11-20T09:01:00Z", 99)
	if _, err := f.svc.Ingest(ctx, "pulse", [][]byte{fixed}, requestEvent("/ingest/pulse")); err != nil {
		t.Fatal(err)
	}
	_, pu := f.provenanceOf(t, devRef("D1"), "UPDATE")
	if len(pu.Target) != 1 || !strings.HasSuffix(pu.Target[0].Reference, "/_history/2") {
		t.Errorf("update Provenance targets %+v, want the Observation's version 2", pu.Target)
	}
	bu := decodeAs[binaryDoc](t, f.readValid(t, pu.Entity[0].What.Reference))
	if string(bu.Data) != string(fixed) {
		t.Errorf("update Binary %q, want %q", bu.Data, fixed)
	}
}

// readValid reads ref ("Type/id") and checks it is valid R4.
func (f *fixture) readValid(t *testing.T, ref string) fhir.Resource {
	t.Helper()
	typ, id, _ := strings.Cut(ref, "/")
	r, err := f.store.Read(context.Background(), typ, id)
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	valid(t, *r)
	return *r
}

// auditDoc is what the tests read of an AuditEvent.
type auditDoc struct {
	Type        struct{ System, Code string }
	Action      string
	Outcome     string
	OutcomeDesc string
	Agent       []struct {
		Who struct{ Identifier struct{ Value string } }
	}
	Entity []struct {
		What        struct{ Reference string }
		Name        string
		Description string
	}
}

func (d auditDoc) refs() []string {
	var out []string
	for _, e := range d.Entity {
		if e.What.Reference != "" {
			out = append(out, e.What.Reference)
		}
		if e.Name != "" {
			out = append(out, e.Name)
		}
	}
	return out
}

func TestIngestAuditEvent(t *testing.T) {
	f := newFixture(t, false)
	ctx := context.Background()
	bad := []byte(`{"device":"D1","patient":"MRN1","time":"2026-11-20T09:00:00Z"}`)
	batch := [][]byte{msg("D1", "MRN1", "2026-11-20T09:00:00Z", 70), bad, msg("D2", "MRN2", "2026-11-20T09:00:00Z", 71), []byte(`{"device":`)}
	if _, err := f.svc.Ingest(ctx, "pulse", batch, requestEvent("/ingest/pulse?batch=1")); err != nil {
		t.Fatal(err)
	}
	events := f.find(t, "AuditEvent", url.Values{"patient": {"Patient/" + patientID("MRN1")}, "type": {"http://dicom.nema.org/resources/ontology/DCM|110107"}})
	if len(events) != 1 {
		t.Fatalf("%d AuditEvents of MRN1's import, want 1", len(events))
	}
	valid(t, events[0])
	ev := decodeAs[auditDoc](t, events[0])
	if ev.Outcome != "4" || ev.OutcomeDesc != "2 of 4 messages rejected (dead-lettered)" || ev.Action != "C" {
		t.Errorf("outcome %q %q action %q, want 4, 2 of 4 rejected, C", ev.Outcome, ev.OutcomeDesc, ev.Action)
	}
	refs := ev.refs()
	for _, want := range []string{"mapping pulse", "Patient/" + patientID("MRN1"), "Patient/" + patientID("MRN2")} {
		if !slices.Contains(refs, want) {
			t.Errorf("entities %v lack %s", refs, want)
		}
	}
	var binaries, provenances int
	for _, r := range refs {
		switch {
		case strings.HasPrefix(r, "Binary/") && strings.HasSuffix(r, "/_history/1"):
			binaries++
		case strings.HasPrefix(r, "Provenance/") && strings.HasSuffix(r, "/_history/1"):
			provenances++
			f.readValid(t, strings.Split(r, "/_history/")[0])
		}
	}
	if binaries != 2 || provenances != 2 {
		t.Errorf("entities %v: %d Binaries and %d Provenances, want 2 of each (one per device)", refs, binaries, provenances)
	}
	if ev.Entity[0].Description != "/ingest/pulse?batch=1" || ev.Agent[0].Who.Identifier.Value != "gateway-7" {
		t.Errorf("the caller's request entity and client are lost: %s", events[0].JSON)
	}

	// Re-sent: nothing changes, and the attempt is recorded all the same.
	if _, err := f.svc.Ingest(ctx, "pulse", batch[:1], requestEvent("/ingest/pulse?batch=2")); err != nil {
		t.Fatal(err)
	}
	events = f.find(t, "AuditEvent", url.Values{"patient": {"Patient/" + patientID("MRN1")}, "outcome": {"0"}})
	if len(events) != 1 {
		t.Fatalf("%d successful AuditEvents of MRN1, want the re-send's", len(events))
	}
	if refs := decodeAs[auditDoc](t, events[0]).refs(); slices.ContainsFunc(refs, func(r string) bool { return strings.HasPrefix(r, "Binary/") }) {
		t.Errorf("re-send's record names Binaries it did not write: %v", refs)
	}

	// Every message rejected: still recorded.
	if _, err := f.svc.Ingest(ctx, "pulse", [][]byte{bad}, requestEvent("/ingest/pulse?batch=3")); err != nil {
		t.Fatal(err)
	}
	if n := f.count(t, "AuditEvent", url.Values{"outcome": {"4"}}); n != 2 {
		t.Errorf("%d AuditEvents with outcome 4, want 2", n)
	}
}

// failingAudit is a store whose AuditEvent writes fail.
type failingAudit struct{ storage.Store }

var errAuditDown = errors.New("audit table unavailable")

func (s failingAudit) WriteBatch(ctx context.Context, ws []storage.Write) []error {
	errs := s.Store.WriteBatch(ctx, slices.DeleteFunc(slices.Clone(ws), func(w storage.Write) bool { return w.Resource.Type == "AuditEvent" }))
	out := make([]error, 0, len(ws))
	for _, w := range ws {
		if w.Resource.Type == "AuditEvent" {
			out = append(out, errAuditDown)
			continue
		}
		out = append(out, errs[0])
		errs = errs[1:]
	}
	return out
}

func TestIngestFailsWithoutItsAuditRecord(t *testing.T) {
	f := newFixtureOn(t, false, func(s storage.Store) storage.Store { return failingAudit{s} })
	ctx := context.Background()
	reading := msg("D1", "MRN1", "2026-11-20T09:00:00Z", 70)
	if _, err := f.svc.Ingest(ctx, "pulse", [][]byte{reading}, requestEvent("/ingest/pulse")); !errors.Is(err, errAuditDown) {
		t.Fatalf("Ingest with the audit write failing: %v, want the audit failure", err)
	}
	// Re-sending is safe: the reading is there once, unchanged.
	res, err := f.svc.Ingest(ctx, "pulse", [][]byte{reading}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Created+res.Unchanged != 1 || f.count(t, "Observation", url.Values{}) != 1 {
		t.Errorf("re-sent after the failure: %+v", res)
	}
}

func TestHandleAuditsMQTTMessages(t *testing.T) {
	f := newFixture(t, false)
	if err := f.svc.Handle(context.Background(), "pulse", msg("D1", "MRN1", "2026-11-20T09:00:00Z", 70)); err != nil {
		t.Fatal(err)
	}
	events := f.find(t, "AuditEvent", url.Values{"patient": {"Patient/" + patientID("MRN1")}, "type": {"110107"}})
	if len(events) != 1 {
		t.Fatalf("%d AuditEvents of the MQTT message, want 1", len(events))
	}
	valid(t, events[0])
	ev := decodeAs[auditDoc](t, events[0])
	if ev.Outcome != "0" || ev.Agent[0].Who.Identifier.Value != "mqtt" || !slices.Contains(ev.refs(), "mqtt message") {
		t.Errorf("MQTT record %s", events[0].JSON)
	}
	_, p := f.provenanceOf(t, devRef("D1"), "CREATE")
	if len(p.Agent) != 2 || p.Agent[1].Who.Identifier.Value != "mqtt" {
		t.Errorf("MQTT Provenance agents %+v, want the device and the mqtt client", p.Agent)
	}
}

func TestHandleAuditsMessagesOfNoMapping(t *testing.T) {
	f := newFixture(t, false)
	if err := f.svc.Handle(context.Background(), "gone", msg("D1", "MRN1", "2026-11-20T09:00:00Z", 70)); err != nil {
		t.Fatal(err)
	}
	events := f.find(t, "AuditEvent", url.Values{"outcome": {"4"}})
	if len(events) != 1 || !strings.Contains(string(events[0].JSON), `there is no mapping \"gone\"`) {
		t.Fatalf("AuditEvents of a message for no mapping: %d", len(events))
	}
	valid(t, events[0])
}

// Writers racing for one Observation: each version written is the target
// of exactly one Provenance, whoever lost compare-and-swaps on the way.
func TestProvenanceOfRacingWriters(t *testing.T) {
	f := newFixture(t, false)
	ctx := context.Background()
	if _, err := f.svc.Ingest(ctx, "pulse", [][]byte{msg("D1", "MRN1", "2026-11-20T09:00:00Z", 50)}, nil); err != nil {
		t.Fatal(err)
	}
	const writers = 12
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			_, err := f.svc.Ingest(ctx, "pulse", [][]byte{msg("D1", "MRN1", "2026-11-20T09:00:00Z", float64(60+i))}, requestEvent("/ingest/pulse"))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	obs := f.find(t, "Observation", url.Values{})
	if len(obs) != 1 || obs[0].Version != writers+1 {
		t.Fatalf("%d Observations, version %d, want 1 at version %d", len(obs), obs[0].Version, writers+1)
	}
	seen := map[string]int{}
	for _, r := range f.find(t, "Provenance", url.Values{}) {
		for _, tg := range decodeAs[provenanceDoc](t, r).Target {
			seen[tg.Reference]++
		}
	}
	for v := 1; v <= writers+1; v++ {
		ref := fmt.Sprintf("Observation/%s/_history/%d", obs[0].ID, v)
		if seen[ref] != 1 {
			t.Errorf("%s is the target of %d Provenances, want 1 (%v)", ref, seen[ref], seen)
		}
	}
	t.Logf("%d Provenance versions for %d Provenances (corrections after lost races)", f.versions(t, "Provenance"), len(f.find(t, "Provenance", url.Values{})))
	if len(seen) != writers+1 {
		t.Errorf("Provenance targets %v, want versions 1 to %d once each", seen, writers+1)
	}
}
