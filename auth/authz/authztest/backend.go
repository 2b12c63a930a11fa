package authztest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/medbridge/medbridge/auth/authz"
)

// Key is a backend client's key pair.
type Key struct {
	KID  string
	Priv any // *rsa.PrivateKey or *ecdsa.PrivateKey
	Alg  jose.SignatureAlgorithm
}

// NewRSAKey generates an RS384 key.
func NewRSAKey(t testing.TB, kid string) *Key {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &Key{KID: kid, Priv: priv, Alg: jose.RS384}
}

// NewECKey generates an ES384 key.
func NewECKey(t testing.TB, kid string) *Key {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &Key{KID: kid, Priv: priv, Alg: jose.ES384}
}

func (k *Key) public() any {
	switch p := k.Priv.(type) {
	case *rsa.PrivateKey:
		return &p.PublicKey
	case *ecdsa.PrivateKey:
		return &p.PublicKey
	}
	return nil
}

// JWKS is the key's public JWK set, to register with the client.
func (k *Key) JWKS(t testing.TB) json.RawMessage {
	t.Helper()
	data, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.public(), KeyID: k.KID, Algorithm: string(k.Alg), Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Assertion signs a client assertion with k's algorithm; an empty jti
// gets a fresh one.
func (k *Key) Assertion(t testing.TB, clientID, aud string, exp time.Time, jti string) string {
	t.Helper()
	return k.Sign(t, k.Alg, k.Priv, clientID, aud, exp, jti)
}

// Sign signs a client assertion with any algorithm and key under k's key
// ID, for assertions the server must refuse.
func (k *Key) Sign(t testing.TB, alg jose.SignatureAlgorithm, key any, clientID, aud string, exp time.Time, jti string) string {
	t.Helper()
	if jti == "" {
		jti = rand.Text()
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: k.KID}}, (&jose.SignerOptions{}).WithType("JWT"))
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

// AddBackend registers a backend client with k's public key and returns
// its id.
func AddBackend(t testing.TB, admin *authz.Admin, k *Key) string {
	t.Helper()
	id, _ := AddClient(t, admin, authz.ClientSpec{Name: "backend", Type: authz.ClientBackend, JWKS: k.JWKS(t)})
	return id
}

// AssertionToken asks for a client_credentials token with a signed
// client assertion.
func (a *Agent) AssertionToken(assertion, scope string) *Token {
	a.T.Helper()
	return a.TokenRequest(url.Values{
		"grant_type": {"client_credentials"}, "scope": {scope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	})
}

// Backend asks for a client_credentials token as clientID with an
// assertion signed by k that expires in four minutes.
func (a *Agent) Backend(k *Key, clientID, scope string) *Token {
	a.T.Helper()
	return a.AssertionToken(k.Assertion(a.T, clientID, a.Issuer+"/token", a.now().Add(4*time.Minute), ""), scope)
}
