package authz_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medbridge/medbridge/auth/authz"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
	"github.com/medbridge/medbridge/storage/sqlite"
)

// env is an authorization server over HTTP on a real SQLite store, with
// a clock the test moves.
type env struct {
	t        *testing.T
	ts       *httptest.Server
	store    storage.Store
	srv      *authz.Server
	offset   atomic.Int64 // added to the real time, in nanoseconds
	mux      *http.ServeMux
	issuer   string
	fhirBase string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, mux: http.NewServeMux()}
	e.ts = httptest.NewServer(e.mux)
	t.Cleanup(e.ts.Close)
	store, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e.store = store
	e.issuer, e.fhirBase = e.ts.URL+"/auth", e.ts.URL+"/fhir"
	e.srv = e.newServer()
	e.mux.Handle("/auth/", e.srv.Handler())
	e.mux.HandleFunc("/fhir/.well-known/smart-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(e.srv.SmartConfiguration())
	})
	return e
}

// newServer starts another server process on the same store.
func (e *env) newServer() *authz.Server {
	e.t.Helper()
	srv, err := authz.New(context.Background(), authz.Config{
		Issuer: e.issuer, FHIRBase: e.fhirBase, Store: e.store, Now: e.now,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return srv
}

func (e *env) now() time.Time          { return time.Now().Add(time.Duration(e.offset.Load())) }
func (e *env) advance(d time.Duration) { e.offset.Add(int64(d)) }

func (e *env) addUser(name, fhirUser string) {
	e.t.Helper()
	if err := e.srv.AddUser(context.Background(), authz.UserSpec{Username: name, Password: name + "-password", FHIRUser: fhirUser}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) addClient(spec authz.ClientSpec) (id, secret string) {
	e.t.Helper()
	id, secret, err := e.srv.AddClient(context.Background(), spec)
	if err != nil {
		e.t.Fatal(err)
	}
	return id, secret
}

// addPatient stores a Patient for the picker.
func (e *env) addPatient(id, family string) {
	e.t.Helper()
	body := `{"resourceType":"Patient","id":"` + id + `","name":[{"family":"` + family + `","given":["Ann"]}]}`
	err := e.store.Write(context.Background(), storage.Write{
		Resource: fhir.Resource{Type: "Patient", ID: id, Version: 1, LastUpdated: time.Now(), Method: http.MethodPut, JSON: []byte(body)},
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// client makes requests without following redirects.
var client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (e *env) do(req *http.Request) (*http.Response, string) {
	e.t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (e *env) get(u string) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return e.do(req)
}

func (e *env) postForm(u string, form url.Values, edit ...func(*http.Request)) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, f := range edit {
		f(req)
	}
	return e.do(req)
}

func basicAuth(id, secret string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(id, secret) }
}

// launch is one authorization request being driven through the pages.
type launch struct {
	clientID, redirectURI, verifier, state string
	params                                 url.Values
}

func (e *env) newLaunch(clientID, redirectURI, scope string) *launch {
	l := &launch{clientID: clientID, redirectURI: redirectURI, verifier: "verifier-" + strings.Repeat("x", 40), state: "state/+=&%"}
	sum := sha256.Sum256([]byte(l.verifier))
	l.params = url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirectURI},
		"scope": {scope}, "state": {l.state}, "aud": {e.fhirBase}, "nonce": {"n-1"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	return l
}

// authorize sends the authorization request and returns the redirect.
func (e *env) authorize(l *launch) *url.URL {
	e.t.Helper()
	resp, body := e.get(e.issuer + "/authorize?" + l.params.Encode())
	if resp.StatusCode != http.StatusFound {
		e.t.Fatalf("authorize: %d %s", resp.StatusCode, body)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// form fetches a page and returns its hidden id and CSRF token.
func (e *env) form(pageURL string) url.Values {
	e.t.Helper()
	resp, body := e.get(pageURL)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", pageURL, resp.StatusCode, body)
	}
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		e.t.Fatalf("no CSRF token on %s", pageURL)
	}
	u, _ := url.Parse(pageURL)
	return url.Values{"id": {u.Query().Get("id")}, "csrf": {m[1]}}
}

// submit posts a page's form with extra fields and returns the redirect.
func (e *env) submit(pageURL string, fields url.Values) string {
	e.t.Helper()
	form := e.form(pageURL)
	for k, v := range fields {
		form[k] = v
	}
	u, _ := url.Parse(pageURL)
	u.RawQuery = ""
	resp, body := e.postForm(u.String(), form)
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("POST %s: %d %s", u, resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

// signIn drives the login page (and the picker when a patient is given)
// and returns the consent page's URL.
func (e *env) signIn(loginURL, user, patient string) string {
	e.t.Helper()
	next := e.submit(loginURL, url.Values{"username": {user}, "password": {user + "-password"}})
	if strings.Contains(next, "/picker") {
		if patient == "" {
			e.t.Fatalf("unexpected picker")
		}
		next = e.submit(next, url.Values{"patient": {patient}})
	}
	if !strings.Contains(next, "/consent") {
		e.t.Fatalf("after login: %s", next)
	}
	return next
}

// consent allows the given scopes and returns the app's redirect.
func (e *env) consent(consentURL string, scopes ...string) *url.URL {
	e.t.Helper()
	u, err := url.Parse(e.submit(consentURL, url.Values{"action": {"approve"}, "scope": scopes}))
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// code runs a whole launch for user and returns the code.
func (e *env) code(l *launch, user, patient string, scopes ...string) string {
	e.t.Helper()
	back := e.consent(e.signIn(e.authorize(l).String(), user, patient), scopes...)
	if got := back.Query().Get("state"); got != l.state {
		e.t.Fatalf("state %q, want %q", got, l.state)
	}
	code := back.Query().Get("code")
	if code == "" {
		e.t.Fatalf("no code in %s", back)
	}
	return code
}

// tokenResult is a token endpoint answer, success or error.
type tokenResult struct {
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

func (e *env) token(form url.Values, edit ...func(*http.Request)) tokenResult {
	e.t.Helper()
	resp, body := e.postForm(e.issuer+"/token", form, edit...)
	var tr tokenResult
	if err := json.Unmarshal([]byte(body), &tr); err != nil {
		e.t.Fatalf("token response %d %q: %v", resp.StatusCode, body, err)
	}
	tr.Status, tr.Header = resp.StatusCode, resp.Header
	return tr
}

func (e *env) exchange(l *launch, code string) tokenResult {
	e.t.Helper()
	return e.token(url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {l.redirectURI},
		"client_id": {l.clientID}, "code_verifier": {l.verifier},
	})
}

func (tr tokenResult) mustOK(t *testing.T) tokenResult {
	t.Helper()
	if tr.Status != http.StatusOK || tr.AccessToken == "" {
		t.Fatalf("token request failed: %d %s %s", tr.Status, tr.Error, tr.Description)
	}
	return tr
}

func (tr tokenResult) mustFail(t *testing.T, status int, code string) {
	t.Helper()
	if tr.Status != status || tr.Error != code || tr.AccessToken != "" {
		t.Fatalf("got %d %q (%s), want %d %q", tr.Status, tr.Error, tr.Description, status, code)
	}
}

// publicApp registers a public app with one redirect URI.
func (e *env) publicApp() (clientID, redirectURI string) {
	redirectURI = "http://127.0.0.1:9/app/callback"
	clientID, _ = e.addClient(authz.ClientSpec{Name: "Growth Chart", Type: authz.ClientPublic, RedirectURIs: []string{redirectURI}})
	return clientID, redirectURI
}
