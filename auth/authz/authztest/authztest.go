// Package authztest gets tokens from a running authz.Server over HTTP, as
// a browser and its user, an app and a backend service would: the whole
// standalone and EHR launch (login, patient picker, consent, PKCE), the
// token, refresh and revocation endpoints and client_credentials with
// private_key_jwt. Tests of the authorization server drive its steps one
// by one; tests of the FHIR server take a finished Token.
package authztest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/medbridge/medbridge/auth/authz"
)

// Agent is the other side of one authorization server in one test.
type Agent struct {
	T testing.TB
	// Issuer is the authorization server's URL (e.g. http://host/auth).
	Issuer string
	// FHIRBase is the aud of authorization requests.
	FHIRBase string
	// Now is the clock of client assertions (time.Now when nil): the
	// server's, when the test moves it.
	Now func() time.Time
}

// New returns an Agent of the server at issuer for the FHIR base.
func New(t testing.TB, issuer, fhirBase string) *Agent {
	return &Agent{T: t, Issuer: issuer, FHIRBase: fhirBase}
}

func (a *Agent) now() time.Time {
	if a.Now == nil {
		return time.Now()
	}
	return a.Now()
}

// User is a registered user and the password to sign in with.
type User struct{ Name, Password string }

// AddUser registers a user with the password name+"-password".
func AddUser(t testing.TB, admin *authz.Admin, name, fhirUser string) User {
	t.Helper()
	u := User{Name: name, Password: name + "-password"}
	if err := admin.AddUser(context.Background(), authz.UserSpec{Username: u.Name, Password: u.Password, FHIRUser: fhirUser}); err != nil {
		t.Fatal(err)
	}
	return u
}

