package external

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/medbridge/medbridge/auth"
	"github.com/medbridge/medbridge/auth/scope"
)

// newVerifier returns a Verifier of iss's tokens configured by cfg, whose
// Issuer and (when empty) Audiences are filled in.
func newVerifier(t *testing.T, iss *testIssuer, cfg Config) *Verifier {
	t.Helper()
	cfg.Issuer = iss.URL
	if cfg.Audiences == nil {
		cfg.Audiences = []string{testAudience}
	}
	v, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// mustVerify verifies token and fails the test on an error.
func mustVerify(t *testing.T, v *Verifier, token string) *auth.Principal {
	t.Helper()
	p, err := v.Verify(t.Context(), token)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return p
}

// checkPrincipal compares got with want, scopes by their canonical text.
func checkPrincipal(t *testing.T, got *auth.Principal, want auth.Principal, scopes string) {
	t.Helper()
	wantScopes, err := scope.Parse(scopes)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Scopes.Equal(wantScopes) {
		t.Errorf("scopes = %q, want %q", got.Scopes, wantScopes)
	}
	type ids struct{ ClientID, Subject, FHIRUser, Patient, Encounter string }
	g := ids{got.ClientID, got.Subject, got.FHIRUser, got.Patient, got.Encounter}
	w := ids{want.ClientID, want.Subject, want.FHIRUser, want.Patient, want.Encounter}
	if g != w {
		t.Errorf("principal = %+v, want %+v", g, w)
	}
}

func TestVerifyValid(t *testing.T) {
	iss := newTestIssuer(t)
	v := newVerifier(t, iss, Config{})
	p := mustVerify(t, v, iss.token(t, nil))
	checkPrincipal(t, p, auth.Principal{
		ClientID: "growth-chart",
		Subject:  "user-7",
		FHIRUser: "Practitioner/9",
		Patient:  "123",
	}, "openid fhirUser launch/patient patient/Observation.rs")
}

func TestVerifyArrayScopeClaim(t *testing.T) {
	iss := newTestIssuer(t)
	v := newVerifier(t, iss, Config{})
	p := mustVerify(t, v, iss.token(t, map[string]any{
		"scope": []string{"openid", "patient/Observation.read", "patient/Patient.rs"},
	}))
	if want := "openid patient/Observation.read patient/Patient.rs"; p.Scopes.String() != want {
		t.Errorf("scopes = %q, want %q", p.Scopes, want)
	}
}

func TestVerifyCustomClaimNames(t *testing.T) {
	iss := newTestIssuer(t)
	v := newVerifier(t, iss, Config{
		SubjectClaim:   "oid",
		ClientIDClaim:  "appid",
		ScopeClaim:     "scp",
		PatientClaim:   "patient_id",
		EncounterClaim: "encounter_id",
		FHIRUserClaim:  "fhir_user",
	})
	p := mustVerify(t, v, iss.token(t, map[string]any{
		"oid":          "object-1",
		"appid":        "azure-app",
		"scp":          []string{"user/Observation.rs"},
		"patient_id":   "Patient/55",
		"encounter_id": "Encounter/e1",
		"fhir_user":    "https://fhir.example/fhir/Practitioner/3",
	}))
	checkPrincipal(t, p, auth.Principal{
		ClientID:  "azure-app",
		Subject:   "object-1",
		FHIRUser:  "https://fhir.example/fhir/Practitioner/3",
		Patient:   "55",
		Encounter: "e1",
	}, "user/Observation.rs")
}

func TestVerifyClientIDFallsBackToAZP(t *testing.T) {
	iss := newTestIssuer(t)
	v := newVerifier(t, iss, Config{})
	p := mustVerify(t, v, iss.token(t, map[string]any{"client_id": nil, "azp": "portal"}))
	if p.ClientID != "portal" {
		t.Errorf("ClientID = %q, want portal", p.ClientID)
	}
}

func TestVerifyScopeMap(t *testing.T) {
	iss := newTestIssuer(t)
	v := newVerifier(t, iss, Config{ScopeMap: map[string]string{
		"roles=clinician":              "user/*.cruds",
		"roles=auditor":                "user/AuditEvent.rs",
		"groups=ward 5":                "user/Encounter.rs",
		"scope=patient.Observation.rd": "patient/Observation.rs",
	}})
	tests := []struct {
		name   string
		claims map[string]any
		want   string
	}{
		{"array claim", map[string]any{"scope": "openid", "roles": []string{"clinician", "nurse"}}, "openid user/*.cruds"},
		{"string claim", map[string]any{"scope": nil, "roles": "auditor"}, "user/AuditEvent.rs"},
		{"value with a space", map[string]any{"scope": nil, "groups": []string{"ward 5"}}, "user/Encounter.rs"},
		{"word of the scope claim", map[string]any{"scope": "openid patient.Observation.rd"}, "openid patient.Observation.rd patient/Observation.rs"},
		{"no match", map[string]any{"scope": nil, "roles": []string{"porter"}, "groups": "ward 6"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustVerify(t, v, iss.token(t, tt.claims))
			if p.Scopes.String() != tt.want {
				t.Errorf("scopes = %q, want %q", p.Scopes, tt.want)
			}
		})
	}
}

func TestVerifySeveralAudiences(t *testing.T) {
	iss := newTestIssuer(t)
	v := newVerifier(t, iss, Config{Audiences: []string{testAudience, "api://medbridge"}})
	mustVerify(t, v, iss.token(t, map[string]any{"aud": []string{"api://other", "api://medbridge"}}))
}

func TestVerifyClockSkew(t *testing.T) {
	iss := newTestIssuer(t)
	v := newVerifier(t, iss, Config{ClockSkew: time.Minute})
	now := time.Now()
	mustVerify(t, v, iss.token(t, map[string]any{"exp": now.Add(-30 * time.Second).Unix()}))
	mustVerify(t, v, iss.token(t, map[string]any{"nbf": now.Add(30 * time.Second).Unix()}))
}

// TestVerifyRefused checks that every kind of bad token is refused with
// auth.ErrInvalidToken.
func TestVerifyRefused(t *testing.T) {
	iss := newTestIssuer(t)
	v := newVerifier(t, iss, Config{ClockSkew: time.Minute})
	now := time.Now()
	iss.mu.Lock()
	key := iss.key
	iss.mu.Unlock()

	publicDER, err := x509.MarshalPKIXPublicKey(key.Public().Key)
	if err != nil {
		t.Fatal(err)
	}
	publicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: publicDER})
	strangerKey := newRSAKey(t, "k1")

	tests := []struct {
		name  string
		token string
		want  string // in the error
	}{
		{"expired", iss.token(t, map[string]any{"exp": now.Add(-2 * time.Minute).Unix()}), "expired"},
		{"no exp", iss.token(t, map[string]any{"exp": nil}), "no exp"},
		{"not yet valid", iss.token(t, map[string]any{"nbf": now.Add(2 * time.Minute).Unix()}), "not valid before"},
		{"wrong audience", iss.token(t, map[string]any{"aud": "https://other.example/fhir"}), "audience"},
		{"no audience", iss.token(t, map[string]any{"aud": nil}), "audience"},
		{"wrong issuer", iss.token(t, map[string]any{"iss": "https://evil.example"}), "different provider"},
		{"unknown key, same kid", sign(t, jose.RS256, strangerKey, iss.claims(nil)), "signature"},
		{"unknown key, unknown kid", sign(t, jose.RS256, newRSAKey(t, "k9"), iss.claims(nil)), "signature"},
		{"alg none", unsigned(t, iss.claims(nil)), "malformed jwt"},
		{"HS256 with the public key PEM as secret", sign(t, jose.HS256, publicPEM, iss.claims(nil)), "malformed jwt"},
		{"HS256 with the public key DER as secret", sign(t, jose.HS256, publicDER, iss.claims(nil)), "malformed jwt"},
		{"tampered payload", tamper(t, iss.token(t, nil)), "signature"},
		{"not a JWT", "opaque-token-123", "malformed jwt"},
		{"malformed scope", iss.token(t, map[string]any{"scope": "patient/Observation.xyz"}), "malformed scope"},
		{"scope claim not strings", iss.token(t, map[string]any{"scope": []any{"openid", 7}}), "not a string"},
		{"patient claim not a string", iss.token(t, map[string]any{"patient": 123}), "not a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Verify(t.Context(), tt.token)
			if !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("Verify = %+v, %v; want an error wrapping ErrInvalidToken", p, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
	t.Run("malformed scope is a SyntaxError", func(t *testing.T) {
		_, err := v.Verify(t.Context(), iss.token(t, map[string]any{"scope": "patient/Observation.xyz"}))
		if se := (*scope.SyntaxError)(nil); !errors.As(err, &se) {
			t.Errorf("error %v does not wrap a *scope.SyntaxError", err)
		}
	})
}

// unsigned returns claims as an unsecured JWT (alg none).
func unsigned(t *testing.T, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT","kid":"k1"}`)) + "." + enc(payload) + "."
}

// tamper returns token with its payload's sub changed and the signature
// kept.
func tamper(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	claims["sub"] = "admin"
	if payload, err = json.Marshal(claims); err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

func TestVerifyKeyRotation(t *testing.T) {
	iss := newTestIssuer(t)
	v := newVerifier(t, iss, Config{})
	old := iss.token(t, nil)
	mustVerify(t, v, old)
	mustVerify(t, v, iss.token(t, nil))
	if n := iss.jwksFetches.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times for two tokens with one key, want once (cached)", n)
	}

	iss.rotate(newRSAKey(t, "k2"))
	p := mustVerify(t, v, iss.token(t, map[string]any{"sub": "after-rotation"}))
	if p.Subject != "after-rotation" {
		t.Errorf("Subject = %q", p.Subject)
	}
	if n := iss.jwksFetches.Load(); n != 2 {
		t.Errorf("JWKS fetched %d times after rotation, want twice", n)
	}
	if _, err := v.Verify(t.Context(), old); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("token signed with the retired key: err = %v, want ErrInvalidToken", err)
	}
}

func TestNewProviderDown(t *testing.T) {
	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		_, err := New(t.Context(), Config{Issuer: url, Audiences: []string{testAudience}})
		checkDiscoveryError(t, err, url, true, "the OpenID provider at "+url+" could not be reached")
	})
	t.Run("answers 503", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
		}))
		defer srv.Close()
		_, err := New(t.Context(), Config{Issuer: srv.URL, Audiences: []string{testAudience}})
		checkDiscoveryError(t, err, srv.URL, false, "the OpenID provider at "+srv.URL+" answered /.well-known/openid-configuration with 503 Service Unavailable")
	})
	t.Run("another issuer", func(t *testing.T) {
		iss := newTestIssuer(t)
		_, err := New(t.Context(), Config{Issuer: iss.URL + "/realms/x", Audiences: []string{testAudience}})
		checkDiscoveryError(t, err, iss.URL+"/realms/x", false, "answered /.well-known/openid-configuration with 404")
	})
	t.Run("no answer before the deadline", func(t *testing.T) {
		block := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
		defer srv.Close()
		defer close(block)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err := New(ctx, Config{Issuer: srv.URL, Audiences: []string{testAudience}})
		checkDiscoveryError(t, err, srv.URL, true, "could not be reached")
	})
}

