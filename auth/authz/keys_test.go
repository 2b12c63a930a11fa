package authz_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/medbridge/medbridge/auth/authz/authztest"
)

func (e *env) jwks() jose.JSONWebKeySet {
	e.T.Helper()
	_, body := e.Get(e.Issuer + "/jwks")
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(body), &set); err != nil {
		e.T.Fatal(err)
	}
	return set
}

func kid(t *testing.T, token string) string {
	t.Helper()
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Header.KeyID
}

// Rotation adds a current key and keeps the old one published while its
// tokens may be valid; another server process on the same store (or the
// same after a restart) verifies both.
func TestKeyRotation(t *testing.T) {
	e := newEnv(t)
	before, _ := e.offlineTokens("patient/Observation.rs")
	newKid, err := e.srv.RotateKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	set := e.jwks()
	if len(set.Keys) != 2 || set.Keys[0].KeyID != newKid || set.Keys[1].KeyID != kid(t, before.AccessToken) {
		t.Fatalf("JWKS after rotation: %v", set.Keys)
	}
	if _, err := e.srv.Verifier().Verify(t.Context(), before.AccessToken); err != nil {
		t.Errorf("token of the old key: %v", err)
	}
	restarted := e.newServer()
	if _, err := restarted.Verifier().Verify(t.Context(), before.AccessToken); err != nil {
		t.Errorf("token of the old key after a restart: %v", err)
	}
	app := e.publicApp()
	l := e.NewLaunch(app, "patient/*.rs")
	ann := authztest.User{Name: "ann", Password: "ann-password"} // offlineTokens's
	after := e.Exchange(l, e.Code(l, ann, "", "patient/*.rs")).MustOK(t)
	if kid(t, after.AccessToken) != newKid {
		t.Error("new tokens are not signed with the new key")
	}
	if _, err := restarted.Verifier().Verify(t.Context(), after.AccessToken); err != nil {
		t.Errorf("new token on another process: %v", err)
	}
	// The old key leaves the JWKS once its tokens have expired.
	e.advance(2 * time.Hour)
	if set := e.jwks(); len(set.Keys) != 1 || set.Keys[0].KeyID != newKid {
		t.Errorf("JWKS two hours later: %v", set.Keys)
	}
}

// Every step of a launch may land on a different server process sharing
// the store.
func TestLaunchAcrossServers(t *testing.T) {
	e := newEnv(t)
	ann := e.addUser("ann", "Patient/pat7")
	app := e.publicApp()
	l := e.NewLaunch(app, "launch/patient patient/*.rs offline_access")
	code := e.Code(l, ann, "", "launch/patient", "patient/*.rs", "offline_access")

	other := e.newServer()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {app.RedirectURI}, "client_id": {app.ClientID}, "code_verifier": {l.Verifier}}
	req := httptest.NewRequest(http.MethodPost, e.Issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	other.Handler().ServeHTTP(rec, req)
	var tr *authztest.Token
	if err := json.Unmarshal(rec.Body.Bytes(), &tr); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("exchange on another server: %d %s", rec.Code, rec.Body)
	}
	if _, err := e.srv.Verifier().Verify(t.Context(), tr.AccessToken); err != nil {
		t.Fatal(err)
	}
	e.Refresh(tr.RefreshToken, "").MustOK(t)
}

// Access tokens expire after Config.AccessTokenTTL.
func TestAccessTokenExpires(t *testing.T) {
	e := newEnv(t)
	tr, _ := e.offlineTokens("patient/Observation.rs")
	e.advance(5*time.Minute + time.Second)
	if _, err := e.srv.Verifier().Verify(t.Context(), tr.AccessToken); err == nil {
		t.Error("an expired token verifies")
	}
}

// The id_token is not an access token.
func TestIDTokenIsNotAnAccessToken(t *testing.T) {
	e := newEnv(t)
	tr, _ := e.offlineTokens("patient/Observation.rs", "openid", "fhirUser")
	if tr.IDToken == "" {
		t.Fatal("no id_token")
	}
	if _, err := e.srv.Verifier().Verify(t.Context(), tr.IDToken); err == nil {
		t.Error("the id_token verifies as an access token")
	}
}

// A token signed by a key this server never had is refused.
func TestTokenOfAnotherServer(t *testing.T) {
	a, b := newEnv(t), newEnv(t)
	tr, _ := b.offlineTokens("patient/Observation.rs")
	if _, err := a.srv.Verifier().Verify(t.Context(), tr.AccessToken); err == nil {
		t.Error("a foreign token verifies")
	}
}
