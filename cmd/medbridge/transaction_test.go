package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// killTransactionSize is the number of Observations of each transaction.
const killTransactionSize = 5000

// transactionBundle is a transaction of killTransactionSize Observations
// of Patient/subject (a marker of the round: nothing else references it).
func transactionBundle(t *testing.T, subject string) []byte {
	t.Helper()
	entries := make([]map[string]any, killTransactionSize)
	for i := range entries {
		entries[i] = map[string]any{
			"fullUrl": fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012d", i),
			"resource": map[string]any{
				"resourceType": "Observation", "status": "final",
				"code":              map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "8867-4"}}},
				"subject":           map[string]any{"reference": "Patient/" + subject},
				"effectiveDateTime": time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC).Format(time.RFC3339),
				"valueQuantity":     map[string]any{"value": 60 + i%40, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
			},
			"request": map[string]any{"method": "POST", "url": "Observation"},
		}
	}
	body, err := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// postTransaction sends body and reports the status, or an error when the
// server went away first.
func postTransaction(base string, body []byte) (int, error) {
	res, err := http.Post(base, "application/fhir+json", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	_, err = io.Copy(io.Discard, res.Body)
	return res.StatusCode, err
}

// observationsOf counts the Observations of Patient/subject.
func observationsOf(t *testing.T, base, subject string) int {
	t.Helper()
	res, err := http.Get(base + "/Observation?subject=Patient/" + subject + "&_summary=count")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var set struct{ Total *int }
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil || res.StatusCode != http.StatusOK || set.Total == nil {
		t.Fatalf("count of Patient/%s's Observations: %d %v", subject, res.StatusCode, err)
	}
	return *set.Total
}

// TestKill9MidTransaction posts transactions of 5,000 Observations and
// kills the process with SIGKILL while each is in flight, at several
// moments spread over the time one takes; after a restart on the same data
// dir each transaction's Observations are all there or none is.
func TestKill9MidTransaction(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the server several times")
	}
	dir := t.TempDir()
	p := start(t, nil, "--data-dir", dir)
	t0 := time.Now()
	if status, err := postTransaction(p.base, transactionBundle(t, "whole")); err != nil || status != http.StatusOK {
		t.Fatalf("transaction without a kill: %d %v", status, err)
	}
	took := time.Since(t0)
	if n := observationsOf(t, p.base, "whole"); n != killTransactionSize {
		t.Fatalf("%d Observations after a committed transaction, want %d", n, killTransactionSize)
	}
	outcomes := map[string]int{}
	for round, frac := range []float64{0.1, 0.4, 0.7, 0.9, 1.0, 1.2} {
		subject := fmt.Sprintf("round-%d", round)
		body := transactionBundle(t, subject)
		answered := make(chan int, 1)
		go func() {
			status, _ := postTransaction(p.base, body)
			answered <- status
		}()
		time.Sleep(time.Duration(frac * float64(took)))
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.wait(t)
		status := <-answered
		p = start(t, nil, "--data-dir", dir)
		n := observationsOf(t, p.base, subject)
		switch {
		case n == killTransactionSize:
			outcomes["all"]++
		case n == 0 && status != http.StatusOK:
			outcomes["none"]++
		case n == 0:
			t.Errorf("round %d: the transaction was answered 200 but none of it is there after the kill", round)
		default:
			t.Errorf("round %d (kill after %.0f%% of %v): %d of %d Observations after restart: a partial transaction", round, frac*100, took, n, killTransactionSize)
		}
		t.Logf("round %d: killed after %.0f%% of %v; answered %d; %d Observations after restart", round, frac*100, took.Round(time.Millisecond), status, n)
	}
	if n := observationsOf(t, p.base, "whole"); n != killTransactionSize {
		t.Errorf("the first transaction has %d Observations after the kills", n)
	}
	t.Logf("outcomes: %v", outcomes)
}
