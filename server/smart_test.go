package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/medbridge/medbridge/auth/authz"
	"github.com/medbridge/medbridge/auth/authz/authztest"
	"github.com/medbridge/medbridge/server/servertest"
)

// The SMART tests run medbridge as `serve --auth smart` does, get tokens
// over HTTP from its authorization server, and check what each token
// reaches through the FHIR API. Patients A (pa) and B (pb) each have a
// vital-signs and a laboratory Observation.

// smartServer is a medbridge that requires tokens, with its users, an
// app and a backend client registered.
type smartServer struct {
	*servertest.Server
	smart   servertest.SMART
	agent   *authztest.Agent
	app     authztest.App
	alice   authztest.User // Patient/pa
	drwho   authztest.User // Practitioner/p1
	key     *authztest.Key
	backend string // the backend client's id
	admin   string // Authorization of a system/*.cruds backend token, for fixtures
}

const categorySystem = "http://terminology.hl7.org/CodeSystem/observation-category"

// smartFixtures are A's and B's data.
var smartFixtures = []string{
	`{"resourceType":"Patient","id":"pa","name":[{"family":"Alpha","given":["Ann"]}]}`,
	`{"resourceType":"Patient","id":"pb","name":[{"family":"Beta","given":["Bob"]}]}`,
	observation("a-vital", "pa", "vital-signs", "8867-4", 70),
	observation("a-lab", "pa", "laboratory", "2345-7", 5.5),
	observation("b-vital", "pb", "vital-signs", "8867-4", 90),
	observation("b-lab", "pb", "laboratory", "2345-7", 7.5),
}

// observation is an Observation of patient with one category and LOINC
// code, on 2026-01-01; without an id for a create.
func observation(id, patient, category, code string, value float64, extra ...string) string {
	if id != "" {
		id = fmt.Sprintf(`"id":%q,`, id)
	}
	return fmt.Sprintf(`{"resourceType":"Observation",%s"status":"final",
		"category":[{"coding":[{"system":%q,"code":%q}]}],
		"code":{"coding":[{"system":"http://loinc.org","code":%q}]},
		"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2026-01-01T10:00:00Z",
		"valueQuantity":{"value":%v,"unit":"1","system":"http://unitsofmeasure.org","code":"1"}%s}`,
		id, categorySystem, category, code, patient, value, strings.Join(extra, ""))
}

// startSMART starts a server that requires tokens on b, with the
// fixtures and extra resources stored.
func startSMART(t *testing.T, b servertest.Backend, extra []string, opts ...servertest.Option) *smartServer {
	t.Helper()
	s := &smartServer{}
	s.Server = servertest.StartBackend(t, b, append(opts, servertest.WithSMART(t, &s.smart))...)
	s.agent = s.smart.Agent(t)
	s.app = authztest.AddPublicApp(t, s.smart.Admin)
	s.alice = authztest.AddUser(t, s.smart.Admin, "alice", "Patient/pa")
	s.drwho = authztest.AddUser(t, s.smart.Admin, "drwho", "Practitioner/p1")
	s.key = authztest.NewECKey(t, "backend-1")
	s.backend = authztest.AddBackend(t, s.smart.Admin, s.key)
	s.admin = s.backendToken(t, "system/*.cruds")
	for _, r := range append(slices.Clone(smartFixtures), extra...) {
		var head struct{ ResourceType, ID string }
		if err := json.Unmarshal([]byte(r), &head); err != nil {
			t.Fatalf("fixture %s: %v", r, err)
		}
		if res := s.as(t, s.admin, http.MethodPut, "/fhir/"+head.ResourceType+"/"+head.ID, r); res.Status != http.StatusCreated {
			t.Fatalf("PUT %s/%s: %d %s", head.ResourceType, head.ID, res.Status, res.Body)
		}
	}
	return s
}

// patientToken is the Authorization of alice's standalone launch (patient
// A) with launch/patient and scopes.
func (s *smartServer) patientToken(t *testing.T, scopes ...string) string {
	t.Helper()
	tok := s.agent.StandaloneLaunch(s.app, s.alice, "", append([]string{"launch/patient"}, scopes...)...)
	if tok.Patient != "pa" {
		t.Fatalf("launch patient %q, want pa", tok.Patient)
	}
	return tok.Bearer()
}

// backendToken is the Authorization of a client_credentials token.
func (s *smartServer) backendToken(t *testing.T, scope string) string {
	t.Helper()
	return s.agent.Backend(s.key, s.backend, scope).MustOK(t).Bearer()
}

// as sends a request with the Authorization header auth ("" for none).
func (s *smartServer) as(t *testing.T, auth, method, path, body string) *servertest.Response {
	t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	return s.Do(t, method, path, b, "Authorization", auth)
}

// refs runs a search with auth and returns "Type/id" of every entry.
func (s *smartServer) refs(t *testing.T, auth, path string) []string {
	t.Helper()
	set := search(t, s.Server, path, "Authorization", auth)
	return slices.Concat(set.refs("match"), set.refs("include"), set.refs("outcome"))
}

// denied checks a refusal: the status and an OperationOutcome, and for
// 401 the Bearer challenge.
func denied(t *testing.T, res *servertest.Response, status int) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
	if rt := res.JSON(t)["resourceType"]; rt != "OperationOutcome" {
		t.Errorf("body is a %v, want an OperationOutcome", rt)
	}
	if status == http.StatusUnauthorized && !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer ") {
		t.Errorf("WWW-Authenticate = %q", res.Header.Get("WWW-Authenticate"))
	}
}

