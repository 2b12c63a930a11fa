package server_test

import (
	"net/http"
	"testing"

	"github.com/medbridge/medbridge/server/servertest"
)

// Writes stay inside the patient's compartment, scopes allow only their
// interactions, v2 scope queries confine like the compartment does, and
// device ingest needs its own system scopes.

func TestSMARTPatientCreateForOther(t *testing.T) {
	s, auth := patientA(t)
	denied(t, s.as(t, auth, http.MethodPost, "/fhir/Observation", observation("", "pb", "vital-signs", "8867-4", 60)), http.StatusForbidden)
}

// The new content would be A's, but the stored Observation is B's.
func TestSMARTPatientUpdateOtherToSelf(t *testing.T) {
	s, auth := patientA(t)
	denied(t, s.as(t, auth, http.MethodPut, "/fhir/Observation/b-vital", observation("b-vital", "pa", "vital-signs", "8867-4", 60)), http.StatusForbidden)
	if res := s.as(t, s.admin, http.MethodGet, "/fhir/Observation/b-vital", ""); res.Status != http.StatusOK || res.JSON(t)["subject"].(map[string]any)["reference"] != "Patient/pb" {
		t.Errorf("B's Observation after the refused update: %d %s", res.Status, res.Body)
	}
}

func TestSMARTPatientUpdateOwnToOther(t *testing.T) {
	s, auth := patientA(t)
	denied(t, s.as(t, auth, http.MethodPut, "/fhir/Observation/a-vital", observation("a-vital", "pb", "vital-signs", "8867-4", 60)), http.StatusForbidden)
}

// An update that would create B's resource under a new id.
func TestSMARTPatientUpdateCreateForOther(t *testing.T) {
	s, auth := patientA(t)
	denied(t, s.as(t, auth, http.MethodPut, "/fhir/Observation/new-b", observation("new-b", "pb", "vital-signs", "8867-4", 60)), http.StatusForbidden)
}

func TestSMARTPatientDeleteOther(t *testing.T) {
	s, auth := patientA(t)
	denied(t, s.as(t, auth, http.MethodDelete, "/fhir/Observation/b-vital", ""), http.StatusForbidden)
	if res := s.as(t, s.admin, http.MethodGet, "/fhir/Observation/b-vital", ""); res.Status != http.StatusOK {
		t.Errorf("B's Observation after the refused delete: %d", res.Status)
	}
}

// v1 read is rs: creating even A's own Observation is refused.
func TestSMARTReadOnlyScopeCreate(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil)
	auth := s.patientToken(t, "patient/Observation.read")
	denied(t, s.as(t, auth, http.MethodPost, "/fhir/Observation", observation("", "pa", "vital-signs", "8867-4", 60)), http.StatusForbidden)
}

func TestSMARTReadOnlyScopeDelete(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil)
	auth := s.patientToken(t, "patient/Observation.rs")
	denied(t, s.as(t, auth, http.MethodDelete, "/fhir/Observation/a-vital", ""), http.StatusForbidden)
}

// A scope for Observation does not reach another type, even A's own.
func TestSMARTScopeOfAnotherType(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil)
	auth := s.patientToken(t, "patient/Observation.rs")
	denied(t, s.as(t, auth, http.MethodGet, "/fhir/Patient/pa", ""), http.StatusForbidden)
}

// vitalSigns is a v2 scope confined to vital-signs Observations.
const vitalSigns = "patient/Observation.crs?category=" + categorySystem + "|vital-signs"

func TestSMARTQueryScopeReadOutside(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil)
	auth := s.patientToken(t, vitalSigns)
	denied(t, s.as(t, auth, http.MethodGet, "/fhir/Observation/a-lab", ""), http.StatusForbidden)
}

func TestSMARTQueryScopeSearch(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil)
	auth := s.patientToken(t, vitalSigns)
	if got := s.refs(t, auth, "/fhir/Observation"); !sameSet(got, []string{"Observation/a-vital"}) {
		t.Errorf("search: %v, want A's vital signs only", got)
	}
}

func TestSMARTQueryScopeCategorySearch(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil)
	auth := s.patientToken(t, vitalSigns)
	s.hidden(t, auth, "/fhir/Observation?category=laboratory", "Observation/a-lab")
}

func TestSMARTQueryScopeLastn(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil)
	auth := s.patientToken(t, vitalSigns)
	s.hidden(t, auth, "/fhir/Observation/$lastn?patient=pa", "Observation/a-lab")
}

func TestSMARTQueryScopeCreateOutside(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil)
	auth := s.patientToken(t, vitalSigns)
	denied(t, s.as(t, auth, http.MethodPost, "/fhir/Observation", observation("", "pa", "laboratory", "2345-7", 6)), http.StatusForbidden)
}

// ingest posts one Open mHealth heart rate with auth.
func (s *smartServer) ingest(t *testing.T, auth string) *servertest.Response {
	t.Helper()
	return s.Do(t, http.MethodPost, "/ingest/omh", omhHeartRate("patient-1", 1, 60), "Content-Type", "application/json", "Authorization", auth)
}

func TestSMARTIngestWithPatientToken(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil, servertest.WithIngest(t, ""))
	denied(t, s.ingest(t, s.patientToken(t, "patient/*.cruds")), http.StatusForbidden)
}

func TestSMARTIngestWithoutDeviceScope(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil, servertest.WithIngest(t, ""))
	denied(t, s.ingest(t, s.backendToken(t, "system/Observation.c")), http.StatusForbidden)
}

func TestSMARTIngestWithSystemScopes(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil, servertest.WithIngest(t, ""))
	if res := s.ingest(t, s.backendToken(t, "system/Observation.c system/Device.cu")); res.Status != http.StatusOK {
		t.Fatalf("ingest: %d %s", res.Status, res.Body)
	}
}
