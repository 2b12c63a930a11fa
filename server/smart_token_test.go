package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/medbridge/medbridge/auth/authz"
	"github.com/medbridge/medbridge/auth/authz/authztest"
	"github.com/medbridge/medbridge/server/servertest"
)

// Requests without a valid access token are 401 with a Bearer challenge.

func TestSMARTNoToken(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil)
	denied(t, s.as(t, "", http.MethodGet, "/fhir/Observation", ""), http.StatusUnauthorized)
}

func TestSMARTNoTokenForIngest(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil, servertest.WithIngest(t, ""))
	res := s.Do(t, http.MethodPost, "/ingest/omh", omhHeartRate("patient-1", 1, 60), "Content-Type", "application/json")
	denied(t, res, http.StatusUnauthorized)
}

func TestSMARTBasicAuthorization(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil)
	denied(t, s.as(t, "Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ=", http.MethodGet, "/fhir/Observation", ""), http.StatusUnauthorized)
}

func TestSMARTEmptyBearer(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil)
	denied(t, s.as(t, "Bearer ", http.MethodGet, "/fhir/Observation", ""), http.StatusUnauthorized)
}

func TestSMARTMalformedToken(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil)
	denied(t, s.as(t, "Bearer not.a.jwt", http.MethodGet, "/fhir/Observation", ""), http.StatusUnauthorized)
}

// The id_token names the user but grants nothing.
func TestSMARTIDTokenAsAccessToken(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil)
	tok := s.agent.StandaloneLaunch(s.app, s.alice, "", "launch/patient", "patient/*.rs", "openid", "fhirUser")
	denied(t, s.as(t, "Bearer "+tok.IDToken, http.MethodGet, "/fhir/Observation", ""), http.StatusUnauthorized)
}

func TestSMARTExpiredToken(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil)
	auth := s.patientToken(t, "patient/*.rs")
	s.smart.Advance(5*time.Minute + time.Second)
	denied(t, s.as(t, auth, http.MethodGet, "/fhir/Observation/a-vital", ""), http.StatusUnauthorized)
}

// A token of the same issuer and keys for another FHIR server (a second
// authorization server on the same store with another FHIR base) is
// refused for its audience alone.
func TestSMARTTokenForAnotherAudience(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil)
	other, err := authz.New(context.Background(), authz.Config{Issuer: s.smart.Issuer(), FHIRBase: "http://other.example/fhir", Store: s.Store})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(other.Handler())
	t.Cleanup(ts.Close)
	agent := authztest.New(t, ts.URL+"/auth", "http://other.example/fhir")
	assertion := s.key.Assertion(t, s.backend, s.smart.Issuer()+"/token", time.Now().Add(time.Minute), "")
	tok := agent.AssertionToken(assertion, "system/*.rs").MustOK(t)
	if _, err := other.Verifier().Verify(context.Background(), tok.AccessToken); err != nil {
		t.Fatalf("the token is not valid where it was meant for: %v", err)
	}
	denied(t, s.as(t, tok.Bearer(), http.MethodGet, "/fhir/Observation", ""), http.StatusUnauthorized)
}

// A token of another medbridge (other issuer, other keys).
func TestSMARTTokenOfAnotherServer(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil)
	foreign := startSMART(t, servertest.SQLite, nil)
	denied(t, s.as(t, foreign.backendToken(t, "system/*.rs"), http.MethodGet, "/fhir/Observation", ""), http.StatusUnauthorized)
}

func TestSMARTRevokedToken(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil)
	tok := s.agent.StandaloneLaunch(s.app, s.alice, "", "launch/patient", "patient/*.rs")
	if res := s.as(t, tok.Bearer(), http.MethodGet, "/fhir/Observation/a-vital", ""); res.Status != http.StatusOK {
		t.Fatalf("before revocation: %d %s", res.Status, res.Body)
	}
	s.agent.Revoke(s.app.ClientID, tok.AccessToken)
	denied(t, s.as(t, tok.Bearer(), http.MethodGet, "/fhir/Observation/a-vital", ""), http.StatusUnauthorized)
}

// A refreshed, narrowed token has the narrower scope on the FHIR side.
func TestSMARTRefreshNarrowed(t *testing.T) {
	s := startSMART(t, servertest.SQLite, nil)
	tok := s.agent.StandaloneLaunch(s.app, s.alice, "", "launch/patient", "patient/Observation.rs", "patient/Patient.rs", "offline_access")
	narrow := s.agent.Refresh(tok.RefreshToken, "patient/Observation.rs").MustOK(t)
	if res := s.as(t, narrow.Bearer(), http.MethodGet, "/fhir/Observation/a-vital", ""); res.Status != http.StatusOK {
		t.Fatalf("Observation with the narrowed token: %d %s", res.Status, res.Body)
	}
	denied(t, s.as(t, narrow.Bearer(), http.MethodGet, "/fhir/Patient/pa", ""), http.StatusForbidden)
}
