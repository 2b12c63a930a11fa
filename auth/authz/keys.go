package authz

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// signingAlg is the algorithm of medbridge's own tokens: RS256, which
// every OpenID Connect relying party must accept for id_tokens.
const signingAlg = jose.RS256

// keyRecord is a signing key as stored (kind oauth.key). The newest key is
// the current one; older ones carry an expiry and stay published in the
// JWKS until the tokens they signed have expired.
type keyRecord struct {
	PKCS8   []byte    `json:"pkcs8"`
	Created time.Time `json:"created"`
}

// signingKey is a parsed keyRecord.
type signingKey struct {
	id      string
	created time.Time
	private *rsa.PrivateKey
}

func (k signingKey) public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: &k.private.PublicKey, KeyID: k.id, Algorithm: string(signingAlg), Use: "sig"}
}

// keyRing caches the store's signing keys. Every process reloads them at
// least every keyCacheTTL and when it meets a key ID it does not know, so
// a key rotated by one process is used and accepted by all of them soon.
type keyRing struct {
	rec       records
	now       func() time.Time
	retention time.Duration // how long a retired key stays published

	mu       sync.Mutex
	keys     []signingKey // newest first
	loadedAt time.Time
}

// keyCacheTTL bounds how long a process signs with a key another process
// has retired (still published, so its tokens stay valid).
const keyCacheTTL = 30 * time.Second

// load returns the keys, newest first, reloading them when the cache is
// older than maxAge. It creates the first key when the store has none.
func (kr *keyRing) load(ctx context.Context, maxAge time.Duration) ([]signingKey, error) {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	if kr.keys != nil && kr.now().Sub(kr.loadedAt) < maxAge {
		return kr.keys, nil
	}
	keys, err := kr.read(ctx)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		k, err := kr.create(ctx)
		if err != nil {
			return nil, err
		}
		keys = []signingKey{k}
	}
	kr.keys, kr.loadedAt = keys, kr.now()
	return keys, nil
}

// read returns the stored keys that have not expired on this server's
// clock, newest first.
func (kr *keyRing) read(ctx context.Context) ([]signingKey, error) {
	all, err := kr.rec.store.ListRecords(ctx, kindKey)
	if err != nil {
		return nil, err
	}
	var keys []signingKey
	for _, rec := range all {
		if !rec.Expires.IsZero() && !kr.now().Before(rec.Expires) {
			continue
		}
		var r keyRecord
		if err := json.Unmarshal(rec.Data, &r); err != nil {
			return nil, fmt.Errorf("authz: decode signing key %s: %w", rec.ID, err)
		}
		priv, err := x509.ParsePKCS8PrivateKey(r.PKCS8)
		if err != nil {
			return nil, fmt.Errorf("authz: parse signing key %s: %w", rec.ID, err)
		}
		rsaKey, ok := priv.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("authz: signing key %s is not an RSA key", rec.ID)
		}
		keys = append(keys, signingKey{id: rec.ID, created: r.Created, private: rsaKey})
	}
	sort.Slice(keys, func(i, j int) bool {
		if !keys[i].created.Equal(keys[j].created) {
			return keys[i].created.After(keys[j].created)
		}
		return keys[i].id > keys[j].id
	})
	return keys, nil
}

// create generates and stores a new key, which becomes the current one.
func (kr *keyRing) create(ctx context.Context) (signingKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return signingKey{}, fmt.Errorf("authz: generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return signingKey{}, fmt.Errorf("authz: encode signing key: %w", err)
	}
	thumb, err := (&jose.JSONWebKey{Key: &priv.PublicKey}).Thumbprint(crypto.SHA256)
	if err != nil {
		return signingKey{}, fmt.Errorf("authz: key thumbprint: %w", err)
	}
	k := signingKey{id: base64.RawURLEncoding.EncodeToString(thumb), created: kr.now().UTC(), private: priv}
	if err := kr.rec.put(ctx, kindKey, k.id, keyRecord{PKCS8: der, Created: k.created}, 0, time.Time{}); err != nil {
		return signingKey{}, fmt.Errorf("authz: store signing key: %w", err)
	}
	return k, nil
}

// rotate adds a new current key and gives every older key without one an
// expiry, after which no token it signed is still valid.
func (kr *keyRing) rotate(ctx context.Context) (string, error) {
	k, err := kr.create(ctx)
	if err != nil {
		return "", err
	}
	all, err := kr.rec.store.ListRecords(ctx, kindKey)
	if err != nil {
		return "", err
	}
	for _, r := range all {
		if r.ID == k.id || !r.Expires.IsZero() {
			continue
		}
		r.Expires = kr.now().Add(kr.retention)
		if err := kr.rec.store.PutRecord(ctx, r, r.Version); err != nil {
			return "", fmt.Errorf("authz: retire signing key %s: %w", r.ID, err)
		}
	}
	kr.mu.Lock()
	kr.keys = nil
	kr.mu.Unlock()
	return k.id, nil
}

// signer returns a signer with the current key.
func (kr *keyRing) signer(ctx context.Context) (jose.Signer, error) {
	keys, err := kr.load(ctx, keyCacheTTL)
	if err != nil {
		return nil, err
	}
	return jose.NewSigner(jose.SigningKey{Algorithm: signingAlg, Key: &jose.JSONWebKey{Key: keys[0].private, KeyID: keys[0].id}},
		(&jose.SignerOptions{}).WithType("JWT"))
}

// keySet returns the published keys (the JWKS).
func (kr *keyRing) keySet(ctx context.Context) (jose.JSONWebKeySet, error) {
	keys, err := kr.load(ctx, keyCacheTTL)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, len(keys))}
	for i, k := range keys {
		set.Keys[i] = k.public()
	}
	return set, nil
}

// errUnknownKey is returned for a token signed by no published key.
var errUnknownKey = errors.New("authz: token signed by an unknown key")

// VerifySignature implements oidc.KeySet with the published keys,
// reloading them once when the token names a key this process has not
// seen yet.
func (kr *keyRing) VerifySignature(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	if len(jws.Signatures) != 1 {
		return nil, errUnknownKey
	}
	kid := jws.Signatures[0].Header.KeyID
	for _, maxAge := range []time.Duration{keyCacheTTL, time.Second} {
		keys, err := kr.load(ctx, maxAge)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if k.id == kid {
				return jws.Verify(&k.private.PublicKey)
			}
		}
	}
	return nil, errUnknownKey
}
