package authz_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/medbridge/medbridge/auth/authz"
	"github.com/medbridge/medbridge/auth/authz/authztest"
)

// appLaunch starts a launch of a new public app.
func (e *env) appLaunch() *authztest.Launch {
	return e.NewLaunch(e.publicApp(), "launch/patient patient/*.rs")
}

// refused checks that an authorization request is sent back to the app
// with the error and the app's state.
func (e *env) refused(l *authztest.Launch, code string) {
	e.T.Helper()
	back := e.Authorize(l)
	if back.Host != "127.0.0.1:9" || back.Query().Get("error") != code || back.Query().Get("state") != l.State {
		e.T.Fatalf("redirect %s, want error %s with the state", back, code)
	}
}

func TestAuthorizeMissingPKCE(t *testing.T) {
	e := newEnv(t)
	l := e.appLaunch()
	l.Params.Del("code_challenge")
	l.Params.Del("code_challenge_method")
	e.refused(l, "invalid_request")
}

func TestAuthorizePlainPKCE(t *testing.T) {
	e := newEnv(t)
	l := e.appLaunch()
	l.Params.Set("code_challenge", l.Verifier)
	l.Params.Set("code_challenge_method", "plain")
	e.refused(l, "invalid_request")
}

// A challenge without a method is plain by RFC 7636: refused too.
func TestAuthorizePKCEWithoutMethod(t *testing.T) {
	e := newEnv(t)
	l := e.appLaunch()
	l.Params.Del("code_challenge_method")
	e.refused(l, "invalid_request")
}

func TestAuthorizeWrongAud(t *testing.T) {
	e := newEnv(t)
	l := e.appLaunch()
	l.Params.Set("aud", e.ts.URL+"/other-fhir")
	e.refused(l, "invalid_request")
}

func TestAuthorizeMissingAud(t *testing.T) {
	e := newEnv(t)
	l := e.appLaunch()
	l.Params.Del("aud")
	e.refused(l, "invalid_request")
}

// The documented normalisation: a trailing slash on aud is ignored.
func TestAuthorizeAudTrailingSlash(t *testing.T) {
	e := newEnv(t)
	l := e.appLaunch()
	l.Params.Set("aud", e.FHIRBase+"/")
	if back := e.Authorize(l); !strings.HasSuffix(back.Path, "/auth/login") {
		t.Fatalf("redirect %s, want the login page", back)
	}
}

// An unregistered redirect_uri is never redirected to.
func TestAuthorizeRedirectURIMismatch(t *testing.T) {
	e := newEnv(t)
	l := e.appLaunch()
	l.Params.Set("redirect_uri", "http://127.0.0.1:9/app/callback/evil")
	resp, _ := e.Get(e.Issuer + "/authorize?" + l.Params.Encode())
	if resp.StatusCode == http.StatusFound {
		t.Fatalf("redirected to %s", resp.Header.Get("Location"))
	}
}

func TestTokenRedirectURIMismatch(t *testing.T) {
	e := newEnv(t)
	ann := e.addUser("ann", "Patient/pat7")
	app := e.publicApp()
	l := e.NewLaunch(app, "patient/*.rs")
	code := e.Code(l, ann, "", "patient/*.rs")
	l.RedirectURI += "?x=1"
	e.Exchange(l, code).MustFail(t, http.StatusBadRequest, "invalid_grant")
}

func TestAuthorizeUnknownClient(t *testing.T) {
	e := newEnv(t)
	l := e.NewLaunch(authztest.App{ClientID: "no-such-client", RedirectURI: "http://127.0.0.1:9/app/callback"}, "patient/*.rs")
	resp, _ := e.Get(e.Issuer + "/authorize?" + l.Params.Encode())
	if resp.StatusCode == http.StatusFound {
		t.Fatalf("redirected to %s", resp.Header.Get("Location"))
	}
}

func TestTokenUnknownClient(t *testing.T) {
	e := newEnv(t)
	e.TokenRequest(url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {"http://a/b"}, "client_id": {"nobody"}, "code_verifier": {"v"}}).
		MustFail(t, http.StatusUnauthorized, "invalid_client")
}

func TestTokenWrongVerifier(t *testing.T) {
	e := newEnv(t)
	ann := e.addUser("ann", "Patient/pat7")
	app := e.publicApp()
	l := e.NewLaunch(app, "patient/*.rs")
	code := e.Code(l, ann, "", "patient/*.rs")
	l.Verifier = "another-verifier-" + strings.Repeat("y", 40)
	e.Exchange(l, code).MustFail(t, http.StatusBadRequest, "invalid_grant")
}

