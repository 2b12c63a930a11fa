package authz_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/medbridge/medbridge/auth/authz"
)

// offlineTokens runs a patient launch with offline_access.
func (e *env) offlineTokens(scopes ...string) (tokenResult, string) {
	e.t.Helper()
	e.addUser("ann", "Patient/pat7")
	clientID, redirectURI := e.publicApp()
	l := e.newLaunch(clientID, redirectURI, "launch/patient patient/Observation.rs patient/Condition.rs offline_access openid fhirUser")
	return e.exchange(l, e.code(l, "ann", "", scopes...)).mustOK(e.t), clientID
}

func refreshForm(token, scope string) url.Values {
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
	if scope != "" {
		f.Set("scope", scope)
	}
	return f
}

// A public client refreshes without client_id (as fhirclient does), may
// narrow the scope, gets a new refresh token each time, and cannot use
// an old one again.
func TestRefreshNarrowing(t *testing.T) {
	e := newEnv(t)
	first, _ := e.offlineTokens("launch/patient", "patient/Observation.rs", "patient/Condition.rs", "offline_access", "openid", "fhirUser")
	second := e.token(refreshForm(first.RefreshToken, "patient/Observation.rs offline_access openid")).mustOK(t)
	if second.Scope != "patient/Observation.rs offline_access openid" || second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
		t.Fatalf("scope %q refresh %q", second.Scope, second.RefreshToken)
	}
	if second.Patient != "pat7" || second.IDToken == "" || second.ExpiresIn != 300 {
		t.Errorf("patient %q id_token %v expires_in %v", second.Patient, second.IDToken != "", second.ExpiresIn)
	}
	c, err := e.srv.Verifier().Verify(t.Context(), second.AccessToken)
	if err != nil || c.Scope != "patient/Observation.rs offline_access openid" {
		t.Fatalf("claims %+v, %v", c, err)
	}
	e.token(refreshForm(first.RefreshToken, "")).mustFail(t, http.StatusBadRequest, "invalid_grant")
	// Narrowing is per request: the grant's full scope can be asked again.
	third := e.token(refreshForm(second.RefreshToken, "")).mustOK(t)
	if third.Scope != first.Scope {
		t.Errorf("scope %q, want %q", third.Scope, first.Scope)
	}
}

func TestRefreshWiderScope(t *testing.T) {
	e := newEnv(t)
	first, _ := e.offlineTokens("patient/Observation.rs", "offline_access")
	e.token(refreshForm(first.RefreshToken, "patient/Observation.rs patient/Condition.rs offline_access")).
		mustFail(t, http.StatusBadRequest, "invalid_scope")
}

// Without offline_access or online_access there is no refresh token.
func TestNoRefreshWithoutAccessScope(t *testing.T) {
	e := newEnv(t)
	first, _ := e.offlineTokens("patient/Observation.rs")
	if first.RefreshToken != "" {
		t.Fatal("refresh token without offline_access")
	}
}

// A refresh token is bound to its client.
func TestRefreshByAnotherClient(t *testing.T) {
	e := newEnv(t)
	first, _ := e.offlineTokens("patient/Observation.rs", "offline_access")
	other, _ := e.addClient(authz.ClientSpec{Type: authz.ClientPublic, RedirectURIs: []string{"http://127.0.0.1:9/x"}})
	f := refreshForm(first.RefreshToken, "")
	f.Set("client_id", other)
	e.token(f).mustFail(t, http.StatusBadRequest, "invalid_grant")
}

// revoke posts to the revocation endpoint as a public client.
func (e *env) revoke(clientID, token string) {
	e.t.Helper()
	resp, body := e.postForm(e.issuer+"/revoke", url.Values{"token": {token}, "client_id": {clientID}})
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
}

// introspect asks as a confidential resource server.
func (e *env) introspect(token string) map[string]any {
	e.t.Helper()
	id, secret := e.addClient(authz.ClientSpec{Type: authz.ClientConfidential, RedirectURIs: []string{"https://rs.example/cb"}})
	resp, body := e.postForm(e.issuer+"/introspect", url.Values{"token": {token}}, basicAuth(id, secret))
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("introspect: %d %s", resp.StatusCode, body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		e.t.Fatal(err)
	}
	return m
}

// Revoking the access token revokes its grant: Verifier, introspection
// and the refresh token all refuse it afterwards.
func TestRevokedAccessToken(t *testing.T) {
	e := newEnv(t)
	tr, clientID := e.offlineTokens("launch/patient", "patient/Observation.rs", "offline_access")
	got := e.introspect(tr.AccessToken)
	if got["active"] != true || got["patient"] != "pat7" || got["client_id"] != clientID || got["scope"] != tr.Scope {
		t.Fatalf("introspection before revocation: %v", got)
	}
	e.revoke(clientID, tr.AccessToken)
	if _, err := e.srv.Verifier().Verify(t.Context(), tr.AccessToken); err == nil {
		t.Error("Verifier accepts a revoked token")
	}
	if got := e.introspect(tr.AccessToken); got["active"] != false || len(got) != 1 {
		t.Errorf("introspection after revocation: %v", got)
	}
	e.token(refreshForm(tr.RefreshToken, "")).mustFail(t, http.StatusBadRequest, "invalid_grant")
}

func TestRevokedRefreshToken(t *testing.T) {
	e := newEnv(t)
	tr, clientID := e.offlineTokens("patient/Observation.rs", "offline_access")
	if got := e.introspect(tr.RefreshToken); got["active"] != true || got["token_type"] != "refresh_token" {
		t.Fatalf("introspection of the refresh token: %v", got)
	}
	e.revoke(clientID, tr.RefreshToken)
	if got := e.introspect(tr.RefreshToken); got["active"] != false {
		t.Errorf("introspection after revocation: %v", got)
	}
	if _, err := e.srv.Verifier().Verify(t.Context(), tr.AccessToken); err == nil {
		t.Error("the grant's access token still verifies")
	}
}

// Another client's revocation request is ignored (and answered 200).
func TestRevokeByAnotherClient(t *testing.T) {
	e := newEnv(t)
	tr, _ := e.offlineTokens("patient/Observation.rs")
	other, _ := e.addClient(authz.ClientSpec{Type: authz.ClientPublic, RedirectURIs: []string{"http://127.0.0.1:9/x"}})
	e.revoke(other, tr.AccessToken)
	if _, err := e.srv.Verifier().Verify(t.Context(), tr.AccessToken); err != nil {
		t.Errorf("another client revoked the token: %v", err)
	}
}

// Introspection needs an authenticated confidential or backend client.
func TestIntrospectionByPublicClient(t *testing.T) {
	e := newEnv(t)
	tr, clientID := e.offlineTokens("patient/Observation.rs")
	resp, body := e.postForm(e.issuer+"/introspect", url.Values{"token": {tr.AccessToken}, "client_id": {clientID}})
	if resp.StatusCode == http.StatusOK || !strings.Contains(body, "invalid_client") {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
}
