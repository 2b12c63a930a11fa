package main

import (
	"cmp"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/medbridge/medbridge/auth/authz/authztest"
)

// smartClientDir holds the Node apps built on fhirclient, SMART's official
// JavaScript client; CI installs their node_modules with npm ci.
const smartClientDir = "../../test/smart-client"

// launchResult is what test/smart-client's apps print after a launch.
type launchResult struct {
	Patient         string `json:"patient"`
	PatientResource string `json:"patient_resource"`
	FHIRUser        string `json:"fhir_user"`
	IDTokenFHIRUser string `json:"id_token_fhir_user"`
	Token           struct {
		Scope             string   `json:"scope"`
		Patient           string   `json:"patient"`
		FHIRUser          string   `json:"fhirUser"`
		NeedPatientBanner *bool    `json:"need_patient_banner"`
		ExpiresIn         *float64 `json:"expires_in"`
		HasRefreshToken   bool     `json:"has_refresh_token"`
		HasIDToken        bool     `json:"has_id_token"`
	} `json:"token"`
	Observations []struct {
		ID      string `json:"id"`
		Subject string `json:"subject"`
	} `json:"observations"`
	Refreshed                bool     `json:"refreshed"`
	ObservationsAfterRefresh *int     `json:"observations_after_refresh"`
	Pages                    []string `json:"pages"`
	Browser                  string   `json:"browser"`
}

// smartWorld is a medbridge serving with --auth smart, two patients with
// their Observations, a clinician, a patient user, a public app and an
// EHR (a backend client registered for EHR launch).
type smartWorld struct {
	p             *process
	dataDir, root string
	agent         *authztest.Agent
	ehrToken      string // the EHR's system/*.cruds client_credentials token
	app           string // the public app's client_id
	redirects     map[string]string
	// ann and bob are Patient ids; their Observations' ids.
	ann, bob       string
	annObs, bobObs []string
}

const smartPassword = "correct horse battery"

// cli runs a management command of the binary on the world's store.
func (w *smartWorld) cli(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(binary, append(args, "--data-dir", w.dataDir)...)
	cmd.Env = append(os.Environ(), "MEDBRIDGE_PASSWORD="+smartPassword)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("medbridge %s: %v\n%s", strings.Join(args, " "), err, stderrOf(err))
	}
	return out
}

func stderrOf(err error) []byte {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.Stderr
	}
	return nil
}

func (w *smartWorld) addClient(t *testing.T, args ...string) string {
	t.Helper()
	var reg struct {
		ClientID string `json:"client_id"`
	}
	if out := w.cli(t, append([]string{"clients", "add"}, args...)...); json.Unmarshal(out, &reg) != nil || reg.ClientID == "" {
		t.Fatalf("clients add printed %s", out)
	}
	return reg.ClientID
}

// create posts a resource with the EHR's token and returns its id.
func (w *smartWorld) create(t *testing.T, typ, body string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, w.p.base+"/"+typ, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+w.ehrToken)
	req.Header.Set("Content-Type", "application/fhir+json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r struct{ ID string }
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil || res.StatusCode != http.StatusCreated || r.ID == "" {
		t.Fatalf("POST %s: %d %v", typ, res.StatusCode, err)
	}
	return r.ID
}

// freeRedirect reserves nothing: it returns a loopback URL on a port that
// was free a moment ago, for an app that will listen there.
func freeRedirect(t *testing.T, path string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "http://" + ln.Addr().String() + path
}

// needSmartClient fails unless Node and test/smart-client's packages are
// there: the fhirclient tests are required, not optional.
func needSmartClient(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not on PATH: the SMART client tests run fhirclient in Node.js (20 or later)")
	}
	if _, err := os.Stat(filepath.Join(smartClientDir, "node_modules", "fhirclient", "package.json")); err != nil {
		t.Fatal("test/smart-client/node_modules is missing: run `npm ci --prefix test/smart-client` (CI's .ci/run does)")
	}
}