// hidden checks that a search shows none of refs to auth, though it
// shows some to a clinician's user/*.rs token: the query would leak them.
func (s *smartServer) hidden(t *testing.T, auth, path string, refs ...string) {
	t.Helper()
	clinician := s.agent.StandaloneLaunch(s.app, s.drwho, "", "user/*.rs").Bearer()
	if got := s.refs(t, clinician, path); !slices.ContainsFunc(refs, func(r string) bool { return slices.Contains(got, r) }) {
		t.Fatalf("%s shows none of %v even to a clinician (%v): the check proves nothing", path, refs, got)
	}
	without(t, path, s.refs(t, auth, path), refs...)
}

// without fails the test if got holds any of the refs.
func without(t *testing.T, what string, got []string, refs ...string) {
	t.Helper()
	for _, r := range refs {
		if slices.Contains(got, r) {
			t.Errorf("%s: %s leaked in %v", what, r, got)
		}
	}
}

// Patient A's launch sees all of A's data: search, read, the _include of
// A's Patient, $lastn; and writes A's own Observation.
func TestSMARTPatientSeesOwnData(t *testing.T) {
	servertest.EachBackend(t, func(t *testing.T, b servertest.Backend) {
		s := startSMART(t, b, nil)
		auth := s.patientToken(t, "patient/*.cruds")
		if got := s.refs(t, auth, "/fhir/Observation"); !sameSet(got, []string{"Observation/a-vital", "Observation/a-lab"}) {
			t.Errorf("search: %v", got)
		}
		if res := s.as(t, auth, http.MethodGet, "/fhir/Observation/a-lab", ""); res.Status != http.StatusOK {
			t.Errorf("read: %d %s", res.Status, res.Body)
		}
		if got := s.refs(t, auth, "/fhir/Observation?code=8867-4&_include=Observation:subject"); !sameSet(got, []string{"Observation/a-vital", "Patient/pa"}) {
			t.Errorf("_include: %v", got)
		}
		if got := s.refs(t, auth, "/fhir/Observation/$lastn?patient=pa"); !sameSet(got, []string{"Observation/a-vital", "Observation/a-lab"}) {
			t.Errorf("$lastn: %v", got)
		}
		if res := s.as(t, auth, http.MethodPost, "/fhir/Observation", observation("", "pa", "vital-signs", "8867-4", 71)); res.Status != http.StatusCreated {
			t.Errorf("create: %d %s", res.Status, res.Body)
		}
	})
}

// A clinician's user/*.* (v1) token without a patient sees both patients.
func TestSMARTPractitionerSeesBothPatients(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil)
	auth := s.agent.StandaloneLaunch(s.app, s.drwho, "", "user/*.*", "openid", "fhirUser").Bearer()
	want := []string{"Observation/a-vital", "Observation/a-lab", "Observation/b-vital", "Observation/b-lab"}
	if got := s.refs(t, auth, "/fhir/Observation"); !sameSet(got, want) {
		t.Errorf("search: %v", got)
	}
	if got := s.refs(t, auth, "/fhir/Patient/pb/Observation"); !sameSet(got, want[2:]) {
		t.Errorf("B's compartment: %v", got)
	}
}

// An EHR launch in B's context gets B's data only.
func TestSMARTEHRLaunch(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil)
	ehrKey := authztest.NewECKey(t, "ehr-1")
	ehrID, _ := authztest.AddClient(t, s.smart.Admin, authz.ClientSpec{Name: "EHR", Type: authz.ClientBackend, JWKS: ehrKey.JWKS(t), EHRLaunch: true})
	ehr := s.agent.Backend(ehrKey, ehrID, "system/Patient.rs").MustOK(t)
	launch := s.agent.CreateLaunch(ehr.AccessToken, `{"patient":"Patient/pb","fhirUser":"Practitioner/p1"}`, http.StatusCreated)
	tok := s.agent.EHRLaunch(s.app, launch, s.drwho, "launch", "patient/Observation.rs")
	if got := s.refs(t, tok.Bearer(), "/fhir/Observation"); !sameSet(got, []string{"Observation/b-vital", "Observation/b-lab"}) {
		t.Errorf("search: %v", got)
	}
}

// A system/*.rs backend token searches everything and writes nothing.
func TestSMARTBackendSearchesEverything(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil)
	auth := s.backendToken(t, "system/*.rs")
	if got := s.refs(t, auth, "/fhir?_type=Patient,Observation"); len(got) != 6 {
		t.Errorf("system search: %v", got)
	}
}

func TestSMARTBackendReadOnlyCannotWrite(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil)
	auth := s.backendToken(t, "system/*.rs")
	denied(t, s.as(t, auth, http.MethodPost, "/fhir/Observation", observation("", "pa", "vital-signs", "8867-4", 71)), http.StatusForbidden)
}

// Discovery and the CapabilityStatement need no token.
func TestSMARTDiscoveryIsPublic(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil)
	for _, path := range []string{"/fhir/metadata", "/fhir/.well-known/smart-configuration", "/auth/.well-known/openid-configuration"} {
		if res := s.as(t, "", http.MethodGet, path, ""); res.Status != http.StatusOK {
			t.Errorf("%s: %d", path, res.Status)
		}
	}
}
