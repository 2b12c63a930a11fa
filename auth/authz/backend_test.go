package authz_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/medbridge/medbridge/auth/authz"
	"github.com/medbridge/medbridge/auth/authz/authztest"
)

func TestBackendRS384WithJWKSURL(t *testing.T) {
	e := newEnv(t)
	k := authztest.NewRSAKey(t, "rsa-1")
	e.mux.HandleFunc("/client/jwks.json", func(w http.ResponseWriter, _ *http.Request) { w.Write(k.JWKS(t)) })
	id, _ := e.addClient(authz.ClientSpec{Name: "bulk", Type: authz.ClientBackend, JWKSURL: e.ts.URL + "/client/jwks.json"})
	tr := e.Backend(k, id, "system/Observation.rs patient/*.rs launch").MustOK(t)
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
	k := authztest.NewECKey(t, "ec-1")
	id, _ := e.addClient(authz.ClientSpec{Type: authz.ClientBackend, JWKS: k.JWKS(t)})
	e.Backend(k, id, "system/*.rs").MustOK(t)
}

// Only RS384 and ES384 are accepted: RS256 with the client's own RSA key
// and HS256 are refused.
func TestBackendAssertionWrongAlg(t *testing.T) {
	for _, tc := range []struct {
		alg jose.SignatureAlgorithm
		key func(*authztest.Key) any
	}{
		{jose.RS256, func(k *authztest.Key) any { return k.Priv }},
		{jose.RS512, func(k *authztest.Key) any { return k.Priv }},
		{jose.HS256, func(*authztest.Key) any { return []byte("0123456789abcdef0123456789abcdef") }},
	} {
		t.Run(string(tc.alg), func(t *testing.T) {
			e := newEnv(t)
			k := authztest.NewRSAKey(t, "rsa-1")
			id, _ := e.addClient(authz.ClientSpec{Type: authz.ClientBackend, JWKS: k.JWKS(t)})
			a := k.Sign(t, tc.alg, tc.key(k), id, e.Issuer+"/token", e.now().Add(time.Minute), "")
			e.AssertionToken(a, "system/*.rs").MustFail(t, http.StatusUnauthorized, "invalid_client")
		})
	}
}

func TestBackendAssertionReusedJTI(t *testing.T) {
	e := newEnv(t)
	k := authztest.NewRSAKey(t, "rsa-1")
	id, _ := e.addClient(authz.ClientSpec{Type: authz.ClientBackend, JWKS: k.JWKS(t)})
	exp := e.now().Add(2 * time.Minute)
	e.AssertionToken(k.Assertion(t, id, e.Issuer+"/token", exp, "jti-1"), "system/*.rs").MustOK(t)
	e.AssertionToken(k.Assertion(t, id, e.Issuer+"/token", exp, "jti-1"), "system/*.rs").MustFail(t, http.StatusUnauthorized, "invalid_client")
}

// The jti cache is in the store: another server process refuses it too.
func TestBackendAssertionReusedJTIOnAnotherServer(t *testing.T) {
	e := newEnv(t)
	k := authztest.NewRSAKey(t, "rsa-1")
	id, _ := e.addClient(authz.ClientSpec{Type: authz.ClientBackend, JWKS: k.JWKS(t)})
	a := k.Assertion(t, id, e.Issuer+"/token", e.now().Add(2*time.Minute), "jti-2")
	e.AssertionToken(a, "system/*.rs").MustOK(t)
	e.mux.Handle("/other/", http.StripPrefix("/other", e.newServer().Handler()))
	resp, _ := e.PostForm(e.ts.URL+"/other/auth/token", url.Values{
		"grant_type": {"client_credentials"}, "scope": {"system/*.rs"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a},
	})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("replay on a second server: %d", resp.StatusCode)
	}
}

func TestBackendAssertionExpired(t *testing.T) {
	e := newEnv(t)
	k := authztest.NewRSAKey(t, "rsa-1")
	id, _ := e.addClient(authz.ClientSpec{Type: authz.ClientBackend, JWKS: k.JWKS(t)})
	e.AssertionToken(k.Assertion(t, id, e.Issuer+"/token", e.now().Add(-time.Second), ""), "system/*.rs").MustFail(t, http.StatusUnauthorized, "invalid_client")
}

func TestBackendAssertionExpTooFarAhead(t *testing.T) {
	e := newEnv(t)
	k := authztest.NewRSAKey(t, "rsa-1")
	id, _ := e.addClient(authz.ClientSpec{Type: authz.ClientBackend, JWKS: k.JWKS(t)})
	e.AssertionToken(k.Assertion(t, id, e.Issuer+"/token", e.now().Add(10*time.Minute), ""), "system/*.rs").MustFail(t, http.StatusUnauthorized, "invalid_client")
}

func TestBackendAssertionWrongKey(t *testing.T) {
	e := newEnv(t)
	k := authztest.NewRSAKey(t, "rsa-1")
	id, _ := e.addClient(authz.ClientSpec{Type: authz.ClientBackend, JWKS: k.JWKS(t)})
	other := authztest.NewRSAKey(t, "rsa-1") // same kid, different key
	e.AssertionToken(other.Assertion(t, id, e.Issuer+"/token", e.now().Add(time.Minute), ""), "system/*.rs").MustFail(t, http.StatusUnauthorized, "invalid_client")
}

func TestBackendAssertionWrongAudience(t *testing.T) {
	e := newEnv(t)
	k := authztest.NewRSAKey(t, "rsa-1")
	id, _ := e.addClient(authz.ClientSpec{Type: authz.ClientBackend, JWKS: k.JWKS(t)})
	e.AssertionToken(k.Assertion(t, id, e.Issuer, e.now().Add(time.Minute), ""), "system/*.rs").MustFail(t, http.StatusUnauthorized, "invalid_client")
}

func TestBackendWithoutSystemScope(t *testing.T) {
	e := newEnv(t)
	k := authztest.NewRSAKey(t, "rsa-1")
	id, _ := e.addClient(authz.ClientSpec{Type: authz.ClientBackend, JWKS: k.JWKS(t)})
	e.Backend(k, id, "patient/*.rs user/*.rs").MustFail(t, http.StatusBadRequest, "invalid_scope")
}

// A public or confidential client cannot use client_credentials.
func TestClientCredentialsNotForApps(t *testing.T) {
	e := newEnv(t)
	id, secret := e.addClient(authz.ClientSpec{Type: authz.ClientConfidential, RedirectURIs: []string{"https://app.example/cb"}})
	e.TokenRequest(url.Values{"grant_type": {"client_credentials"}, "scope": {"system/*.rs"}}, authztest.BasicAuth(id, secret)).
		MustFail(t, http.StatusBadRequest, "unauthorized_client")
}