func newSmartWorld(t *testing.T) *smartWorld {
	t.Helper()
	w := &smartWorld{dataDir: t.TempDir(), redirects: map[string]string{}}
	w.p = start(t, nil, "--data-dir", w.dataDir, "--auth", "smart")
	w.root = strings.TrimSuffix(w.p.base, "/fhir")
	w.agent = authztest.New(t, w.root+"/auth", w.p.base)

	// The EHR: a backend client with testdata/smart's demo key, allowed
	// to create EHR launches; its system token also seeds the data.
	ehr := w.addClient(t, "--type", "backend", "--name", "EHR", "--ehr-launch", "--jwks-file", "../../testdata/smart/backend.jwks.json")
	pemBytes, err := os.ReadFile("../../testdata/smart/backend-private.pem")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	w.ehrToken = w.agent.Backend(&authztest.Key{KID: "demo-1", Priv: priv, Alg: jose.RS384}, ehr, "system/*.cruds").MustOK(t).AccessToken

	w.ann = w.create(t, "Patient", `{"resourceType":"Patient","name":[{"family":"Smith","given":["Ann"]}],"gender":"female","birthDate":"1970-01-01"}`)
	w.bob = w.create(t, "Patient", `{"resourceType":"Patient","name":[{"family":"Jones","given":["Bob"]}],"gender":"male","birthDate":"1980-02-02"}`)
	obs := func(patient string, bpm int) string {
		return w.create(t, "Observation", fmt.Sprintf(`{"resourceType":"Observation","status":"final",
			"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
			"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},
			"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2026-01-0%dT08:00:00Z",
			"valueQuantity":{"value":%d,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`, patient, bpm%9+1, bpm))
	}
	for _, bpm := range []int{61, 72, 83} {
		w.annObs = append(w.annObs, obs(w.ann, bpm))
	}
	for _, bpm := range []int{94, 55} {
		w.bobObs = append(w.bobObs, obs(w.bob, bpm))
	}

	w.cli(t, "users", "add", "--username", "dr.lee", "--fhir-user", "Practitioner/lee", "--name", "Dr Lee")
	w.cli(t, "users", "add", "--username", "ann", "--fhir-user", "Patient/"+w.ann, "--name", "Ann Smith")
	// One public app, one redirect URI per run: each run listens on its own.
	args := []string{"--type", "public", "--name", "Heart Rate App"}
	for name, path := range map[string]string{"standalone": "/callback", "ehr": "/callback", "browser": "/callback.html"} {
		w.redirects[name] = freeRedirect(t, path)
		args = append(args, "--redirect-uri", w.redirects[name])
	}
	w.app = w.addClient(t, args...)
	return w
}

// runApp runs one of test/smart-client's scripts and decodes what it prints.
func (w *smartWorld) runApp(t *testing.T, script, redirect, user string, extra ...string) launchResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	args := append([]string{script, "--iss", w.p.base, "--client-id", w.app, "--redirect-uri", redirect, "--username", user}, extra...)
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = smartClientDir
	cmd.Env = append(os.Environ(), "SMART_PASSWORD="+smartPassword)
	began := time.Now()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s\nserver log:\n%s", strings.Join(args, " "), err, stderrOf(err), w.p.log())
	}
	t.Logf("node %s: %v", script, time.Since(began).Round(time.Millisecond))
	var r launchResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("node %s printed %q: %v", script, out, err)
	}
	return r
}

// checkPatientData: the app saw exactly the launched patient's record and
// Observations, none of the other patient's.
func checkPatientData(t *testing.T, r launchResult, patient string, want []string) {
	t.Helper()
	if r.Patient != patient || r.Token.Patient != patient || r.PatientResource != "Patient/"+patient {
		t.Errorf("patient in context %q, token patient %q, read %q; want %s", r.Patient, r.Token.Patient, r.PatientResource, patient)
	}
	var got []string
	for _, o := range r.Observations {
		got = append(got, o.ID)
		if o.Subject != "Patient/"+patient {
			t.Errorf("Observation/%s of %s reached the app of Patient/%s", o.ID, o.Subject, patient)
		}
	}
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("Observations %v, want exactly %v", got, want)
	}
	if r.Token.ExpiresIn == nil || *r.Token.ExpiresIn <= 0 || !r.Token.HasIDToken {
		t.Errorf("token response: expires_in %v, id_token %v", r.Token.ExpiresIn, r.Token.HasIDToken)
	}
}

func checkScopes(t *testing.T, granted string, want ...string) {
	t.Helper()
	have := strings.Fields(granted)
	for _, s := range want {
		if !slices.Contains(have, s) {
			t.Errorf("granted scope %q lacks %s", granted, s)
		}
	}
}

