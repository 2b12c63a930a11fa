package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/ingest"
	"github.com/medbridge/medbridge/mappers"
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
	"github.com/medbridge/medbridge/storage/sqlite"
)

// pulseMapper reads {"device", "patient", "time", "hr"} messages: the
// smallest mapping that exercises the service; the real mappings have
// their own tests and are driven end to end in the server's.
type pulseMapper struct{}

func (pulseMapper) Map(payload []byte) ([]mappers.Reading, error) {
	var m struct {
		Device, Patient, Time string
		HR                    *float64
	}
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, err
	}
	if m.HR == nil {
		return nil, fmt.Errorf("hr is missing")
	}
	t, err := time.Parse(time.RFC3339, m.Time)
	if err != nil {
		return nil, err
	}
	key, value := mappers.Effective(t, t)
	return []mappers.Reading{{
		Type:    "heartrate",
		Device:  mappers.Device{Identifier: mappers.Identifier{System: "urn:example:serial", Value: m.Device}, Model: "P-1"},
		Patient: mappers.Identifier{System: "urn:example:mrn", Value: m.Patient},
		Start:   t, End: t,
		Observation: map[string]any{
			"status":        "final",
			"category":      []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}}}},
			"code":          map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "8867-4"}}},
			key:             value,
			"valueQuantity": map[string]any{"value": *m.HR, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
		},
	}}, nil
}

type fixture struct {
	store storage.Store
	svc   *ingest.Service
	spec  *conformance.Spec
}

func newFixture(t *testing.T, lookup bool) *fixture {
	t.Helper()
	return newFixtureOn(t, lookup, nil)
}

// newFixtureOn is newFixture with the service's store wrapped by wrap
// (when not nil); the fixture reads the store itself.
func newFixtureOn(t *testing.T, lookup bool, wrap func(storage.Store) storage.Store) *fixture {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	var svcStore storage.Store = store
	if wrap != nil {
		svcStore = wrap(store)
	}
	spec, err := conformance.Load()
	if err != nil {
		t.Fatal(err)
	}
	codec, err := fhir.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	svc, err := ingest.New(ingest.Config{Store: svcStore, Spec: spec, Codec: codec,
		Mappings: []*ingest.Mapping{{Name: "pulse", Mapper: pulseMapper{}, Lookup: lookup}}})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{store: store, svc: svc, spec: spec}
}

func msg(device, patient, at string, hr float64) []byte {
	b, _ := json.Marshal(map[string]any{"device": device, "patient": patient, "time": at, "hr": hr})
	return b
}

