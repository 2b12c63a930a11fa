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
	"github.com/medbridge/medbridge/auth/authz/authztest"
)

// A clinician's standalone launch through login, patient picker and
// consent, driven by golang.org/x/oauth2 as the app, with one scope
// unticked on the consent page.
func TestStandaloneLaunchWithPicker(t *testing.T) {
	e := newEnv(t)
	e.addUser("drwho", "Practitioner/p1")
	e.addPatient("pat1", "Smith")
	e.addPatient("pat2", "Jones")
	app := e.publicApp()

	conf := &oauth2.Config{
		ClientID: app.ClientID, RedirectURL: app.RedirectURI,
		Endpoint: oauth2.Endpoint{AuthURL: e.Issuer + "/authorize", TokenURL: e.Issuer + "/token", AuthStyle: oauth2.AuthStyleInParams},
		Scopes:   []string{"openid", "fhirUser", "launch/patient", "patient/Observation.rs", "patient/Condition.rs", "offline_access"},
	}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("aud", e.FHIRBase))
	resp, _ := e.Get(authURL)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d", resp.StatusCode)
	}
	login := resp.Header.Get("Location")
	next := e.Submit(login, url.Values{"username": {"drwho"}, "password": {"drwho-password"}})
	if !strings.Contains(next, "/picker") {
		t.Fatalf("clinician not sent to the picker: %s", next)
	}
	_, picker := e.Get(next)
	if !strings.Contains(picker, "Ann Smith") || !strings.Contains(picker, "Ann Jones") {
		t.Fatalf("picker does not list the patients:\n%s", picker)
	}
	consentURL := e.Submit(next, url.Values{"patient": {"pat2"}})
	_, page := e.Get(consentURL)
	for _, sc := range conf.Scopes {
		if !strings.Contains(page, `value="`+sc+`" checked`) {
			t.Errorf("consent page lacks a ticked box for %s", sc)
		}
	}
	back := e.Consent(consentURL, "openid", "fhirUser", "launch/patient", "patient/Observation.rs", "offline_access")
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
	if claims["fhirUser"] != e.FHIRBase+"/Practitioner/p1" || claims["aud"] == nil || claims["nonce"] != nil {
		t.Errorf("id_token claims: %v", claims)
	}

	c, err := e.srv.Verifier().Verify(context.Background(), tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	want := authz.Claims{ClientID: app.ClientID, Subject: "drwho", Scope: "openid fhirUser launch/patient patient/Observation.rs offline_access", Patient: "pat2", FHIRUser: "Practitioner/p1"}
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
	ann := e.addUser("ann", "Patient/pat7")
	app := e.publicApp()
	l := e.NewLaunch(app, "launch/patient patient/*.rs openid fhirUser")
	tr := e.Exchange(l, e.Code(l, ann, "", "launch/patient", "patient/*.rs", "openid", "fhirUser")).MustOK(t)
	if tr.Patient != "pat7" || tr.FHIRUser != "Patient/pat7" || tr.RefreshToken != "" {
		t.Errorf("patient %q fhirUser %q refresh %q", tr.Patient, tr.FHIRUser, tr.RefreshToken)
	}
	if tr.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", tr.Header.Get("Cache-Control"))
	}
}

// An EHR launch: the EHR (a backend client registered for EHR launch)
// creates the context at POST /auth/launch; the app launches with the
// launch value, launch/patient and no bare launch scope (as fhirclient
// does), and gets the patient and encounter without a picker.
func TestEHRLaunch(t *testing.T) {
	e := newEnv(t)
	drwho := e.addUser("drwho", "Practitioner/p1")
	app := e.publicApp()
	ehrKey := authztest.NewRSAKey(t, "ehr-1")
	ehrID, _ := e.addClient(authz.ClientSpec{Name: "EHR", Type: authz.ClientBackend, JWKS: ehrKey.JWKS(t), EHRLaunch: true})
	ehrToken := e.Backend(ehrKey, ehrID, "system/Patient.rs").MustOK(t)

	launchID := e.CreateLaunch(ehrToken.AccessToken, `{"patient":"Patient/pat3","encounter":"enc9","fhirUser":"Practitioner/p1"}`, http.StatusCreated)

	l := e.NewLaunch(app, "launch/patient launch/encounter patient/*.rs openid fhirUser")
	l.Params.Set("launch", launchID)
	tr := e.Exchange(l, e.Code(l, drwho, "", "launch/patient", "launch/encounter", "patient/*.rs", "openid", "fhirUser")).MustOK(t)
	if tr.Patient != "pat3" || tr.Encounter != "enc9" || tr.NeedPatientBanner == nil || *tr.NeedPatientBanner {
		t.Errorf("patient %q encounter %q banner %v", tr.Patient, tr.Encounter, tr.NeedPatientBanner)
	}

	// The launch value was used up.
	l2 := e.NewLaunch(app, "launch patient/*.rs")
	l2.Params.Set("launch", launchID)
	if got := e.Authorize(l2).Query().Get("error"); got != "invalid_request" {
		t.Errorf("second use of a launch: error %q", got)
	}
}

func TestLaunchWithoutToken(t *testing.T) {
	e := newEnv(t)
	e.CreateLaunch("", `{"patient":"p"}`, http.StatusUnauthorized)
}

func TestLaunchByClientNotRegisteredForEHRLaunch(t *testing.T) {
	e := newEnv(t)
	k := authztest.NewRSAKey(t, "k")
	id, _ := e.addClient(authz.ClientSpec{Type: authz.ClientBackend, JWKS: k.JWKS(t)})
	tok := e.Backend(k, id, "system/*.rs").MustOK(t)
	e.CreateLaunch(tok.AccessToken, `{"patient":"p"}`, http.StatusForbidden)
}

// A launch made for one user cannot be completed by another.
func TestEHRLaunchForAnotherUser(t *testing.T) {
	e := newEnv(t)
	e.addUser("drwho", "Practitioner/p1")
	app := e.publicApp()
	launchID, err := e.srv.CreateLaunch(context.Background(), authz.LaunchContext{Patient: "pat3", FHIRUser: "Practitioner/p2"})
	if err != nil {
		t.Fatal(err)
	}
	l := e.NewLaunch(app, "launch patient/*.rs")
	l.Params.Set("launch", launchID)
	back, _ := url.Parse(e.Submit(e.Authorize(l).String(), url.Values{"username": {"drwho"}, "password": {"drwho-password"}}))
	if back.Query().Get("error") != "access_denied" || back.Query().Get("state") != l.State {
		t.Errorf("redirect %s", back)
	}
}

// The user's Deny ends the launch with access_denied.
func TestConsentDenied(t *testing.T) {
	e := newEnv(t)
	ann := e.addUser("ann", "Patient/pat7")
	app := e.publicApp()
	l := e.NewLaunch(app, "patient/*.rs")
	back, _ := url.Parse(e.Submit(e.SignIn(e.Authorize(l).String(), ann, ""), url.Values{"action": {"deny"}, "scope": {"patient/*.rs"}}))
	if back.Query().Get("error") != "access_denied" || back.Query().Get("code") != "" {
		t.Errorf("redirect %s", back)
	}
}