// TestSmartClient launches fhirclient apps against the real binary: a
// clinician's standalone launch with the patient picker and a refresh, an
// EHR launch created at POST /auth/launch, and (when Chromium is there) a
// patient's standalone launch in headless Chromium with fhirclient's
// browser build, which decodes the id_token with atob. Each app reads its
// patient and Observations through the FHIR API with the token it got, and
// must see exactly that patient's.
func TestSmartClient(t *testing.T) {
	needSmartClient(t)
	w := newSmartWorld(t)

	t.Run("standalone", func(t *testing.T) {
		scopes := []string{"launch/patient", "openid", "fhirUser", "patient/*.rs", "offline_access"}
		r := w.runApp(t, "launch.js", w.redirects["standalone"], "dr.lee", "--patient", w.ann, "--scope", strings.Join(scopes, " "))
		checkPatientData(t, r, w.ann, w.annObs)
		checkScopes(t, r.Token.Scope, scopes...)
		if !slices.Equal(r.Pages, []string{"/auth/login", "/auth/picker", "/auth/consent"}) {
			t.Errorf("pages %v, want login, picker, consent", r.Pages)
		}
		if r.Token.NeedPatientBanner == nil || !*r.Token.NeedPatientBanner {
			t.Errorf("need_patient_banner %v, want true for a standalone launch", r.Token.NeedPatientBanner)
		}
		if r.FHIRUser != "Practitioner/lee" || r.Token.FHIRUser != "Practitioner/lee" {
			t.Errorf("fhirUser from the id_token %q, token response %q", r.FHIRUser, r.Token.FHIRUser)
		}
		if !r.Token.HasRefreshToken || !r.Refreshed || r.ObservationsAfterRefresh == nil || *r.ObservationsAfterRefresh != len(w.annObs) {
			t.Errorf("refresh: token %v, refreshed %v, Observations after %v", r.Token.HasRefreshToken, r.Refreshed, r.ObservationsAfterRefresh)
		}
	})

	t.Run("ehr", func(t *testing.T) {
		launch := w.agent.CreateLaunch(w.ehrToken, fmt.Sprintf(`{"patient":"Patient/%s","fhirUser":"Practitioner/lee"}`, w.bob), http.StatusCreated)
		scopes := []string{"launch/patient", "openid", "fhirUser", "patient/Patient.rs", "patient/Observation.rs"}
		r := w.runApp(t, "launch.js", w.redirects["ehr"], "dr.lee", "--launch", launch, "--scope", strings.Join(scopes, " "))
		checkPatientData(t, r, w.bob, w.bobObs)
		checkScopes(t, r.Token.Scope, scopes...)
		if !slices.Equal(r.Pages, []string{"/auth/login", "/auth/consent"}) {
			t.Errorf("pages %v, want login and consent (no picker in an EHR launch)", r.Pages)
		}
		if r.Token.NeedPatientBanner == nil || *r.Token.NeedPatientBanner {
			t.Errorf("need_patient_banner %v, want false: the EHR shows the patient", r.Token.NeedPatientBanner)
		}
		if r.Token.HasRefreshToken || r.Refreshed {
			t.Errorf("refresh token without offline_access or online_access")
		}
	})

	t.Run("browser", func(t *testing.T) {
		chromium := cmp.Or(os.Getenv("CHROMIUM"), "/usr/bin/chromium")
		if _, err := os.Stat(chromium); err != nil {
			t.Skipf("no Chromium at %s (CI installs Debian's chromium when it can): %v", chromium, err)
		}
		scopes := []string{"launch/patient", "openid", "fhirUser", "patient/*.rs"}
		r := w.runApp(t, "browser.js", w.redirects["browser"], "ann", "--scope", strings.Join(scopes, " "))
		t.Logf("%s", r.Browser)
		checkPatientData(t, r, w.ann, w.annObs)
		checkScopes(t, r.Token.Scope, scopes...)
		if !slices.Equal(r.Pages, []string{"/auth/login", "/auth/consent"}) {
			t.Errorf("pages %v, want login and consent (a patient user picks no one)", r.Pages)
		}
		want := "Patient/" + w.ann
		if r.FHIRUser != want || !strings.HasSuffix(r.IDTokenFHIRUser, "/"+want) {
			t.Errorf("getFhirUser() %q, getIdToken().fhirUser %q in the browser; want %s", r.FHIRUser, r.IDTokenFHIRUser, want)
		}
	})
}
