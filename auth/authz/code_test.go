package authz_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/medbridge/medbridge/auth/authz"
)

// appLaunch starts a launch of a new public app.
func (e *env) appLaunch() *launch {
	clientID, redirectURI := e.publicApp()
	return e.newLaunch(clientID, redirectURI, "launch/patient patient/*.rs")
}

// refused checks that an authorization request is sent back to the app
// with the error and the app's state.
func (e *env) refused(l *launch, code string) {
	e.t.Helper()
	back := e.authorize(l)
	if back.Host != "127.0.0.1:9" || back.Query().Get("error") != code || back.Query().Get("state") != l.state {
		e.t.Fatalf("redirect %s, want error %s with the state", back, code)
	}
}

func TestAuthorizeMissingPKCE(t *testing.T) {
	e := newEnv(t)
	l := e.appLaunch()
	l.params.Del("code_challenge")
	l.params.Del("code_challenge_method")
	e.refused(l, "invalid_request")
}

func TestAuthorizePlainPKCE(t *testing.T) {
	e := newEnv(t)
	l := e.appLaunch()
	l.params.Set("code_challenge", l.verifier)
	l.params.Set("code_challenge_method", "plain")
	e.refused(l, "invalid_request")
}

// A challenge without a method is plain by RFC 7636: refused too.
func TestAuthorizePKCEWithoutMethod(t *testing.T) {
	e := newEnv(t)
	l := e.appLaunch()
	l.params.Del("code_challenge_method")
	e.refused(l, "invalid_request")
}

func TestAuthorizeWrongAud(t *testing.T) {
	e := newEnv(t)
	l := e.appLaunch()
	l.params.Set("aud", e.ts.URL+"/other-fhir")
	e.refused(l, "invalid_request")
}

func TestAuthorizeMissingAud(t *testing.T) {
	e := newEnv(t)
	l := e.appLaunch()
	l.params.Del("aud")
	e.refused(l, "invalid_request")
}

// The documented normalisation: a trailing slash on aud is ignored.
func TestAuthorizeAudTrailingSlash(t *testing.T) {
	e := newEnv(t)
	l := e.appLaunch()
	l.params.Set("aud", e.fhirBase+"/")
	if back := e.authorize(l); !strings.HasSuffix(back.Path, "/auth/login") {
		t.Fatalf("redirect %s, want the login page", back)
	}
}

// An unregistered redirect_uri is never redirected to.
func TestAuthorizeRedirectURIMismatch(t *testing.T) {
	e := newEnv(t)
	l := e.appLaunch()
	l.params.Set("redirect_uri", "http://127.0.0.1:9/app/callback/evil")
	resp, _ := e.get(e.issuer + "/authorize?" + l.params.Encode())
	if resp.StatusCode == http.StatusFound {
		t.Fatalf("redirected to %s", resp.Header.Get("Location"))
	}
}

func TestTokenRedirectURIMismatch(t *testing.T) {
	e := newEnv(t)
	e.addUser("ann", "Patient/pat7")
	clientID, redirectURI := e.publicApp()
	l := e.newLaunch(clientID, redirectURI, "patient/*.rs")
	code := e.code(l, "ann", "", "patient/*.rs")
	l.redirectURI += "?x=1"
	e.exchange(l, code).mustFail(t, http.StatusBadRequest, "invalid_grant")
}

func TestAuthorizeUnknownClient(t *testing.T) {
	e := newEnv(t)
	l := e.newLaunch("no-such-client", "http://127.0.0.1:9/app/callback", "patient/*.rs")
	resp, _ := e.get(e.issuer + "/authorize?" + l.params.Encode())
	if resp.StatusCode == http.StatusFound {
		t.Fatalf("redirected to %s", resp.Header.Get("Location"))
	}
}

func TestTokenUnknownClient(t *testing.T) {
	e := newEnv(t)
	e.token(url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {"http://a/b"}, "client_id": {"nobody"}, "code_verifier": {"v"}}).
		mustFail(t, http.StatusUnauthorized, "invalid_client")
}

func TestTokenWrongVerifier(t *testing.T) {
	e := newEnv(t)
	e.addUser("ann", "Patient/pat7")
	clientID, redirectURI := e.publicApp()
	l := e.newLaunch(clientID, redirectURI, "patient/*.rs")
	code := e.code(l, "ann", "", "patient/*.rs")
	l.verifier = "another-verifier-" + strings.Repeat("y", 40)
	e.exchange(l, code).mustFail(t, http.StatusBadRequest, "invalid_grant")
}

