package authz_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/medbridge/medbridge/auth/authz"
	"github.com/medbridge/medbridge/auth/authz/authztest"
)

// offlineTokens runs a patient launch with offline_access.
func (e *env) offlineTokens(scopes ...string) (*authztest.Token, string) {
	e.T.Helper()
	ann := e.addUser("ann", "Patient/pat7")
	app := e.publicApp()
	l := e.NewLaunch(app, "launch/patient patient/Observation.rs patient/Condition.rs offline_access openid fhirUser")
	return e.Exchange(l, e.Code(l, ann, "", scopes...)).MustOK(e.T), app.ClientID
}

// A public client refreshes without client_id (as fhirclient does), may
// narrow the scope, gets a new refresh token each time, and cannot use
// an old one again.
func TestRefreshNarrowing(t *testing.T) {
	e := newEnv(t)
	first, _ := e.offlineTokens("launch/patient", "patient/Observation.rs", "patient/Condition.rs", "offline_access", "openid", "fhirUser")
	second := e.Refresh(first.RefreshToken, "patient/Observation.rs offline_access openid").MustOK(t)
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
	e.Refresh(first.RefreshToken, "").MustFail(t, http.StatusBadRequest, "invalid_grant")
	// Narrowing is per request: the grant's full scope can be asked again.
	third := e.Refresh(second.RefreshToken, "").MustOK(t)
	if third.Scope != first.Scope {
		t.Errorf("scope %q, want %q", third.Scope, first.Scope)
	}
}

func TestRefreshWiderScope(t *testing.T) {
	e := newEnv(t)
	first, _ := e.offlineTokens("patient/Observation.rs", "offline_access")
	e.Refresh(first.RefreshToken, "patient/Observation.rs patient/Condition.rs offline_access").
		MustFail(t, http.StatusBadRequest, "invalid_scope")
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
	f := authztest.RefreshForm(first.RefreshToken, "")
	f.Set("client_id", other)
	e.TokenRequest(f).MustFail(t, http.StatusBadRequest, "invalid_grant")
}

// introspect asks as a confidential resource server.
func (e *env) introspect(token string) map[string]any {
	e.T.Helper()
	id, secret := e.addClient(authz.ClientSpec{Type: authz.ClientConfidential, RedirectURIs: []string{"https://rs.example/cb"}})
	resp, body := e.PostForm(e.Issuer+"/introspect", url.Values{"token": {token}}, authztest.BasicAuth(id, secret))
	if resp.StatusCode != http.StatusOK {
		e.T.Fatalf("introspect: %d %s", resp.StatusCode, body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		e.T.Fatal(err)
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
	e.Revoke(clientID, tr.AccessToken)
	if _, err := e.srv.Verifier().Verify(t.Context(), tr.AccessToken); err == nil {
		t.Error("Verifier accepts a revoked token")
	}
	if got := e.introspect(tr.AccessToken); got["active"] != false || len(got) != 1 {
		t.Errorf("introspection after revocation: %v", got)
	}
	e.Refresh(tr.RefreshToken, "").MustFail(t, http.StatusBadRequest, "invalid_grant")
}

func TestRevokedRefreshToken(t *testing.T) {
	e := newEnv(t)
	tr, clientID := e.offlineTokens("patient/Observation.rs", "offline_access")
	if got := e.introspect(tr.RefreshToken); got["active"] != true || got["token_type"] != "refresh_token" {
		t.Fatalf("introspection of the refresh token: %v", got)
	}
	e.Revoke(clientID, tr.RefreshToken)
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
	e.Revoke(other, tr.AccessToken)
	if _, err := e.srv.Verifier().Verify(t.Context(), tr.AccessToken); err != nil {
		t.Errorf("another client revoked the token: %v", err)
	}
}

// Introspection needs an authenticated confidential or backend client.
func TestIntrospectionByPublicClient(t *testing.T) {
	e := newEnv(t)
	tr, clientID := e.offlineTokens("patient/Observation.rs")
	resp, body := e.PostForm(e.Issuer+"/introspect", url.Values{"token": {tr.AccessToken}, "client_id": {clientID}})
	if resp.StatusCode == http.StatusOK || !strings.Contains(body, "invalid_client") {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
}
