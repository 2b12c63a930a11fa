package authz_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/medbridge/medbridge/auth/authz"
)

// clientKey is a backend client's key pair.
type clientKey struct {
	kid  string
	priv any
	alg  jose.SignatureAlgorithm
}

func newRSAKey(t *testing.T, kid string) *clientKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &clientKey{kid: kid, priv: priv, alg: jose.RS384}
}

func newECKey(t *testing.T, kid string) *clientKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &clientKey{kid: kid, priv: priv, alg: jose.ES384}
}

func (k *clientKey) public() any {
	switch p := k.priv.(type) {
	case *rsa.PrivateKey:
		return &p.PublicKey
	case *ecdsa.PrivateKey:
		return &p.PublicKey
	}
	return nil
}

// jwks is the client's public JWK set.
func (k *clientKey) jwks(t *testing.T) json.RawMessage {
	t.Helper()
	data, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// assertion signs a client assertion with k's algorithm; an empty jti
// gets a fresh one.
func (k *clientKey) assertion(t *testing.T, clientID, aud string, exp time.Time, jti string) string {
	t.Helper()
	return k.sign(t, k.alg, k.priv, clientID, aud, exp, jti)
}

func (k *clientKey) sign(t *testing.T, alg jose.SignatureAlgorithm, key any, clientID, aud string, exp time.Time, jti string) string {
	t.Helper()
	if jti == "" {
		jti = rand.Text()
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: k.kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer: clientID, Subject: clientID, Audience: jwt.Audience{aud}, Expiry: jwt.NewNumericDate(exp), ID: jti,
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) assertionToken(assertion, scope string) tokenResult {
	e.t.Helper()
	return e.token(url.Values{
		"grant_type": {"client_credentials"}, "scope": {scope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	})
}

func TestBackendRS384WithJWKSURL(t *testing.T) {
	e := newEnv(t)
	k := newRSAKey(t, "rsa-1")
	e.mux.HandleFunc("/client/jwks.json", func(w http.ResponseWriter, _ *http.Request) { w.Write(k.jwks(t)) })
	id, _ := e.addClient(authz.ClientSpec{Name: "bulk", Type: authz.ClientBackend, JWKSURL: e.ts.URL + "/client/jwks.json"})
	tr := e.backendToken(k, id, "system/Observation.rs patient/*.rs launch").mustOK(t)
	if tr.Scope != "system/Observation.rs" || tr.RefreshToken != "" || tr.IDToken != "" || tr.NeedPatientBanner != nil {
		t.Errorf("scope %q refresh %q id_token %q banner %v", tr.Scope, tr.RefreshToken, tr.IDToken, tr.NeedPatientBanner)
	}
	c, err := e.srv.Verifier().Verify(t.Context(), tr.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientID != id || c.Subject != id || c.Scope != "system/Observation.rs" || c.FHIRUser != "" {
		t.Errorf("claims %+v", c)
	}
}

func TestBackendES384WithRegisteredJWKS(t *testing.T) {
	e := newEnv(t)
	k := newECKey(t, "ec-1")
	id, _ := e.addClient(authz.ClientSpec{Type: authz.ClientBackend, JWKS: k.jwks(t)})
	e.backendToken(k, id, "system/*.rs").mustOK(t)
}

// Only RS384 and ES384 are accepted: RS256 with the client's own RSA key
// and HS256 are refused.
func TestBackendAssertionWrongAlg(t *testing.T) {
	for _, tc := range []struct {
		alg jose.SignatureAlgorithm
		key func(*clientKey) any
	}{
		{jose.RS256, func(k *clientKey) any { return k.priv }},
		{jose.RS512, func(k *clientKey) any { return k.priv }},
		{jose.HS256, func(*clientKey) any { return []byte("0123456789abcdef0123456789abcdef") }},
	} {
		t.Run(string(tc.alg), func(t *testing.T) {
			e := newEnv(t)
			k := newRSAKey(t, "rsa-1")
			id, _ := e.addClient(authz.ClientSpec{Type: authz.ClientBackend, JWKS: k.jwks(t)})
			a := k.sign(t, tc.alg, tc.key(k), id, e.issuer+"/token", e.now().Add(time.Minute), "")
			e.assertionToken(a, "system/*.rs").mustFail(t, http.StatusUnauthorized, "invalid_client")
		})
	}
}

func TestBackendAssertionReusedJTI(t *testing.T) {
	e := newEnv(t)
	k := newRSAKey(t, "rsa-1")
	id, _ := e.addClient(authz.ClientSpec{Type: authz.ClientBackend, JWKS: k.jwks(t)})
	exp := e.now().Add(2 * time.Minute)
	e.assertionToken(k.assertion(t, id, e.issuer+"/token", exp, "jti-1"), "system/*.rs").mustOK(t)
	e.assertionToken(k.assertion(t, id, e.issuer+"/token", exp, "jti-1"), "system/*.rs").mustFail(t, http.StatusUnauthorized, "invalid_client")
}

// The jti cache is in the store: another server process refuses it too.
func TestBackendAssertionReusedJTIOnAnotherServer(t *testing.T) {
	e := newEnv(t)
	k := newRSAKey(t, "rsa-1")
	id, _ := e.addClient(authz.ClientSpec{Type: authz.ClientBackend, JWKS: k.jwks(t)})
	a := k.assertion(t, id, e.issuer+"/token", e.now().Add(2*time.Minute), "jti-2")
	e.assertionToken(a, "system/*.rs").mustOK(t)
	e.mux.Handle("/other/", http.StripPrefix("/other", e.newServer().Handler()))
	resp, _ := e.postForm(e.ts.URL+"/other/auth/token", url.Values{
		"grant_type": {"client_credentials"}, "scope": {"system/*.rs"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a},
	})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("replay on a second server: %d", resp.StatusCode)
	}
}

func TestBackendAssertionExpired(t *testing.T) {
	e := newEnv(t)
	k := newRSAKey(t, "rsa-1")
	id, _ := e.addClient(authz.ClientSpec{Type: authz.ClientBackend, JWKS: k.jwks(t)})
	e.assertionToken(k.assertion(t, id, e.issuer+"/token", e.now().Add(-time.Second), ""), "system/*.rs").mustFail(t, http.StatusUnauthorized, "invalid_client")
}

func TestBackendAssertionExpTooFarAhead(t *testing.T) {
	e := newEnv(t)
	k := newRSAKey(t, "rsa-1")
	id, _ := e.addClient(authz.ClientSpec{Type: authz.ClientBackend, JWKS: k.jwks(t)})
	e.assertionToken(k.assertion(t, id, e.issuer+"/token", e.now().Add(10*time.Minute), ""), "system/*.rs").mustFail(t, http.StatusUnauthorized, "invalid_client")
}

func TestBackendAssertionWrongKey(t *testing.T) {
	e := newEnv(t)
	k := newRSAKey(t, "rsa-1")
	id, _ := e.addClient(authz.ClientSpec{Type: authz.ClientBackend, JWKS: k.jwks(t)})
	other := newRSAKey(t, "rsa-1") // same kid, different key
	e.assertionToken(other.assertion(t, id, e.issuer+"/token", e.now().Add(time.Minute), ""), "system/*.rs").mustFail(t, http.StatusUnauthorized, "invalid_client")
}

func TestBackendAssertionWrongAudience(t *testing.T) {
	e := newEnv(t)
	k := newRSAKey(t, "rsa-1")
	id, _ := e.addClient(authz.ClientSpec{Type: authz.ClientBackend, JWKS: k.jwks(t)})
	e.assertionToken(k.assertion(t, id, e.issuer, e.now().Add(time.Minute), ""), "system/*.rs").mustFail(t, http.StatusUnauthorized, "invalid_client")
}

func TestBackendWithoutSystemScope(t *testing.T) {
	e := newEnv(t)
	k := newRSAKey(t, "rsa-1")
	id, _ := e.addClient(authz.ClientSpec{Type: authz.ClientBackend, JWKS: k.jwks(t)})
	e.backendToken(k, id, "patient/*.rs user/*.rs").mustFail(t, http.StatusBadRequest, "invalid_scope")
}

// A public or confidential client cannot use client_credentials.
func TestClientCredentialsNotForApps(t *testing.T) {
	e := newEnv(t)
	id, secret := e.addClient(authz.ClientSpec{Type: authz.ClientConfidential, RedirectURIs: []string{"https://app.example/cb"}})
	e.token(url.Values{"grant_type": {"client_credentials"}, "scope": {"system/*.rs"}}, basicAuth(id, secret)).
		mustFail(t, http.StatusBadRequest, "unauthorized_client")
}
