package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/medbridge/medbridge/mappers"
	"github.com/medbridge/medbridge/server/servertest"
)

// ingestResult is the answer of POST /ingest/{mapping}.
type ingestResult struct {
	Messages, Readings, Created, Updated, Unchanged, Rejected int
	Rejections                                                []struct {
		Message            int
		Reason, DeadLetter string
	}
}

func postIngest(t *testing.T, srv *servertest.Server, mapping string, body []byte, contentType string) (int, ingestResult, []byte) {
	t.Helper()
	res := srv.Do(t, http.MethodPost, "/ingest/"+mapping, body, "Content-Type", contentType)
	var out ingestResult
	if res.Status == http.StatusOK {
		if err := json.Unmarshal(res.Body, &out); err != nil {
			t.Fatalf("ingest answer: %v\n%s", err, res.Body)
		}
	}
	return res.Status, out, res.Body
}

func sample(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../shared/samples/" + path)
	if err != nil {
		b, err = os.ReadFile("/work/shared/samples/" + path)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// omhHeartRate is an Open mHealth heart-rate data point of patient user at
// minute m from the source "Pulseband 4".
func omhHeartRate(user string, m, bpm int) []byte {
	var compact bytes.Buffer
	_ = json.Compact(&compact, fmt.Appendf(nil, `{"header":{"uuid":"00000000-0000-4000-8000-%012d","source_creation_date_time":"2026-11-21T07:%02d:00Z",
		"schema_id":{"namespace":"omh","name":"heart-rate","version":"2.0"},"external_datasheets":[{"datasheet_type":"manufacturer","datasheet_reference":"Pulseband 4"}],
		"user_id":%q},"body":{"heart_rate":{"value":%d,"unit":"beats/min"},"effective_time_frame":{"date_time":"2026-11-21T07:%02d:00Z"}}}`, m, m, user, bpm, m))
	return compact.Bytes() // one line, for NDJSON
}

func TestIngestOpenMHealth(t *testing.T) {
	servertest.EachBackend(t, func(t *testing.T, b servertest.Backend) {
		srv := servertest.StartBackend(t, b, servertest.WithIngest(t, ""))

		// One message, as a single JSON object.
		status, res, body := postIngest(t, srv, "omh", sample(t, "openmhealth/heart-rate.json"), "application/json")
		if status != http.StatusOK || res.Created != 1 || res.Readings != 1 {
			t.Fatalf("POST one data point: %d %s", status, body)
		}
		// Visible to search and $lastn as soon as ingest answered, with
		// the vital-signs coding and the subject the EHR searches by.
		set := search(t, srv, "/fhir/Observation?code=http://loinc.org|8867-4&patient.identifier=patient-4471")
		if len(set.Entry) != 1 {
			t.Fatalf("search after ingest: %d entries, want 1", len(set.Entry))
		}
		obs := set.Entry[0].resource(t)
		if q := obs["valueQuantity"].(map[string]any); q["code"] != "/min" || q["value"] != 64.0 || obs["status"] != "final" {
			t.Errorf("ingested heart rate: %v", obs)
		}
		lastn := search(t, srv, "/fhir/Observation/$lastn?category=vital-signs&"+"subject="+obs["subject"].(map[string]any)["reference"].(string))
		if len(lastn.Entry) != 1 || lastn.Entry[0].ref() != set.Entry[0].ref() {
			t.Errorf("$lastn right after ingest: %d entries", len(lastn.Entry))
		}
		// Its Device exists and is linked to the patient.
		device := srv.Do(t, http.MethodGet, "/fhir/"+obs["device"].(map[string]any)["reference"].(string), nil)
		if device.Status != http.StatusOK || !bytes.Contains(device.Body, []byte(obs["subject"].(map[string]any)["reference"].(string))) {
			t.Errorf("the reading's Device: %d %s", device.Status, device.Body)
		}

		// A JSON array and NDJSON; re-sending changes nothing.
		var array, ndjson [][]byte
		for m := range 5 {
			array = append(array, omhHeartRate("patient-9", m, 70+m))
			ndjson = append(ndjson, omhHeartRate("patient-9", 10+m, 80+m))
		}
		arrayBody := append(append([]byte("["), bytes.Join(array, []byte(","))...), ']')
		ndjsonBody := bytes.Join(ndjson, []byte("\n"))
		for _, tc := range []struct {
			name, ct string
			body     []byte
		}{{"array", "application/json", arrayBody}, {"ndjson", "application/x-ndjson", ndjsonBody}} {
			status, res, body := postIngest(t, srv, "omh", tc.body, tc.ct)
			if status != http.StatusOK || res.Messages != 5 || res.Created != 5 {
				t.Errorf("%s: %d %s, want 5 created", tc.name, status, body)
			}
			status, res, body = postIngest(t, srv, "omh", tc.body, tc.ct)
			if status != http.StatusOK || res.Unchanged != 5 || res.Created+res.Updated != 0 {
				t.Errorf("%s again: %d %s, want 5 unchanged", tc.name, status, body)
			}
		}
		if set := search(t, srv, "/fhir/Observation?patient.identifier=patient-9&_total=accurate"); *set.Total != 10 {
			t.Errorf("%d Observations of patient-9, want 10", *set.Total)
		}
		if set := search(t, srv, "/fhir/Device?_total=accurate"); *set.Total != 2 {
			t.Errorf("%d Devices, want 2 (one wearable each of two patients)", *set.Total)
		}
	})
}

func TestIngestDeadLetters(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite, servertest.WithIngest(t, ""))
	bad := sample(t, "openmhealth/invalid-missing-unit.json")
	good := omhHeartRate("patient-1", 1, 66)
	var compactBad bytes.Buffer
	if err := json.Compact(&compactBad, bad); err != nil {
		t.Fatal(err)
	}
	body := bytes.Join([][]byte{good, compactBad.Bytes(), []byte(`{"header":`)}, []byte("\n"))
	status, res, raw := postIngest(t, srv, "omh", body, "application/x-ndjson")
	if status != http.StatusOK || res.Created != 1 || res.Rejected != 2 {
		t.Fatalf("NDJSON with a bad data point and a broken line: %d %s", status, raw)
	}
	if r := res.Rejections[0]; r.Message != 1 || !strings.Contains(r.Reason, "unit") {
		t.Errorf("rejection %+v, want message 1 naming the missing unit", r)
	}
	if r := res.Rejections[1]; r.Message != 2 || !strings.Contains(r.Reason, "not valid JSON") {
		t.Errorf("rejection %+v, want message 2 as not JSON", r)
	}

	list := srv.Do(t, http.MethodGet, "/ingest/errors?mapping=omh", nil)
	var letters struct {
		DeadLetters []struct {
			ID, Mapping, Reason, PayloadText string
			Attempts                         int
			Payload                          json.RawMessage
		}
	}
	if err := json.Unmarshal(list.Body, &letters); err != nil || list.Status != http.StatusOK {
		t.Fatalf("GET /ingest/errors: %d %s", list.Status, list.Body)
	}
	if len(letters.DeadLetters) != 2 {
		t.Fatalf("%d dead letters, want 2: %s", len(letters.DeadLetters), list.Body)
	}
	byID := map[string]int{}
	for i, d := range letters.DeadLetters {
		byID[d.ID] = i
	}
	d := letters.DeadLetters[byID[res.Rejections[0].DeadLetter]]
	if !json.Valid(d.Payload) || !bytes.Contains(d.Payload, []byte("11111111-2222-4333-8444-555555555555")) || d.Attempts != 1 {
		t.Errorf("dead letter of the bad data point: %+v", d)
	}
	if broken := letters.DeadLetters[byID[res.Rejections[1].DeadLetter]]; broken.PayloadText != `{"header":` {
		t.Errorf("dead letter of the broken line keeps it as sent: %+v", broken)
	}

	// Replaying without a fix fails again and counts the attempt.
	replay := srv.Do(t, http.MethodPost, "/ingest/errors/"+d.ID+"/replay", nil)
	if replay.Status != http.StatusOK || !bytes.Contains(replay.Body, []byte(`"rejected":1`)) {
		t.Errorf("replay of an unfixable message: %d %s", replay.Status, replay.Body)
	}
	one := srv.Do(t, http.MethodGet, "/ingest/errors/"+d.ID, nil)
	if !bytes.Contains(one.Body, []byte(`"attempts":2`)) {
		t.Errorf("dead letter after a failed replay: %s", one.Body)
	}
	// The operator discards it.
	if res := srv.Do(t, http.MethodDelete, "/ingest/errors/"+d.ID, nil); res.Status != http.StatusNoContent {
		t.Errorf("DELETE dead letter: %d %s", res.Status, res.Body)
	}
	if res := srv.Do(t, http.MethodGet, "/ingest/errors/"+d.ID, nil); res.Status != http.StatusNotFound || res.JSON(t)["resourceType"] != "OperationOutcome" {
		t.Errorf("discarded dead letter: %d %s", res.Status, res.Body)
	}

	// Bad requests are OperationOutcomes and write nothing.
	for _, tc := range []struct {
		path   string
		body   string
		status int
	}{
		{"/ingest/nosuchmapping", `{}`, http.StatusNotFound},
		{"/ingest/omh", `   `, http.StatusBadRequest},
		{"/ingest/omh", `{"header": [`, http.StatusBadRequest},
	} {
		res := srv.Do(t, http.MethodPost, tc.path, []byte(tc.body), "Content-Type", "application/json")
		if res.Status != tc.status || res.JSON(t)["resourceType"] != "OperationOutcome" {
			t.Errorf("POST %s %q: %d %s, want %d OperationOutcome", tc.path, tc.body, res.Status, res.Body, tc.status)
		}
	}
}

func TestIngestParallelFirstReadings(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite, servertest.WithIngest(t, ""))
	var wg sync.WaitGroup
	statuses := make(chan string, 50)
	for i := range 50 {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, srv.Root+"/ingest/omh", bytes.NewReader(omhHeartRate("first-sight", i, 60+i%30)))
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- err.Error()
				return
			}
			res.Body.Close()
			statuses <- res.Status
		})
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != "200 OK" {
			t.Errorf("parallel first reading: %s", s)
		}
	}
	for path, want := range map[string]int{
		"/fhir/Device?_total=accurate":      1,
		"/fhir/Patient?_total=accurate":     1,
		"/fhir/Observation?_total=accurate": 50,
	} {
		if set := search(t, srv, path); *set.Total != want {
			t.Errorf("%s: %d, want %d", path, *set.Total, want)
		}
	}
}

