package server_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/medbridge/medbridge/server/servertest"
)

// Patient A's token never reaches patient B's data, whatever the way in.

// bsData are B's resources.
var bsData = []string{"Patient/pb", "Observation/b-vital", "Observation/b-lab"}

// patientA starts the server and returns A's patient/*.cruds token.
func patientA(t *testing.T, extra ...string) (*smartServer, string) {
	t.Helper()
	s := startSMART(t, servertest.SQLite, extra)
	return s, s.patientToken(t, "patient/*.cruds")
}

func TestSMARTPatientReadOtherObservation(t *testing.T) {
	s, auth := patientA(t)
	denied(t, s.as(t, auth, http.MethodGet, "/fhir/Observation/b-vital", ""), http.StatusForbidden)
}

func TestSMARTPatientReadOtherPatient(t *testing.T) {
	s, auth := patientA(t)
	denied(t, s.as(t, auth, http.MethodGet, "/fhir/Patient/pb", ""), http.StatusForbidden)
}

func TestSMARTPatientVReadOther(t *testing.T) {
	s, auth := patientA(t)
	denied(t, s.as(t, auth, http.MethodGet, "/fhir/Observation/b-vital/_history/1", ""), http.StatusForbidden)
}

func TestSMARTPatientSearchOther(t *testing.T) {
	s, auth := patientA(t)
	for _, q := range []string{"/fhir/Observation", "/fhir/Observation?subject=Patient/pb", "/fhir/Observation?patient=pb",
		"/fhir/Observation?_id=b-vital,b-lab", "/fhir/Patient", "/fhir/Patient?_id=pb"} {
		s.hidden(t, auth, q, bsData...)
	}
}

func TestSMARTPatientPostSearchOther(t *testing.T) {
	s, auth := patientA(t)
	res := s.Do(t, http.MethodPost, "/fhir/Observation/_search", []byte(url.Values{"subject": {"Patient/pb"}}.Encode()),
		"Authorization", auth, "Content-Type", "application/x-www-form-urlencoded")
	without(t, "POST _search", decodeSearchset(t, "POST _search", res).refs("match"), bsData...)
}

// An Observation in A's compartment (A is its performer) whose subject is
// B: the search may show it, but its _include must not bring Patient B.
func TestSMARTPatientIncludeOther(t *testing.T) {
	shared := observation("shared", "pb", "vital-signs", "8867-4", 80, `,"performer":[{"reference":"Patient/pa"}]`)
	s, auth := patientA(t, shared)
	q := "/fhir/Observation?_include=Observation:subject"
	if got := s.refs(t, auth, q); !sameSet(got, []string{"Observation/a-vital", "Observation/a-lab", "Observation/shared", "Patient/pa"}) {
		t.Errorf("got %v", got)
	}
	s.hidden(t, auth, q, bsData...)
}

// B's Observation about A (focus, not a compartment link) must not come
// with A's Patient through _revinclude.
func TestSMARTPatientRevincludeOther(t *testing.T) {
	focus := observation("b-about-a", "pb", "vital-signs", "8867-4", 80, `,"focus":[{"reference":"Patient/pa"}]`)
	s, auth := patientA(t, focus)
	q := "/fhir/Patient?_id=pa&_revinclude=Observation:focus&_revinclude=Observation:subject"
	if got := s.refs(t, auth, q); len(got) != 3 {
		t.Errorf("got %v, want A and A's two Observations", got)
	}
	s.hidden(t, auth, q, "Observation/b-about-a")
}

// _has finds Patients by B's Observations: B never matches.
func TestSMARTPatientHasOther(t *testing.T) {
	s, auth := patientA(t)
	s.hidden(t, auth, "/fhir/Patient?_has:Observation:subject:_id=b-vital", bsData...)
}

func TestSMARTPatientChainOther(t *testing.T) {
	s, auth := patientA(t)
	for _, q := range []string{"/fhir/Observation?subject.name=Beta", "/fhir/Observation?subject:Patient.family=Beta&_include=Observation:subject"} {
		s.hidden(t, auth, q, bsData...)
	}
}

// B's compartment is searched inside A's: nothing.
func TestSMARTPatientCompartmentURLOther(t *testing.T) {
	s, auth := patientA(t)
	s.hidden(t, auth, "/fhir/Patient/pb/Observation", bsData...)
}

func TestSMARTPatientInstanceHistoryOther(t *testing.T) {
	s, auth := patientA(t)
	denied(t, s.as(t, auth, http.MethodGet, "/fhir/Observation/b-vital/_history", ""), http.StatusForbidden)
}

// A type's history cannot be confined to a patient: refused.
func TestSMARTPatientTypeHistory(t *testing.T) {
	s, auth := patientA(t)
	denied(t, s.as(t, auth, http.MethodGet, "/fhir/Observation/_history", ""), http.StatusForbidden)
}

func TestSMARTPatientSystemHistory(t *testing.T) {
	s, auth := patientA(t)
	denied(t, s.as(t, auth, http.MethodGet, "/fhir/_history", ""), http.StatusForbidden)
}

func TestSMARTPatientSystemSearchWithoutType(t *testing.T) {
	s, auth := patientA(t)
	denied(t, s.as(t, auth, http.MethodGet, "/fhir?_id=b-vital", ""), http.StatusForbidden)
}

func TestSMARTPatientSystemSearchOfTwoTypes(t *testing.T) {
	s, auth := patientA(t)
	denied(t, s.as(t, auth, http.MethodGet, "/fhir?_type=Patient,Observation", ""), http.StatusForbidden)
}

// A system search of one type is confined like a type search.
func TestSMARTPatientSystemSearchOfOneType(t *testing.T) {
	s, auth := patientA(t)
	s.hidden(t, auth, "/fhir?_type=Observation&subject=Patient/pb", bsData...)
}

func TestSMARTPatientLastnOther(t *testing.T) {
	s, auth := patientA(t)
	for _, q := range []string{"/fhir/Observation/$lastn?patient=pb", "/fhir/Observation/$lastn?subject=Patient/pb&_include=Observation:subject"} {
		s.hidden(t, auth, q, bsData...)
	}
}

func TestSMARTPatientStatsOther(t *testing.T) {
	s, auth := patientA(t)
	res := s.as(t, auth, http.MethodGet, "/fhir/Observation/$stats?subject=Patient/pb&code=8867-4&statistic=count,maximum", "")
	if res.Status != http.StatusOK {
		t.Fatalf("$stats: %d %s", res.Status, res.Body)
	}
	if params := res.JSON(t)["parameter"]; params != nil {
		t.Errorf("statistics of B's Observations: %s", res.Body)
	}
}
