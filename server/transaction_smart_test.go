package server_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// Patient A's token: each entry of a transaction is decided as the
// interaction it holds and confined to A; one entry reaching B refuses
// the whole transaction with 403 and writes nothing.
func TestTransactionSMARTPatient(t *testing.T) {
	s, auth := patientA(t)
	mine := txPost("", "Observation", observation("", "pa", "vital-signs", "8867-4", 72))
	// A search confined to A never finds B's resources: a conditional
	// reference to B matches nothing (404).
	cases := []struct {
		name   string
		bad    txEntry
		status int
	}{
		{"create for B", txPost("", "Observation", observation("", "pb", "vital-signs", "8867-4", 73)), http.StatusForbidden},
		{"update of B's", txPut("Observation/b-vital", observation("b-vital", "pa", "vital-signs", "8867-4", 74)), http.StatusForbidden},
		{"delete of B's", txDelete("Observation/b-lab"), http.StatusForbidden},
		{"create of another Patient", txPost("", "Patient", `{"resourceType":"Patient"}`), http.StatusForbidden},
		{"conditional reference to B", txPost("", "Observation", observation("", "pa", "vital-signs", "8867-4", 75, `,"focus":[{"reference":"Patient?_id=pb"}]`)), http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := s.refs(t, s.admin, "/fhir/Observation")
			body, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": []txEntry{mine, tc.bad}})
			if res := s.as(t, auth, http.MethodPost, "/fhir", string(body)); res.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", res.Status, tc.status, res.Body)
			}
			if after := s.refs(t, s.admin, "/fhir/Observation"); !sameSet(after, before) {
				t.Errorf("Observations %v before, %v after", before, after)
			}
		})
	}
	// A conditional delete confined to A does not see B's Observation.
	body, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": []txEntry{txDelete("Observation?_id=b-lab")}})
	if res := s.as(t, auth, http.MethodPost, "/fhir", string(body)); res.Status != http.StatusOK {
		t.Errorf("conditional delete: %d %s", res.Status, res.Body)
	}
	if res := s.as(t, s.admin, http.MethodGet, "/fhir/Observation/b-lab", ""); res.Status != http.StatusOK {
		t.Errorf("B's Observation after A's conditional delete: %d", res.Status)
	}
	body, _ = json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": []txEntry{mine, txGet("Observation/a-vital")}})
	if res := s.as(t, auth, http.MethodPost, "/fhir", string(body)); res.Status != http.StatusOK {
		t.Errorf("A's own transaction: %d %s", res.Status, res.Body)
	}
	if res := s.as(t, "", http.MethodPost, "/fhir", string(body)); res.Status != http.StatusUnauthorized {
		t.Errorf("without a token: %d", res.Status)
	}
}

// A read-only token's batch: its reads succeed, its writes are refused
// entry by entry.
func TestBatchSMARTReadOnly(t *testing.T) {
	s, _ := patientA(t)
	auth := s.patientToken(t, "patient/*.rs")
	body, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "batch", "entry": []txEntry{
		txPost("", "Observation", observation("", "pa", "vital-signs", "8867-4", 72)),
		txGet("Observation/a-vital"),
		txGet("Observation/b-vital"),
	}})
	res := s.as(t, auth, http.MethodPost, "/fhir", string(body))
	var out txResult
	if err := json.Unmarshal(res.Body, &out); err != nil || res.Status != http.StatusOK {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	if got := out.statuses(); got[0] != "403 Forbidden" || got[1] != "200 OK" || got[2] != "403 Forbidden" {
		t.Errorf("statuses %v", got)
	}
}
