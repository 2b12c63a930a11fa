package authz_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/medbridge/medbridge/auth/authz"
)

// A clinician's standalone launch through login, patient picker and
// consent, driven by golang.org/x/oauth2 as the app, with one scope
// unticked on the consent page.
func TestStandaloneLaunchWithPicker(t *testing.T) {
	e := newEnv(t)
	e.addUser("drwho", "Practitioner/p1")
	e.addPatient("pat1", "Smith")
	e.addPatient("pat2", "Jones")
	clientID, redirectURI := e.publicApp()

	conf := &oauth2.Config{
		ClientID: clientID, RedirectURL: redirectURI,
		Endpoint: oauth2.Endpoint{AuthURL: e.issuer + "/authorize", TokenURL: e.issuer + "/token", AuthStyle: oauth2.AuthStyleInParams},
		Scopes:   []string{"openid", "fhirUser", "launch/patient", "patient/Observation.rs", "patient/Condition.rs", "offline_access"},
	}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("aud", e.fhirBase))
	resp, _ := e.get(authURL)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d", resp.StatusCode)
	}
	login := resp.Header.Get("Location")
	next := e.submit(login, url.Values{"username": {"drwho"}, "password": {"drwho-password"}})
	if !strings.Contains(next, "/picker") {
		t.Fatalf("clinician not sent to the picker: %s", next)
	}
	_, picker := e.get(next)
	if !strings.Contains(picker, "Ann Smith") || !strings.Contains(picker, "Ann Jones") {
		t.Fatalf("picker does not list the patients:\n%s", picker)
	}
	consentURL := e.submit(next, url.Values{"patient": {"pat2"}})
	_, page := e.get(consentURL)
	for _, sc := range conf.Scopes {
		if !strings.Contains(page, `value="`+sc+`" checked`) {
			t.Errorf("consent page lacks a ticked box for %s", sc)
		}
	}
	back := e.consent(consentURL, "openid", "fhirUser", "launch/patient", "patient/Observation.rs", "offline_access")
	if back.Query().Get("state") != "st-1" {
		t.Fatalf("state not echoed: %s", back)
	}

	tok, err := conf.Exchange(context.Background(), back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Extra("patient"); got != "pat2" {
		t.Errorf("patient = %v", got)
	}
	if got := tok.Extra("scope"); got != "openid fhirUser launch/patient patient/Observation.rs offline_access" {
		t.Errorf("scope = %v (the unticked scope must be gone)", got)
	}
	if got, ok := tok.Extra("expires_in").(float64); !ok || got != 300 {
		t.Errorf("expires_in = %#v, want the number 300", tok.Extra("expires_in"))
	}
	if tok.Extra("need_patient_banner") != true || tok.Extra("smart_style_url") == "" || tok.Extra("fhirUser") != "Practitioner/p1" {
		t.Errorf("SMART fields: banner %v style %v fhirUser %v", tok.Extra("need_patient_banner"), tok.Extra("smart_style_url"), tok.Extra("fhirUser"))
	}
	if tok.RefreshToken == "" {
		t.Error("no refresh token for offline_access")
	}
	idToken, _ := tok.Extra("id_token").(string)
	claims := decodeAtob(t, idToken)
	if claims["fhirUser"] != e.fhirBase+"/Practitioner/p1" || claims["aud"] == nil || claims["nonce"] != nil {
		t.Errorf("id_token claims: %v", claims)
	}

	c, err := e.srv.Verifier().Verify(context.Background(), tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	want := authz.Claims{ClientID: clientID, Subject: "drwho", Scope: "openid fhirUser launch/patient patient/Observation.rs offline_access", Patient: "pat2", FHIRUser: "Practitioner/p1"}
	if c.ClientID != want.ClientID || c.Subject != want.Subject || c.Scope != want.Scope || c.Patient != want.Patient || c.FHIRUser != want.FHIRUser {
		t.Errorf("claims %+v, want %+v", c, want)
	}
}

// decodeAtob decodes a JWT payload the way fhirclient's browser build
// does: with standard base64 (atob), which has no '-' or '_'.
func decodeAtob(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	payload := parts[1]
	if strings.ContainsAny(payload, "-_") {
		t.Fatalf("payload %q has characters atob rejects", payload)
	}
	raw, err := base64.RawStdEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// A patient user's standalone launch gets their own record, no picker.
func TestStandaloneLaunchPatientUser(t *testing.T) {
	e := newEnv(t)
	e.addUser("ann", "Patient/pat7")
	clientID, redirectURI := e.publicApp()
	l := e.newLaunch(clientID, redirectURI, "launch/patient patient/*.rs openid fhirUser")
	tr := e.exchange(l, e.code(l, "ann", "", "launch/patient", "patient/*.rs", "openid", "fhirUser")).mustOK(t)
	if tr.Patient != "pat7" || tr.FHIRUser != "Patient/pat7" || tr.RefreshToken != "" {
		t.Errorf("patient %q fhirUser %q refresh %q", tr.Patient, tr.FHIRUser, tr.RefreshToken)
	}
	if tr.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", tr.Header.Get("Cache-Control"))
	}
}

// backendToken gets a client_credentials token with a client assertion.
func (e *env) backendToken(k *clientKey, clientID, scope string) tokenResult {
	e.t.Helper()
	return e.token(url.Values{
		"grant_type": {"client_credentials"}, "scope": {scope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {k.assertion(e.t, clientID, e.issuer+"/token", e.now().Add(4*60e9), "")},
	})
}

// An EHR launch: the EHR (a backend client registered for EHR launch)
// creates the context at POST /auth/launch; the app launches with the
// launch value, launch/patient and no bare launch scope (as fhirclient
// does), and gets the patient and encounter without a picker.
func TestEHRLaunch(t *testing.T) {
	e := newEnv(t)
	e.addUser("drwho", "Practitioner/p1")
	clientID, redirectURI := e.publicApp()
	ehrKey := newRSAKey(t, "ehr-1")
	ehrID, _ := e.addClient(authz.ClientSpec{Name: "EHR", Type: authz.ClientBackend, JWKS: ehrKey.jwks(t), EHRLaunch: true})
	ehrToken := e.backendToken(ehrKey, ehrID, "system/Patient.rs").mustOK(t)

	launchID := e.createLaunch(t, ehrToken.AccessToken, `{"patient":"Patient/pat3","encounter":"enc9","fhirUser":"Practitioner/p1"}`, http.StatusCreated)

	l := e.newLaunch(clientID, redirectURI, "launch/patient launch/encounter patient/*.rs openid fhirUser")
	l.params.Set("launch", launchID)
	tr := e.exchange(l, e.code(l, "drwho", "", "launch/patient", "launch/encounter", "patient/*.rs", "openid", "fhirUser")).mustOK(t)
	if tr.Patient != "pat3" || tr.Encounter != "enc9" || tr.NeedPatientBanner == nil || *tr.NeedPatientBanner {
		t.Errorf("patient %q encounter %q banner %v", tr.Patient, tr.Encounter, tr.NeedPatientBanner)
	}

	// The launch value was used up.
	l2 := e.newLaunch(clientID, redirectURI, "launch patient/*.rs")
	l2.params.Set("launch", launchID)
	if got := e.authorize(l2).Query().Get("error"); got != "invalid_request" {
		t.Errorf("second use of a launch: error %q", got)
	}
}

func (e *env) createLaunch(t *testing.T, token, body string, status int) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/launch", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, out := e.do(req)
	if resp.StatusCode != status {
		t.Fatalf("POST /launch: %d %s, want %d", resp.StatusCode, out, status)
	}
	var lr struct {
		Launch string `json:"launch"`
	}
	_ = json.Unmarshal([]byte(out), &lr)
	return lr.Launch
}

func TestLaunchWithoutToken(t *testing.T) {
	e := newEnv(t)
	e.createLaunch(t, "", `{"patient":"p"}`, http.StatusUnauthorized)
}

func TestLaunchByClientNotRegisteredForEHRLaunch(t *testing.T) {
	e := newEnv(t)
	k := newRSAKey(t, "k")
	id, _ := e.addClient(authz.ClientSpec{Type: authz.ClientBackend, JWKS: k.jwks(t)})
	tok := e.backendToken(k, id, "system/*.rs").mustOK(t)
	e.createLaunch(t, tok.AccessToken, `{"patient":"p"}`, http.StatusForbidden)
}

// A launch made for one user cannot be completed by another.
func TestEHRLaunchForAnotherUser(t *testing.T) {
	e := newEnv(t)
	e.addUser("drwho", "Practitioner/p1")
	clientID, redirectURI := e.publicApp()
	launchID, err := e.srv.CreateLaunch(context.Background(), authz.LaunchContext{Patient: "pat3", FHIRUser: "Practitioner/p2"})
	if err != nil {
		t.Fatal(err)
	}
	l := e.newLaunch(clientID, redirectURI, "launch patient/*.rs")
	l.params.Set("launch", launchID)
	back, _ := url.Parse(e.submit(e.authorize(l).String(), url.Values{"username": {"drwho"}, "password": {"drwho-password"}}))
	if back.Query().Get("error") != "access_denied" || back.Query().Get("state") != l.state {
		t.Errorf("redirect %s", back)
	}
}

// The user's Deny ends the launch with access_denied.
func TestConsentDenied(t *testing.T) {
	e := newEnv(t)
	e.addUser("ann", "Patient/pat7")
	clientID, redirectURI := e.publicApp()
	l := e.newLaunch(clientID, redirectURI, "patient/*.rs")
	back, _ := url.Parse(e.submit(e.signIn(e.authorize(l).String(), "ann", ""), url.Values{"action": {"deny"}, "scope": {"patient/*.rs"}}))
	if back.Query().Get("error") != "access_denied" || back.Query().Get("code") != "" {
		t.Errorf("redirect %s", back)
	}
}