// checkDiscoveryError checks that err is a *DiscoveryError about issuer
// whose text holds want.
func checkDiscoveryError(t *testing.T, err error, issuer string, unreachable bool, want string) {
	t.Helper()
	var de *DiscoveryError
	if !errors.As(err, &de) {
		t.Fatalf("New: err = %v, want a *DiscoveryError", err)
	}
	if de.Issuer != issuer || de.Unreachable != unreachable {
		t.Errorf("DiscoveryError{Issuer: %q, Unreachable: %v}, want %q, %v", de.Issuer, de.Unreachable, issuer, unreachable)
	}
	if errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("discovery error %v wraps ErrInvalidToken", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

func TestNewBadConfig(t *testing.T) {
	iss := newTestIssuer(t)
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no issuer", Config{Audiences: []string{testAudience}}, "issuer URL is required"},
		{"no audience", Config{Issuer: iss.URL}, "audience is required"},
		{"empty audience", Config{Issuer: iss.URL, Audiences: []string{""}}, "audience is required"},
		{"HS256", Config{Issuer: iss.URL, Audiences: []string{testAudience}, SigningAlgs: []string{"HS256"}}, `"HS256" is not accepted`},
		{"none", Config{Issuer: iss.URL, Audiences: []string{testAudience}, SigningAlgs: []string{"none"}}, `"none" is not accepted`},
		{"negative skew", Config{Issuer: iss.URL, Audiences: []string{testAudience}, ClockSkew: -time.Second}, "negative clock skew"},
		{"scope map key", Config{Issuer: iss.URL, Audiences: []string{testAudience}, ScopeMap: map[string]string{"clinician": "user/*.rs"}}, "not claim=value"},
		{"scope map scope", Config{Issuer: iss.URL, Audiences: []string{testAudience}, ScopeMap: map[string]string{"roles=x": "user/*.xyz"}}, "malformed scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(t.Context(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: err = %v, want one saying %q", err, tt.want)
			}
			if de := (*DiscoveryError)(nil); errors.As(err, &de) {
				t.Errorf("configuration error %v is a DiscoveryError", err)
			}
		})
	}
}

func TestVerifySigningAlgsConfigured(t *testing.T) {
	iss := newTestIssuer(t)
	v := newVerifier(t, iss, Config{SigningAlgs: []string{"ES256"}})
	_, err := v.Verify(t.Context(), iss.token(t, nil))
	if !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("RS256 token with only ES256 accepted: err = %v, want ErrInvalidToken", err)
	}
}