// search returns the first page of the current resources of typ that
// match params.
func (f *fixture) search(t *testing.T, typ string, params url.Values) *storage.SearchPage {
	t.Helper()
	q, err := search.ParseQuery(f.spec, []string{typ}, params, search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	page, err := f.store.Search(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return page
}

// count returns how many current resources of typ match params.
func (f *fixture) count(t *testing.T, typ string, params url.Values) int {
	t.Helper()
	params.Set("_total", "accurate")
	return f.search(t, typ, params).Total
}

func TestReplayedBatchChangesNothing(t *testing.T) {
	f := newFixture(t, false)
	ctx := context.Background()
	var batch [][]byte
	for i := range 20 {
		batch = append(batch, msg("D1", "MRN1", fmt.Sprintf("2026-11-20T09:%02d:00Z", i), 60+float64(i)))
	}
	first, err := f.svc.Ingest(ctx, "pulse", batch, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Created != 20 || first.Updated+first.Unchanged+first.Rejected != 0 {
		t.Fatalf("first batch: %+v, want 20 created", first)
	}
	again, err := f.svc.Ingest(ctx, "pulse", batch, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Unchanged != 20 || again.Created+again.Updated+again.Rejected != 0 {
		t.Fatalf("same batch again: %+v, want 20 unchanged", again)
	}
	if n := f.count(t, "Observation", url.Values{}); n != 20 {
		t.Errorf("%d Observations, want 20", n)
	}
	for _, typ := range []string{"Device", "Patient"} {
		if n := f.count(t, typ, url.Values{}); n != 1 {
			t.Errorf("%d %s, want 1", n, typ)
		}
	}
	// Every Observation is still at version 1: the replay wrote nothing.
	page, err := f.store.History(ctx, storage.HistoryQuery{Type: "Observation", Count: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Versions) != 20 {
		t.Errorf("%d Observation versions, want 20", len(page.Versions))
	}
	// A corrected value for one reading is an update of the same Observation.
	fixed, err := f.svc.Ingest(ctx, "pulse", [][]byte{msg("D1", "MRN1", "2026-11-20T09:03:00Z", 99)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fixed.Updated != 1 {
		t.Errorf("corrected reading: %+v, want 1 updated", fixed)
	}
}

func TestParallelFirstReadingsMakeOneDevice(t *testing.T) {
	f := newFixture(t, false)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Go(func() {
			res, err := f.svc.Ingest(ctx, "pulse", [][]byte{msg("NEW-DEVICE", "MRN-NEW", fmt.Sprintf("2026-11-20T10:00:%02dZ", i), 70)}, nil)
			if err == nil && res.Created != 1 {
				err = fmt.Errorf("reading %d: %+v", i, res)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := f.count(t, "Device", url.Values{"identifier": {"urn:example:serial|NEW-DEVICE"}}); n != 1 {
		t.Errorf("%d Devices for one new device, want 1", n)
	}
	if n := f.count(t, "Patient", url.Values{"identifier": {"urn:example:mrn|MRN-NEW"}}); n != 1 {
		t.Errorf("%d Patients for one new patient, want 1", n)
	}
	if n := f.count(t, "Observation", url.Values{"device": {"Device/" + mappers.IdentifierID(mappers.Identifier{System: "urn:example:serial", Value: "NEW-DEVICE"})}}); n != 50 {
		t.Errorf("%d Observations linked to the device, want 50", n)
	}
}

func TestRegisteredPatientIsUsed(t *testing.T) {
	f := newFixture(t, true)
	ctx := context.Background()
	// Unknown patient under Lookup: dead-lettered, nothing written.
	res, err := f.svc.Ingest(ctx, "pulse", [][]byte{msg("D9", "MRN-EHR", "2026-11-20T11:00:00Z", 80)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rejected != 1 || !strings.Contains(res.Rejections[0].Reason, "MRN-EHR") {
		t.Fatalf("unknown patient under Lookup: %+v, want 1 rejection naming the identifier", res)
	}
	if n := f.count(t, "Observation", url.Values{}); n != 0 {
		t.Errorf("%d Observations after a rejection, want 0", n)
	}
	letters, err := f.svc.DeadLetters(ctx, storage.DeadLetterQuery{Count: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(letters.Letters) != 1 || letters.Letters[0].ID != res.Rejections[0].DeadLetter {
		t.Fatalf("dead letters %+v, want the rejected message", letters.Letters)
	}
	// The EHR registers the patient; replaying the dead letter stores the
	// reading against that Patient and removes the dead letter.
	patient := []byte(`{"resourceType":"Patient","id":"ehr-1","identifier":[{"system":"urn:example:mrn","value":"MRN-EHR"}]}`)
	f.put(t, "Patient", "ehr-1", patient)
	replayed, err := f.svc.Replay(ctx, res.Rejections[0].DeadLetter, nil)
	if err != nil {
		t.Fatal(err)
	}
	if replayed.Created != 1 {
		t.Fatalf("replay: %+v, want 1 created", replayed)
	}
	if n := f.count(t, "Observation", url.Values{"subject": {"Patient/ehr-1"}}); n != 1 {
		t.Errorf("%d Observations of the registered patient, want 1", n)
	}
	if n := f.count(t, "Patient", url.Values{}); n != 1 {
		t.Errorf("%d Patients, want only the registered one", n)
	}
	if _, err := f.svc.DeadLetter(ctx, res.Rejections[0].DeadLetter); err == nil {
		t.Error("the dead letter is still there after a successful replay")
	}
}

func TestDeviceFollowsItsPatient(t *testing.T) {
	f := newFixture(t, false)
	ctx := context.Background()
	for _, mrn := range []string{"MRN-A", "MRN-B"} {
		if _, err := f.svc.Ingest(ctx, "pulse", [][]byte{msg("LOANER", mrn, "2026-11-20T12:00:00Z", 75)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	id := mappers.IdentifierID(mappers.Identifier{System: "urn:example:serial", Value: "LOANER"})
	dev, err := f.store.Read(ctx, "Device", id)
	if err != nil {
		t.Fatal(err)
	}
	want := "Patient/" + mappers.IdentifierID(mappers.Identifier{System: "urn:example:mrn", Value: "MRN-B"})
	if !strings.Contains(string(dev.JSON), `"patient":{"reference":"`+want+`"}`) || dev.Version != 2 {
		t.Errorf("Device after a reading of another patient: version %d %s, want version 2 linked to %s", dev.Version, dev.JSON, want)
	}
}

func TestRejectedMessagesAreKept(t *testing.T) {
	f := newFixture(t, false)
	ctx := context.Background()
	bad := []byte(`{"device":"D1","patient":"MRN1","time":"2026-11-20T09:00:00Z"}`)
	notJSON := []byte(`{"device":`)
	res, err := f.svc.Ingest(ctx, "pulse", [][]byte{msg("D1", "MRN1", "2026-11-20T09:00:00Z", 70), bad, notJSON}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 1 || res.Rejected != 2 {
		t.Fatalf("%+v, want 1 created and 2 rejected", res)
	}
	if res.Rejections[0].Message != 1 || res.Rejections[0].Reason != "hr is missing" {
		t.Errorf("first rejection %+v, want message 1 with the mapper's reason", res.Rejections[0])
	}
	for i, payload := range [][]byte{bad, notJSON} {
		d, err := f.svc.DeadLetter(ctx, res.Rejections[i].DeadLetter)
		if err != nil {
			t.Fatal(err)
		}
		if string(d.Payload) != string(payload) || d.Mapping != "pulse" || d.Attempts != 1 {
			t.Errorf("dead letter %d: %+v, want the payload as sent", i, d)
		}
	}
	// Sending the same bad message again is the same dead letter, tried twice.
	again, err := f.svc.Ingest(ctx, "pulse", [][]byte{bad}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.svc.DeadLetter(ctx, again.Rejections[0].DeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != res.Rejections[0].DeadLetter || d.Attempts != 2 {
		t.Errorf("re-sent bad message: dead letter %s attempts %d, want %s attempts 2", d.ID, d.Attempts, res.Rejections[0].DeadLetter)
	}
}

func (f *fixture) put(t *testing.T, typ, id string, body []byte) {
	t.Helper()
	codec, _ := fhir.NewCodec()
	p, err := codec.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	p.SetMeta(1, time.Now())
	b, err := codec.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := storage.NewExtractor(f.spec)
	idx, err := x.Extract(typ, b)
	if err != nil {
		t.Fatal(err)
	}
	r := fhir.Resource{Type: typ, ID: id, Version: 1, LastUpdated: time.Now().UTC().Truncate(time.Microsecond), Method: "PUT", JSON: b}
	if err := f.store.Write(context.Background(), storage.Write{Resource: r, Index: idx}); err != nil {
		t.Fatal(err)
	}
}
