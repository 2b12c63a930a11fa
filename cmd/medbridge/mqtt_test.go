package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/medbridge/medbridge/ingest/mqtt/mqtttest"
)

// TestServeMQTT runs `medbridge serve --mqtt-url` against a real broker and
// checks over HTTP what the subscriber stored: a heart rate becomes a
// searchable Observation, a data point the mapping rejects and messages for
// no mapping are dead-lettered without holding up the ones behind them, and
// readings published while medbridge is down are stored exactly once after
// it restarts on the same data dir and client id.
func TestServeMQTT(t *testing.T) {
	broker := mqtttest.Start(t)
	dir := t.TempDir()
	args := []string{"--data-dir", dir, "--auth", "off", "--mqtt-url", broker, "--mqtt-client-id", "medbridge-e2e"}
	p := startLogged(t, args...)
	// The broker keeps messages for a session only once it exists.
	waitLog(t, p, "mqtt subscribed")

	mqtttest.Publish(t, broker, "medbridge/ingest/omh", sample(t, "heart-rate.json"))
	set := waitTotal(t, p, "/Observation?code=http://loinc.org|8867-4", 1)
	obs := set.Entry[0].Resource
	if q := obs.ValueQuantity; q.Value != 64 || q.Code != "/min" {
		t.Errorf("heart rate %+v; want 64 /min", q)
	}
	var patient struct {
		ResourceType string
		Identifier   []struct{ Value string }
	}
	getJSON(t, p.base+"/"+obs.Subject.Reference, &patient)
	if patient.ResourceType != "Patient" || len(patient.Identifier) == 0 || patient.Identifier[0].Value != "patient-4471" {
		t.Errorf("subject %s is %+v; want the Patient with identifier patient-4471", obs.Subject.Reference, patient)
	}

	// Rejected by the mapping, for an unknown mapping, and for the empty
	// mapping (a "+" level matches an empty one): each is dead-lettered
	// and acknowledged. The reading after them shows the queue moved on.
	mqtttest.Publish(t, broker, "medbridge/ingest/omh", sample(t, "invalid-missing-unit.json"))
	mqtttest.Publish(t, broker, "medbridge/ingest/nosuchmapping", []byte(`{"any":"thing"}`))
	mqtttest.Publish(t, broker, "medbridge/ingest/", []byte(`{"no":"mapping"}`))
	mqtttest.Publish(t, broker, "medbridge/ingest/omh", heartRate("patient-queue", 0, 70))
	waitTotal(t, p, "/Observation?patient.identifier=patient-queue", 1)
	letters := deadLetters(t, p)
	if len(letters) != 3 {
		t.Fatalf("%d dead letters, want 3: %+v", len(letters), letters)
	}
	for _, want := range []struct{ mapping, payload, reason string }{
		{"omh", "11111111-2222-4333-8444-555555555555", "unit"},
		{"nosuchmapping", `{"any":"thing"}`, `"nosuchmapping"`},
		{"", `{"no":"mapping"}`, `""`},
	} {
		d, ok := letters[want.mapping]
		if !ok || !strings.Contains(string(d.Payload), want.payload) || !strings.Contains(d.Reason, want.reason) || d.Attempts != 1 {
			t.Errorf("dead letter of mapping %q: %+v; want the payload with %s, a reason naming %s, 1 attempt", want.mapping, d, want.payload, want.reason)
		}
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	if strings.Contains(p.log(), "mqtt session ended") {
		t.Error("a message was refused: the subscriber reconnected")
	}
	for m := range 3 {
		mqtttest.Publish(t, broker, "medbridge/ingest/omh", heartRate("patient-down", m, 80+m))
	}
	p = startLogged(t, args...)
	set = waitTotal(t, p, "/Observation?patient.identifier=patient-down&_total=accurate", 3)
	for _, e := range set.Entry {
		if v := e.Resource.Meta.VersionID; v != "1" {
			t.Errorf("%s/%s is at version %s; want 1, written once", e.Resource.ResourceType, e.Resource.ID, v)
		}
	}
	// Observation ids are deterministic, so a redelivered reading would
	// not show in the totals; a redelivered dead letter counts another
	// attempt. Messages acknowledged before the stop must not come back.
	letters = deadLetters(t, p)
	if len(letters) != 3 {
		t.Errorf("%d dead letters after the restart, want 3", len(letters))
	}
	for _, d := range letters {
		if d.Attempts != 1 {
			t.Errorf("dead letter of mapping %q has %d attempts after the restart; want 1", d.Mapping, d.Attempts)
		}
	}
	waitTotal(t, p, "/Observation?_total=accurate", 5)
}

// startLogged is start, showing the process's log when the test fails.
func startLogged(t *testing.T, args ...string) *process {
	t.Helper()
	p := start(t, nil, args...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("medbridge log:\n%s", p.log())
		}
	})
	return p
}

// heartRate is an Open mHealth heart-rate data point of patient user at
// minute m.
func heartRate(user string, m, bpm int) []byte {
	return fmt.Appendf(nil, `{"header":{"uuid":"00000000-0000-4000-8000-%012d","source_creation_date_time":"2026-11-21T08:%02d:00Z",`+
		`"schema_id":{"namespace":"omh","name":"heart-rate","version":"2.0"},"user_id":%q},`+
		`"body":{"heart_rate":{"value":%d,"unit":"beats/min"},"effective_time_frame":{"date_time":"2026-11-21T08:%02d:00Z"}}}`, 100*bpm+m, m, user, bpm, m)
}

// sample reads one of the shared Open mHealth samples.
func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../../shared/samples/openmhealth", name))
	if err != nil {
		b, err = os.ReadFile(filepath.Join("/work/shared/samples/openmhealth", name))
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// observationSet is the part of a searchset Bundle of Observations the test
// reads.
type observationSet struct {
	Total *int
	Entry []struct {
		Resource struct {
			ResourceType, ID string
			Meta             struct {
				VersionID string `json:"versionId"`
			}
			ValueQuantity struct {
				Value float64
				Code  string
			}
			Subject struct{ Reference string }
		}
	}
}

// waitTotal searches base+query until it finds want entries (the total too,
// when the server gives one), failing the test after 5 seconds.
func waitTotal(t *testing.T, p *process, query string, want int) observationSet {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var set observationSet
		getJSON(t, p.base+query, &set)
		if len(set.Entry) == want && (set.Total == nil || *set.Total == want) {
			return set
		}
		if time.Now().After(deadline) {
			total := "none"
			if set.Total != nil {
				total = fmt.Sprint(*set.Total)
			}
			t.Fatalf("GET %s: %d entries, total %s after 5s; want %d", query, len(set.Entry), total, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deadLetter is a dead letter as GET /ingest/errors shows it.
type deadLetter struct {
	Mapping, Reason string
	Attempts        int
	Payload         json.RawMessage
}

// deadLetters lists every dead letter by mapping.
func deadLetters(t *testing.T, p *process) map[string]deadLetter {
	t.Helper()
	var page struct{ DeadLetters []deadLetter }
	getJSON(t, strings.TrimSuffix(p.base, "/fhir")+"/ingest/errors?_count=1000", &page)
	out := map[string]deadLetter{}
	for _, d := range page.DeadLetters {
		if _, dup := out[d.Mapping]; dup {
			t.Errorf("two dead letters of mapping %q", d.Mapping)
		}
		out[d.Mapping] = d
	}
	return out
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

// waitLog waits for a log line with message msg, failing the test after 5
// seconds.
func waitLog(t *testing.T, p *process, msg string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.log(), `"msg":"`+msg+`"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log after 5s", msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