func TestTokenMissingVerifier(t *testing.T) {
	e := newEnv(t)
	e.addUser("ann", "Patient/pat7")
	clientID, redirectURI := e.publicApp()
	l := e.newLaunch(clientID, redirectURI, "patient/*.rs")
	code := e.code(l, "ann", "", "patient/*.rs")
	l.verifier = ""
	e.exchange(l, code).mustFail(t, http.StatusBadRequest, "invalid_request")
}

// Reusing a code fails and revokes what the first exchange issued.
func TestCodeReuseRevokesTokens(t *testing.T) {
	e := newEnv(t)
	e.addUser("ann", "Patient/pat7")
	clientID, redirectURI := e.publicApp()
	l := e.newLaunch(clientID, redirectURI, "patient/*.rs offline_access")
	code := e.code(l, "ann", "", "patient/*.rs", "offline_access")
	first := e.exchange(l, code).mustOK(t)
	if _, err := e.srv.Verifier().Verify(t.Context(), first.AccessToken); err != nil {
		t.Fatal(err)
	}
	e.exchange(l, code).mustFail(t, http.StatusBadRequest, "invalid_grant")
	if _, err := e.srv.Verifier().Verify(t.Context(), first.AccessToken); err == nil {
		t.Error("the access token of a reused code still verifies")
	}
	e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}}).
		mustFail(t, http.StatusBadRequest, "invalid_grant")
}

func TestCodeExpired(t *testing.T) {
	e := newEnv(t)
	e.addUser("ann", "Patient/pat7")
	clientID, redirectURI := e.publicApp()
	l := e.newLaunch(clientID, redirectURI, "patient/*.rs")
	code := e.code(l, "ann", "", "patient/*.rs")
	e.advance(61 * time.Second)
	e.exchange(l, code).mustFail(t, http.StatusBadRequest, "invalid_grant")
}

// A code is bound to its client.
func TestCodeOfAnotherClient(t *testing.T) {
	e := newEnv(t)
	e.addUser("ann", "Patient/pat7")
	clientID, redirectURI := e.publicApp()
	otherID, _ := e.addClient(authz.ClientSpec{Type: authz.ClientPublic, RedirectURIs: []string{redirectURI}})
	l := e.newLaunch(clientID, redirectURI, "patient/*.rs")
	code := e.code(l, "ann", "", "patient/*.rs")
	l.clientID = otherID
	e.exchange(l, code).mustFail(t, http.StatusBadRequest, "invalid_grant")
}

// Codes are URL-safe: fhirclient sends them unencoded.
func TestCodeIsURLSafe(t *testing.T) {
	e := newEnv(t)
	e.addUser("ann", "Patient/pat7")
	clientID, redirectURI := e.publicApp()
	for range 5 {
		code := e.code(e.newLaunch(clientID, redirectURI, "patient/*.rs"), "ann", "", "patient/*.rs")
		if strings.ContainsAny(code, "+/=&%") {
			t.Fatalf("code %q is not URL-safe", code)
		}
	}
}

// A confidential client authenticates with HTTP Basic and nothing else.
func TestConfidentialClient(t *testing.T) {
	e := newEnv(t)
	e.addUser("ann", "Patient/pat7")
	redirectURI := "https://app.example/cb"
	id, secret := e.addClient(authz.ClientSpec{Type: authz.ClientConfidential, RedirectURIs: []string{redirectURI}})
	l := e.newLaunch(id, redirectURI, "patient/*.rs")
	form := func(code string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {l.verifier}}
	}
	code := e.code(l, "ann", "", "patient/*.rs")
	e.token(form(code), basicAuth(id, "wrong")).mustFail(t, http.StatusUnauthorized, "invalid_client")
	post := form(code)
	post.Set("client_id", id)
	post.Set("client_secret", secret)
	e.token(post).mustFail(t, http.StatusUnauthorized, "invalid_client")
	noAuth := form(code)
	noAuth.Set("client_id", id)
	e.token(noAuth).mustFail(t, http.StatusUnauthorized, "invalid_client")
	e.token(form(code), basicAuth(id, secret)).mustOK(t)
}