func TestIngestPHDBundle(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite, servertest.WithIngest(t, ""))
	status, res, body := postIngest(t, srv, "phd", sample(t, "phd/bp-cuff-bundle.json"), "application/fhir+json")
	if status != http.StatusOK || res.Created == 0 || res.Rejected != 0 {
		t.Fatalf("PHD bundle: %d %s", status, body)
	}
	// The EHR's LOINC search finds the MDC-coded blood pressure.
	set := search(t, srv, "/fhir/Observation?code=http://loinc.org|85354-9&patient.identifier=http://hospital.example.org/mrn|MRN-100234")
	if len(set.Entry) != 1 {
		t.Fatalf("LOINC search for the PHD blood pressure: %d entries", len(set.Entry))
	}
	obs := set.Entry[0].resource(t)
	raw, _ := json.Marshal(obs["code"])
	if !bytes.Contains(raw, []byte("urn:iso:std:iso:11073:10101")) || !bytes.Contains(raw, []byte("150020")) {
		t.Errorf("the MDC coding as sent is kept beside LOINC: %s", raw)
	}
	// The cuff is a Device with its EUI-64.
	dev := search(t, srv, "/fhir/Device?identifier=urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680|A4-C1-38-FF-FE-29-3D-0E")
	if len(dev.Entry) != 1 {
		t.Errorf("the PHD device by EUI-64: %d entries", len(dev.Entry))
	}
	status, res, body = postIngest(t, srv, "phd", sample(t, "phd/bp-cuff-bundle.json"), "application/fhir+json")
	if status != http.StatusOK || res.Created+res.Updated != 0 {
		t.Errorf("the same bundle again: %d %s, want nothing new", status, body)
	}

	mappings := srv.Do(t, http.MethodGet, "/ingest/mappings", nil)
	for _, name := range []string{`"name":"omh"`, `"name":"phd"`} {
		if !bytes.Contains(mappings.Body, []byte(name)) {
			t.Errorf("GET /ingest/mappings lacks %s: %s", name, mappings.Body)
		}
	}
}

