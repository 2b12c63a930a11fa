package external

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// testAudience is the aud the test issuer's tokens carry by default.
const testAudience = "https://fhir.example/fhir"

// testIssuer is an in-process OpenID provider: it serves discovery and a
// JWKS holding the public half of its current signing key, and signs
// tokens with it.
type testIssuer struct {
	*httptest.Server
	jwksFetches atomic.Int32

	mu  sync.Mutex
	key jose.JSONWebKey // the current private signing key
}

// newTestIssuer starts a test issuer with the signing key "k1".
func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	iss := &testIssuer{key: newRSAKey(t, "k1")}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{
			"issuer":                                iss.URL,
			"jwks_uri":                              iss.URL + "/jwks",
			"authorization_endpoint":                iss.URL + "/authorize",
			"token_endpoint":                        iss.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		iss.jwksFetches.Add(1)
		iss.mu.Lock()
		pub := iss.key.Public()
		iss.mu.Unlock()
		writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}})
	})
	iss.Server = httptest.NewServer(mux)
	t.Cleanup(iss.Close)
	return iss
}

// newRSAKey returns a fresh RS256 private key named kid.
func newRSAKey(t *testing.T, kid string) jose.JSONWebKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: string(jose.RS256), Use: "sig"}
}

// rotate replaces the issuer's signing key (and the only key its JWKS
// publishes) with key.
func (iss *testIssuer) rotate(key jose.JSONWebKey) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.key = key
}

// claims returns the claims of a valid access token, changed by edit:
// a nil value deletes a claim.
func (iss *testIssuer) claims(edit map[string]any) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss":       iss.URL,
		"aud":       testAudience,
		"sub":       "user-7",
		"client_id": "growth-chart",
		"iat":       now.Unix(),
		"exp":       now.Add(5 * time.Minute).Unix(),
		"scope":     "openid fhirUser launch/patient patient/Observation.rs",
		"patient":   "123",
		"fhirUser":  "Practitioner/9",
	}
	for k, v := range edit {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// token returns a token with iss.claims(edit), signed with the current key.
func (iss *testIssuer) token(t *testing.T, edit map[string]any) string {
	t.Helper()
	iss.mu.Lock()
	key := iss.key
	iss.mu.Unlock()
	return sign(t, jose.RS256, key, iss.claims(edit))
}

// sign returns claims as a compact JWS signed with key, as an access
// token (typ at+jwt).
func sign(t *testing.T, alg jose.SignatureAlgorithm, key any, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
