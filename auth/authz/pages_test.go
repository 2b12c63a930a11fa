package authz_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// loginForm starts a launch and returns the login page's URL and form.
func (e *env) loginForm() (string, url.Values) {
	e.T.Helper()
	e.addUser("ann", "Patient/pat7")
	login := e.Authorize(e.appLaunch()).String()
	form := e.Form(login)
	form.Set("username", "ann")
	form.Set("password", "ann-password")
	u, _ := url.Parse(login)
	u.RawQuery = ""
	return u.String(), form
}

func TestLoginCSRFMissing(t *testing.T) {
	e := newEnv(t)
	action, form := e.loginForm()
	form.Del("csrf")
	if resp, _ := e.PostForm(action, form); resp.StatusCode != http.StatusForbidden {
		t.Errorf("status %d", resp.StatusCode)
	}
}

func TestLoginCSRFWrong(t *testing.T) {
	e := newEnv(t)
	action, form := e.loginForm()
	form.Set("csrf", "forged")
	if resp, _ := e.PostForm(action, form); resp.StatusCode != http.StatusForbidden {
		t.Errorf("status %d", resp.StatusCode)
	}
}

// A CSRF token is bound to its own authorization request.
func TestConsentCSRFOfAnotherRequest(t *testing.T) {
	e := newEnv(t)
	ann := e.addUser("ann", "Patient/pat7")
	consentA := e.SignIn(e.Authorize(e.appLaunch()).String(), ann, "")
	consentB := e.SignIn(e.Authorize(e.appLaunch()).String(), ann, "")
	formA, formB := e.Form(consentA), e.Form(consentB)
	formB.Set("csrf", formA.Get("csrf"))
	formB.Set("action", "approve")
	formB.Set("scope", "patient/*.rs")
	u, _ := url.Parse(consentB)
	u.RawQuery = ""
	if resp, _ := e.PostForm(u.String(), formB); resp.StatusCode != http.StatusForbidden {
		t.Errorf("status %d", resp.StatusCode)
	}
}

func TestLoginWrongPassword(t *testing.T) {
	e := newEnv(t)
	action, form := e.loginForm()
	form.Set("password", "nope")
	resp, body := e.PostForm(action, form)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong username or password") {
		t.Errorf("status %d", resp.StatusCode)
	}
}

// The consent page cannot be skipped by posting before signing in.
func TestConsentBeforeLogin(t *testing.T) {
	e := newEnv(t)
	action, form := e.loginForm()
	form.Set("action", "approve")
	form.Set("scope", "patient/*.rs")
	resp, _ := e.PostForm(strings.Replace(action, "/login", "/consent", 1), form)
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "/login") {
		t.Errorf("%d to %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// The picker only accepts a patient who exists.
func TestPickerUnknownPatient(t *testing.T) {
	e := newEnv(t)
	e.addUser("drwho", "Practitioner/p1")
	picker := e.Submit(e.Authorize(e.appLaunch()).String(), url.Values{"username": {"drwho"}, "password": {"drwho-password"}})
	form := e.Form(picker)
	form.Set("patient_id", "ghost")
	u, _ := url.Parse(picker)
	u.RawQuery = ""
	if resp, _ := e.PostForm(u.String(), form); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d", resp.StatusCode)
	}
}

// An authorization request ends with its code: its pages are gone.
func TestRequestSingleUse(t *testing.T) {
	e := newEnv(t)
	ann := e.addUser("ann", "Patient/pat7")
	consent := e.SignIn(e.Authorize(e.appLaunch()).String(), ann, "")
	form := e.Form(consent)
	e.Consent(consent, "patient/*.rs")
	form.Set("action", "approve")
	form.Set("scope", "patient/*.rs")
	u, _ := url.Parse(consent)
	u.RawQuery = ""
	if resp, _ := e.PostForm(u.String(), form); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d", resp.StatusCode)
	}
}

// prompt=none cannot be honoured without sessions.
func TestAuthorizePromptNone(t *testing.T) {
	e := newEnv(t)
	l := e.appLaunch()
	l.Params.Set("prompt", "none")
	e.refused(l, "login_required")
}

func TestPagesNotFramed(t *testing.T) {
	e := newEnv(t)
	resp, body := e.Get(e.Authorize(e.appLaunch()).String())
	if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Cache-Control") != "no-store" || strings.Contains(body, "<script") {
		t.Errorf("headers %v", resp.Header)
	}
}