// pulse is a bedside-monitor message of the example template mapping.
func pulse(minute, bpm int) []byte {
	return fmt.Appendf(nil, `{"mrn":"MRN-7","monitor":{"serial":"BM-1","model":"VitalView 300"},"observedAt":"2026-11-20T10:%02d:00Z","pulse":%d}`, minute, bpm)
}

func TestIngestTemplateMapping(t *testing.T) {
	servertest.EachBackend(t, func(t *testing.T, b servertest.Backend) {
		srv := servertest.StartBackend(t, b, servertest.WithIngest(t, "../testdata/mappings"))
		payloads, err := os.ReadFile("../testdata/mappings/bedside/payloads.ndjson")
		if err != nil {
			t.Fatal(err)
		}
		status, res, body := postIngest(t, srv, "bedside", payloads, "application/x-ndjson")
		if status != http.StatusOK || res.Messages != 6 || res.Rejected != 1 || res.Created != res.Readings || res.Created == 0 {
			t.Fatalf("bedside payloads: %d %s", status, body)
		}
		if r := res.Rejections[0]; r.Message != 5 || !strings.Contains(r.Reason, `"n/a"`) {
			t.Errorf("the n/a pulse: %+v", r)
		}
		status, again, body := postIngest(t, srv, "bedside", payloads, "application/x-ndjson")
		if status != http.StatusOK || again.Unchanged != res.Readings || again.Created+again.Updated != 0 {
			t.Errorf("the same payloads again: %d %s", status, body)
		}
		// The blood pressure panel, found by the EHR's LOINC search.
		bp := search(t, srv, "/fhir/Observation?code=http://loinc.org|85354-9&patient.identifier=http://hospital.example.org/identifiers/mrn|MRN-100234")
		if len(bp.Entry) != 1 || !bytes.Contains(bp.Entry[0].Resource, []byte(`"8462-4"`)) || !bytes.Contains(bp.Entry[0].Resource, []byte(`"mm[Hg]"`)) {
			t.Errorf("blood pressure panel: %d entries", len(bp.Entry))
		}
		// °F from the monitor is stored in Cel: 99.5 °F is 37.5 Cel.
		temp := search(t, srv, "/fhir/Observation?code=http://loinc.org|8310-5&value-quantity=37.5|http://unitsofmeasure.org|Cel")
		if len(temp.Entry) != 1 {
			t.Errorf("temperature 37.5 Cel: %d entries", len(temp.Entry))
		}

		// Hourly SampledData: readings of one hour sent in two batches
		// merge into one Observation; re-sending changes nothing.
		first := bytes.Join([][]byte{pulse(0, 70), pulse(1, 71)}, []byte("\n"))
		second := bytes.Join([][]byte{pulse(2, 72), pulse(3, 73)}, []byte("\n"))
		postIngest(t, srv, "bedside", first, "application/x-ndjson")
		status, merged, body := postIngest(t, srv, "bedside", second, "application/x-ndjson")
		if status != http.StatusOK || merged.Updated != 2 || merged.Created != 2 {
			t.Fatalf("second half of the hour: %d %s, want 2 readings merged into the hourly series and 2 spot readings created", status, body)
		}
		status, replay, body := postIngest(t, srv, "bedside", append(append(first, '\n'), second...), "application/x-ndjson")
		if status != http.StatusOK || replay.Unchanged != replay.Readings {
			t.Errorf("the whole hour again: %d %s, want all unchanged", status, body)
		}
		var sampled []string
		for _, e := range search(t, srv, "/fhir/Observation?patient.identifier=MRN-7&_count=100").Entry {
			var obs struct{ ValueSampledData *struct{ Data string } }
			_ = json.Unmarshal(e.Resource, &obs)
			if obs.ValueSampledData != nil {
				sampled = append(sampled, obs.ValueSampledData.Data)
			}
		}
		if len(sampled) != 1 || !strings.HasPrefix(sampled[0], "70 71 72 73") {
			t.Errorf("hourly series: %q, want one starting 70 71 72 73", sampled)
		}
	})
}

