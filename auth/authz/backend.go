package authz

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/crypto/bcrypt"
)

// Client assertion limits (SMART Backend Services): exp at most five
// minutes ahead, with assertionLeeway for clocks that differ a little.
const (
	maxAssertionLifetime = 5 * time.Minute
	assertionLeeway      = 30 * time.Second
)

// VerifyClient authenticates the client of a token, revocation or
// introspection request: backend clients with a client assertion
// (private_key_jwt), confidential ones with their secret over HTTP Basic
// (client_secret_basic), public ones by client_id alone.
func (s *Server) VerifyClient(ctx context.Context, r *op.Request[op.ClientCredentials]) (op.Client, error) {
	c, err := s.authenticateClient(ctx, r.Header, r.Data)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (s *Server) authenticateClient(ctx context.Context, h http.Header, cc *op.ClientCredentials) (*client, error) {
	if cc.ClientAssertion != "" {
		c, err := s.verifyClientAssertion(ctx, cc.ClientAssertion)
		if err != nil {
			return nil, invalidClient("client assertion refused: %v", err)
		}
		if cc.ClientID != "" && cc.ClientID != c.id {
			return nil, invalidClient("client_id differs from the assertion's")
		}
		return c, nil
	}
	c, err := s.client(ctx, cc.ClientID)
	if err != nil {
		if errors.Is(err, errUnknownClient) {
			return nil, invalidClient("unknown client")
		}
		return nil, oidc.ErrServerError().WithParent(err)
	}
	switch c.rec.Type {
	case ClientPublic:
		if cc.ClientSecret != "" {
			return nil, invalidClient("a public client has no secret")
		}
	case ClientConfidential:
		if _, _, basic := (&http.Request{Header: h}).BasicAuth(); !basic {
			return nil, invalidClient("authenticate with HTTP Basic (client_secret_basic)")
		}
		if bcrypt.CompareHashAndPassword(c.rec.SecretHash, []byte(cc.ClientSecret)) != nil {
			return nil, invalidClient("wrong client secret")
		}
	default:
		return nil, invalidClient("authenticate with a client assertion (private_key_jwt)")
	}
	return c, nil
}

// invalidClient is RFC 6749's invalid_client, answered with 401.
func invalidClient(format string, args ...any) error {
	return op.NewStatusError(oidc.ErrInvalidClient().WithDescription(format, args...), http.StatusUnauthorized)
}

// verifyClientAssertion checks a SMART Backend Services client assertion:
// iss = sub = a backend client's client_id, aud = the token endpoint, exp
// in the future but at most five minutes ahead, a jti never seen before,
// and an RS384 or ES384 signature by one of the client's keys.
func (s *Server) verifyClientAssertion(ctx context.Context, assertion string) (*client, error) {
	var req oidc.JWTTokenRequest
	payload, err := oidc.ParseToken(assertion, &req)
	if err != nil {
		return nil, errors.New("malformed assertion")
	}
	if req.Issuer == "" || req.Issuer != req.Subject {
		return nil, errors.New("iss and sub must both be the client_id")
	}
	c, err := s.client(ctx, req.Issuer)
	if err != nil {
		return nil, err
	}
	if c.rec.Type != ClientBackend {
		return nil, errors.New("the client has no keys")
	}
	if err := oidc.CheckAudience(&req, s.cfg.Issuer+pathToken); err != nil {
		return nil, errors.New("aud must be the token endpoint")
	}
	now, exp := s.now(), req.ExpiresAt.AsTime()
	switch {
	case !now.Before(exp):
		return nil, errors.New("expired")
	case exp.After(now.Add(maxAssertionLifetime + assertionLeeway)):
		return nil, errors.New("exp is more than five minutes ahead")
	case req.JWTID == "":
		return nil, errors.New("jti missing")
	}
	keys, err := s.jwks.forClient(c)
	if err != nil {
		return nil, err
	}
	if err := oidc.CheckSignature(ctx, assertion, payload, &req, clientAssertionAlgs, keys); err != nil {
		return nil, err
	}
	// Recorded after the signature check, so that only the client can
	// use up its own jtis; kept until the assertion expires.
	err = s.rec.put(ctx, kindJTI, c.id+" "+req.JWTID, struct{}{}, 0, exp.Add(assertionLeeway))
	if isConflict(err) {
		return nil, errors.New("jti already used")
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ClientCredentialsExchange issues a backend client an access token for
// the system/ scopes it asked for (others are dropped; none left is
// invalid_scope). There is no refresh token: the client asks again.
func (s *Server) ClientCredentialsExchange(ctx context.Context, r *op.ClientRequest[oidc.ClientCredentialsRequest]) (*op.Response, error) {
	var scopes []string
	for _, sc := range r.Data.Scope {
		if strings.HasPrefix(sc, "system/") {
			scopes = append(scopes, sc)
		}
	}
	if len(scopes) == 0 {
		return nil, oidc.ErrInvalidScope().WithDescription("request system/ scopes")
	}
	g := grant{ID: randomToken(16), ClientID: r.Client.GetID(), Subject: r.Client.GetID(), Scopes: scopes, AuthTime: s.now()}
	return s.issue(ctx, g, scopes, false)
}

// clientKeySets holds the key sets of backend clients: a registered set
// as it is, a JWKS URL as a key set that fetches the document once and
// again when an assertion names a key it does not hold.
type clientKeySets struct {
	httpClient *http.Client
	mu         sync.Mutex
	remote     map[string]oidc.KeySet // by URL
}

func newClientKeySets(hc *http.Client) *clientKeySets {
	return &clientKeySets{httpClient: hc, remote: map[string]oidc.KeySet{}}
}

func (ks *clientKeySets) forClient(c *client) (oidc.KeySet, error) {
	if len(c.rec.JWKS) > 0 {
		set, err := parseJWKS(c.rec.JWKS)
		if err != nil {
			return nil, fmt.Errorf("registered JWK set: %w", err)
		}
		return staticKeySet(set), nil
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	set, ok := ks.remote[c.rec.JWKSURL]
	if !ok {
		set = rp.NewRemoteKeySet(ks.httpClient, c.rec.JWKSURL)
		ks.remote[c.rec.JWKSURL] = set
	}
	return set, nil
}

// staticKeySet is a registered JWK set as an oidc.KeySet.
type staticKeySet jose.JSONWebKeySet

func (k staticKeySet) VerifySignature(_ context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	kid, alg := oidc.GetKeyIDAndAlg(jws)
	key, err := oidc.FindMatchingKey(kid, oidc.KeyUseSignature, alg, k.Keys...)
	if err != nil {
		return nil, err
	}
	return jws.Verify(&key)
}