func TestTokenMissingVerifier(t *testing.T) {
	e := newEnv(t)
	ann := e.addUser("ann", "Patient/pat7")
	app := e.publicApp()
	l := e.NewLaunch(app, "patient/*.rs")
	code := e.Code(l, ann, "", "patient/*.rs")
	l.Verifier = ""
	e.Exchange(l, code).MustFail(t, http.StatusBadRequest, "invalid_request")
}

// Reusing a code fails and revokes what the first exchange issued.
func TestCodeReuseRevokesTokens(t *testing.T) {
	e := newEnv(t)
	ann := e.addUser("ann", "Patient/pat7")
	app := e.publicApp()
	l := e.NewLaunch(app, "patient/*.rs offline_access")
	code := e.Code(l, ann, "", "patient/*.rs", "offline_access")
	first := e.Exchange(l, code).MustOK(t)
	if _, err := e.srv.Verifier().Verify(t.Context(), first.AccessToken); err != nil {
		t.Fatal(err)
	}
	e.Exchange(l, code).MustFail(t, http.StatusBadRequest, "invalid_grant")
	if _, err := e.srv.Verifier().Verify(t.Context(), first.AccessToken); err == nil {
		t.Error("the access token of a reused code still verifies")
	}
	e.TokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}}).
		MustFail(t, http.StatusBadRequest, "invalid_grant")
}

func TestCodeExpired(t *testing.T) {
	e := newEnv(t)
	ann := e.addUser("ann", "Patient/pat7")
	app := e.publicApp()
	l := e.NewLaunch(app, "patient/*.rs")
	code := e.Code(l, ann, "", "patient/*.rs")
	e.advance(61 * time.Second)
	e.Exchange(l, code).MustFail(t, http.StatusBadRequest, "invalid_grant")
}

// A code is bound to its client.
func TestCodeOfAnotherClient(t *testing.T) {
	e := newEnv(t)
	ann := e.addUser("ann", "Patient/pat7")
	app := e.publicApp()
	otherID, _ := e.addClient(authz.ClientSpec{Type: authz.ClientPublic, RedirectURIs: []string{app.RedirectURI}})
	l := e.NewLaunch(app, "patient/*.rs")
	code := e.Code(l, ann, "", "patient/*.rs")
	l.ClientID = otherID
	e.Exchange(l, code).MustFail(t, http.StatusBadRequest, "invalid_grant")
}

// Codes are URL-safe: fhirclient sends them unencoded.
func TestCodeIsURLSafe(t *testing.T) {
	e := newEnv(t)
	ann := e.addUser("ann", "Patient/pat7")
	app := e.publicApp()
	for range 5 {
		code := e.Code(e.NewLaunch(app, "patient/*.rs"), ann, "", "patient/*.rs")
		if strings.ContainsAny(code, "+/=&%") {
			t.Fatalf("code %q is not URL-safe", code)
		}
	}
}

// A confidential client authenticates with HTTP Basic and nothing else.
func TestConfidentialClient(t *testing.T) {
	e := newEnv(t)
	ann := e.addUser("ann", "Patient/pat7")
	app := authztest.App{RedirectURI: "https://app.example/cb"}
	id, secret := e.addClient(authz.ClientSpec{Type: authz.ClientConfidential, RedirectURIs: []string{app.RedirectURI}})
	app.ClientID = id
	l := e.NewLaunch(app, "patient/*.rs")
	form := func(code string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {app.RedirectURI}, "code_verifier": {l.Verifier}}
	}
	code := e.Code(l, ann, "", "patient/*.rs")
	e.TokenRequest(form(code), authztest.BasicAuth(id, "wrong")).MustFail(t, http.StatusUnauthorized, "invalid_client")
	post := form(code)
	post.Set("client_id", id)
	post.Set("client_secret", secret)
	e.TokenRequest(post).MustFail(t, http.StatusUnauthorized, "invalid_client")
	noAuth := form(code)
	noAuth.Set("client_id", id)
	e.TokenRequest(noAuth).MustFail(t, http.StatusUnauthorized, "invalid_client")
	e.TokenRequest(form(code), authztest.BasicAuth(id, secret)).MustOK(t)
}