func TestIngestProvenanceAndAudit(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite, servertest.WithIngest(t, ""))
	first, second := omhHeartRate("prov-user", 1, 61), omhHeartRate("prov-user", 2, 62)
	body := append(append(append([]byte(nil), first...), '\n'), second...)
	status, res, raw := postIngest(t, srv, "omh", body, "application/x-ndjson")
	if status != http.StatusOK || res.Created != 2 {
		t.Fatalf("ingest: %d %s", status, raw)
	}
	patient := "Patient/" + mappers.IdentifierID(mappers.Identifier{Value: "prov-user"})
	obs := search(t, srv, "/fhir/Observation?subject="+patient)
	if len(obs.Entry) != 2 {
		t.Fatalf("%d Observations of %s, want 2", len(obs.Entry), patient)
	}

	// Each Observation's Provenance comes with it, naming its version 1
	// and the Binary of the messages as sent.
	id := obs.Entry[0].id()
	set := search(t, srv, "/fhir/Observation?_id="+id+"&_revinclude=Provenance:target")
	provs := set.ids("include")
	if len(set.ids("match")) != 1 || len(provs) != 1 {
		t.Fatalf("_revinclude=Provenance:target: matches %v, included %v, want the Observation and its Provenance", set.ids("match"), provs)
	}
	var prov struct {
		Target []struct{ Reference string }
		Agent  []struct{ Who struct{ Reference string } }
		Entity []struct{ What struct{ Reference string } }
	}
	for _, e := range set.Entry {
		if e.Search.Mode == "include" {
			_ = json.Unmarshal(e.Resource, &prov)
		}
	}
	if !slices.ContainsFunc(prov.Target, func(r struct{ Reference string }) bool { return r.Reference == "Observation/"+id+"/_history/1" }) ||
		!strings.HasPrefix(prov.Agent[0].Who.Reference, "Device/") || len(prov.Entity) != 1 {
		t.Fatalf("Provenance %+v, want Observation/%s/_history/1, the Device and the Binary", prov, id)
	}
	bin := srv.Do(t, http.MethodGet, "/fhir/"+prov.Entity[0].What.Reference, nil)
	var binary struct {
		ContentType     string
		SecurityContext struct{ Reference string }
		Data            []byte
	}
	if err := json.Unmarshal(bin.Body, &binary); bin.Status != http.StatusOK || err != nil {
		t.Fatalf("GET %s: %d %s", prov.Entity[0].What.Reference, bin.Status, bin.Body)
	}
	if want := string(first) + "\n" + string(second) + "\n"; binary.ContentType != "application/x-ndjson" || string(binary.Data) != want || binary.SecurityContext.Reference != patient {
		t.Errorf("Binary %s %q in %q, want the messages as sent in %s", binary.ContentType, binary.Data, binary.SecurityContext.Reference, patient)
	}

	// One AuditEvent records the batch (the middleware writes no second),
	// found by the patient and the DICOM Import type.
	imports := search(t, srv, "/fhir/AuditEvent?patient="+patient+"&type=http://dicom.nema.org/resources/ontology/DCM|110107")
	if len(imports.Entry) != 1 {
		t.Fatalf("%d Import AuditEvents of %s, want 1", len(imports.Entry), patient)
	}
	record := string(imports.Entry[0].Resource)
	for _, want := range []string{`"name":"mapping omh"`, `"outcome":"0"`, `"action":"C"`, `"description":"/ingest/omh"`, prov.Entity[0].What.Reference + "/_history/1", "Provenance/" + provs[0] + "/_history/1"} {
		if !strings.Contains(record, want) {
			t.Errorf("the batch's AuditEvent lacks %s: %s", want, record)
		}
	}
	if all := search(t, srv, "/fhir/AuditEvent?type=110107&_total=accurate"); *all.Total != 1 {
		t.Errorf("%d Import AuditEvents, want 1 for the one ingest request", *all.Total)
	}

	// The same messages again: nothing new but the record of the attempt.
	postIngest(t, srv, "omh", body, "application/x-ndjson")
	if set := search(t, srv, "/fhir/Provenance?_total=accurate"); *set.Total != 1 {
		t.Errorf("%d Provenances after a re-send, want still 1", *set.Total)
	}
	if all := search(t, srv, "/fhir/AuditEvent?type=110107&_total=accurate"); *all.Total != 2 {
		t.Errorf("%d Import AuditEvents after a re-send, want 2", *all.Total)
	}
}

func TestIngestReplayAuditedOnce(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite, servertest.WithIngest(t, ""))
	status, res, raw := postIngest(t, srv, "omh", []byte(`{"header":{"user_id":"x"},"body":{}}`), "application/json")
	if status != http.StatusOK || res.Rejected != 1 {
		t.Fatalf("bad data point: %d %s", status, raw)
	}
	replay := srv.Do(t, http.MethodPost, "/ingest/errors/"+res.Rejections[0].DeadLetter+"/replay", nil)
	if replay.Status != http.StatusOK {
		t.Fatalf("replay: %d %s", replay.Status, replay.Body)
	}
	imports := search(t, srv, "/fhir/AuditEvent?type=110107&outcome=4&_total=accurate")
	if *imports.Total != 2 {
		t.Errorf("%d Import AuditEvents with outcome 4, want 2 (the request and its replay, once each)", *imports.Total)
	}
	if all := search(t, srv, "/fhir/AuditEvent?type=110107&_total=accurate"); *all.Total != 2 {
		t.Errorf("%d Import AuditEvents, want 2", *all.Total)
	}
}