// AddClient registers a client and returns its id and secret.
func AddClient(t testing.TB, admin *authz.Admin, spec authz.ClientSpec) (id, secret string) {
	t.Helper()
	id, secret, err := admin.AddClient(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return id, secret
}

// App is a registered app: its client_id and redirect URI.
type App struct{ ClientID, RedirectURI string }

// AddPublicApp registers a public app whose redirect URI nothing serves:
// the agent reads the code from the redirect without following it.
func AddPublicApp(t testing.TB, admin *authz.Admin) App {
	t.Helper()
	app := App{RedirectURI: "http://127.0.0.1:9/app/callback"}
	app.ClientID, _ = AddClient(t, admin, authz.ClientSpec{Name: "Growth Chart", Type: authz.ClientPublic, RedirectURIs: []string{app.RedirectURI}})
	return app
}

// noRedirects makes requests without following redirects: each step of a
// launch checks where it is sent.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// Do sends req and returns the response with its body read.
func (a *Agent) Do(req *http.Request) (*http.Response, string) {
	a.T.Helper()
	resp, err := noRedirects.Do(req)
	if err != nil {
		a.T.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// Get fetches u.
func (a *Agent) Get(u string) (*http.Response, string) {
	a.T.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return a.Do(req)
}

// PostForm posts form to u; edit adjusts the request (e.g. BasicAuth).
func (a *Agent) PostForm(u string, form url.Values, edit ...func(*http.Request)) (*http.Response, string) {
	a.T.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, f := range edit {
		f(req)
	}
	return a.Do(req)
}

// BasicAuth authenticates a confidential client with HTTP Basic.
func BasicAuth(id, secret string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(id, secret) }
}

// Launch is one authorization request being driven through the pages.
type Launch struct {
	ClientID, RedirectURI, Verifier, State string
	// Params are the authorization request's query parameters.
	Params url.Values
}

// NewLaunch prepares the authorization request of app for scope with
// PKCE S256, a state that needs encoding and the Agent's aud.
func (a *Agent) NewLaunch(app App, scope string) *Launch {
	l := &Launch{ClientID: app.ClientID, RedirectURI: app.RedirectURI, Verifier: "verifier-" + strings.Repeat("x", 40), State: "state/+=&%"}
	sum := sha256.Sum256([]byte(l.Verifier))
	l.Params = url.Values{
		"response_type": {"code"}, "client_id": {app.ClientID}, "redirect_uri": {app.RedirectURI},
		"scope": {scope}, "state": {l.State}, "aud": {a.FHIRBase}, "nonce": {"n-1"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	return l
}

// Authorize sends the authorization request and returns where it
// redirects: the login page, or the app with an error.
func (a *Agent) Authorize(l *Launch) *url.URL {
	a.T.Helper()
	resp, body := a.Get(a.Issuer + "/authorize?" + l.Params.Encode())
	if resp.StatusCode != http.StatusFound {
		a.T.Fatalf("authorize: %d %s", resp.StatusCode, body)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		a.T.Fatal(err)
	}
	return u
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// Form fetches a page and returns its hidden id and CSRF token.
func (a *Agent) Form(pageURL string) url.Values {
	a.T.Helper()
	resp, body := a.Get(pageURL)
	if resp.StatusCode != http.StatusOK {
		a.T.Fatalf("GET %s: %d %s", pageURL, resp.StatusCode, body)
	}
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		a.T.Fatalf("no CSRF token on %s", pageURL)
	}
	u, _ := url.Parse(pageURL)
	return url.Values{"id": {u.Query().Get("id")}, "csrf": {m[1]}}
}

// Submit posts a page's form with extra fields and returns the redirect.
func (a *Agent) Submit(pageURL string, fields url.Values) string {
	a.T.Helper()
	form := a.Form(pageURL)
	for k, v := range fields {
		form[k] = v
	}
	u, _ := url.Parse(pageURL)
	u.RawQuery = ""
	resp, body := a.PostForm(u.String(), form)
	if resp.StatusCode != http.StatusSeeOther {
		a.T.Fatalf("POST %s: %d %s", u, resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

// SignIn drives the login page (and the picker when a patient is given)
// and returns the consent page's URL.
func (a *Agent) SignIn(loginURL string, user User, patient string) string {
	a.T.Helper()
	next := a.Submit(loginURL, url.Values{"username": {user.Name}, "password": {user.Password}})
	if strings.Contains(next, "/picker") {
		if patient == "" {
			a.T.Fatalf("unexpected picker")
		}
		next = a.Submit(next, url.Values{"patient": {patient}})
	}
	if !strings.Contains(next, "/consent") {
		a.T.Fatalf("after login: %s", next)
	}
	return next
}

// Consent allows the given scopes and returns the app's redirect.
func (a *Agent) Consent(consentURL string, scopes ...string) *url.URL {
	a.T.Helper()
	u, err := url.Parse(a.Submit(consentURL, url.Values{"action": {"approve"}, "scope": scopes}))
	if err != nil {
		a.T.Fatal(err)
	}
	return u
}

// Code runs the pages of a launch for user, picking patient when the
// picker comes, allowing scopes, and returns the code.
func (a *Agent) Code(l *Launch, user User, patient string, scopes ...string) string {
	a.T.Helper()
	back := a.Consent(a.SignIn(a.Authorize(l).String(), user, patient), scopes...)
	if got := back.Query().Get("state"); got != l.State {
		a.T.Fatalf("state %q, want %q", got, l.State)
	}
	code := back.Query().Get("code")
	if code == "" {
		a.T.Fatalf("no code in %s", back)
	}
	return code
}

// Token is a token endpoint answer, success or error.
type Token struct {
	Status            int
	Header            http.Header
	AccessToken       string  `json:"access_token"`
	RefreshToken      string  `json:"refresh_token"`
	IDToken           string  `json:"id_token"`
	ExpiresIn         float64 `json:"expires_in"`
	Scope             string  `json:"scope"`
	Patient           string  `json:"patient"`
	Encounter         string  `json:"encounter"`
	FHIRUser          string  `json:"fhirUser"`
	NeedPatientBanner *bool   `json:"need_patient_banner"`
	SmartStyleURL     string  `json:"smart_style_url"`
	Error             string  `json:"error"`
	Description       string  `json:"error_description"`
}

// MustOK fails the test unless tok is an access token.
func (tok *Token) MustOK(t testing.TB) *Token {
	t.Helper()
	if tok.Status != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("token request failed: %d %s %s", tok.Status, tok.Error, tok.Description)
	}
	return tok
}

// MustFail fails the test unless tok is the error code with status.
func (tok *Token) MustFail(t testing.TB, status int, code string) {
	t.Helper()
	if tok.Status != status || tok.Error != code || tok.AccessToken != "" {
		t.Fatalf("got %d %q (%s), want %d %q", tok.Status, tok.Error, tok.Description, status, code)
	}
}

// Bearer is the Authorization header value of the access token.
func (tok *Token) Bearer() string { return "Bearer " + tok.AccessToken }

// TokenRequest posts form to the token endpoint.
func (a *Agent) TokenRequest(form url.Values, edit ...func(*http.Request)) *Token {
	a.T.Helper()
	resp, body := a.PostForm(a.Issuer+"/token", form, edit...)
	tok := &Token{}
	if err := json.Unmarshal([]byte(body), tok); err != nil {
		a.T.Fatalf("token response %d %q: %v", resp.StatusCode, body, err)
	}
	tok.Status, tok.Header = resp.StatusCode, resp.Header
	return tok
}

// Exchange trades a code of l for tokens, as a public client.
func (a *Agent) Exchange(l *Launch, code string) *Token {
	a.T.Helper()
	return a.TokenRequest(url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {l.RedirectURI},
		"client_id": {l.ClientID}, "code_verifier": {l.Verifier},
	})
}

// StandaloneLaunch runs a whole standalone launch of app for user, who
// picks patient when the picker comes and allows every requested scope,
// and returns the tokens.
func (a *Agent) StandaloneLaunch(app App, user User, patient string, scopes ...string) *Token {
	a.T.Helper()
	l := a.NewLaunch(app, strings.Join(scopes, " "))
	return a.Exchange(l, a.Code(l, user, patient, scopes...)).MustOK(a.T)
}

// CreateLaunch asks for an EHR launch context (body as authz.LaunchContext
// JSON) with an EHR backend's access token, checks the status and returns
// the launch value.
func (a *Agent) CreateLaunch(token, body string, status int) string {
	a.T.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.Issuer+"/launch", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, out := a.Do(req)
	if resp.StatusCode != status {
		a.T.Fatalf("POST /launch: %d %s, want %d", resp.StatusCode, out, status)
	}
	var lr struct {
		Launch string `json:"launch"`
	}
	_ = json.Unmarshal([]byte(out), &lr)
	return lr.Launch
}

// EHRLaunch runs an EHR launch of app with the launch value for user, who
// allows every requested scope, and returns the tokens.
func (a *Agent) EHRLaunch(app App, launch string, user User, scopes ...string) *Token {
	a.T.Helper()
	l := a.NewLaunch(app, strings.Join(scopes, " "))
	l.Params.Set("launch", launch)
	return a.Exchange(l, a.Code(l, user, "", scopes...)).MustOK(a.T)
}

// Refresh uses a refresh token as a public client (without client_id, as
// fhirclient does); an empty scope asks for the grant's.
func (a *Agent) Refresh(refreshToken, scope string) *Token {
	a.T.Helper()
	return a.TokenRequest(RefreshForm(refreshToken, scope))
}

// RefreshForm is the token request of Refresh.
func RefreshForm(refreshToken, scope string) url.Values {
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	if scope != "" {
		f.Set("scope", scope)
	}
	return f
}

// Revoke revokes token as the public client clientID.
func (a *Agent) Revoke(clientID, token string) {
	a.T.Helper()
	resp, body := a.PostForm(a.Issuer+"/revoke", url.Values{"token": {token}, "client_id": {clientID}})
	if resp.StatusCode != http.StatusOK {
		a.T.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
}
