package authz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/crypto/bcrypt"
)

// ClientType is how a client authenticates at the token endpoint.
type ClientType string

const (
	// ClientPublic clients (browser and native apps) hold no secret; they
	// must use PKCE (required of every client here anyway).
	ClientPublic ClientType = "public"
	// ClientConfidential clients authenticate with a generated secret over
	// HTTP Basic (client_secret_basic).
	ClientConfidential ClientType = "confidential"
	// ClientBackend clients authenticate with a signed JWT
	// (private_key_jwt, RS384 or ES384) checked against their JWK set.
	// They get client_credentials tokens for system/ scopes and, when
	// they have redirect URIs, may run app launches as asymmetric
	// confidential clients.
	ClientBackend ClientType = "backend"
)

// ClientSpec registers a client (see Server.AddClient).
type ClientSpec struct {
	Name         string
	Type         ClientType
	RedirectURIs []string
	// JWKSURL or JWKS (a JWK Set document) holds a backend client's public
	// keys; exactly one is required for ClientBackend.
	JWKSURL string
	JWKS    json.RawMessage
	// EHRLaunch lets the client create EHR launch contexts at POST
	// /auth/launch with a client_credentials access token (backend and
	// confidential EHR integrations).
	EHRLaunch bool
}

// ClientInfo describes a registered client, without its secret.
type ClientInfo struct {
	ID           string     `json:"client_id"`
	Name         string     `json:"name,omitempty"`
	Type         ClientType `json:"type"`
	RedirectURIs []string   `json:"redirect_uris,omitempty"`
	JWKSURL      string     `json:"jwks_url,omitempty"`
	HasJWKS      bool       `json:"has_jwks,omitempty"`
	EHRLaunch    bool       `json:"ehr_launch,omitempty"`
	Created      time.Time  `json:"created"`
}

// clientRecord is a client as stored (kind oauth.client).
type clientRecord struct {
	Name         string          `json:"name,omitempty"`
	Type         ClientType      `json:"type"`
	RedirectURIs []string        `json:"redirect_uris,omitempty"`
	SecretHash   []byte          `json:"secret_hash,omitempty"`
	JWKSURL      string          `json:"jwks_url,omitempty"`
	JWKS         json.RawMessage `json:"jwks,omitempty"`
	EHRLaunch    bool            `json:"ehr_launch,omitempty"`
	Created      time.Time       `json:"created"`
}

// ErrInvalidSpec is returned by AddClient and AddUser for an incomplete or
// inconsistent registration.
var ErrInvalidSpec = errors.New("authz: invalid registration")

// AddClient registers a client and returns its generated client_id and,
// for a confidential client, its secret: only a hash is stored, so this is
// the only time the secret is seen.
func (a *Admin) AddClient(ctx context.Context, spec ClientSpec) (clientID, secret string, err error) {
	if err := spec.validate(); err != nil {
		return "", "", err
	}
	r := clientRecord{
		Name: spec.Name, Type: spec.Type, RedirectURIs: spec.RedirectURIs,
		JWKSURL: spec.JWKSURL, JWKS: spec.JWKS, EHRLaunch: spec.EHRLaunch, Created: a.now().UTC(),
	}
	if spec.Type == ClientConfidential {
		secret = randomToken(32)
		if r.SecretHash, err = bcrypt.GenerateFromPassword([]byte(secret), bcrypt.DefaultCost); err != nil {
			return "", "", fmt.Errorf("authz: hash client secret: %w", err)
		}
	}
	clientID = randomToken(16)
	if err := a.rec.put(ctx, kindClient, clientID, r, 0, time.Time{}); err != nil {
		return "", "", fmt.Errorf("authz: store client: %w", err)
	}
	return clientID, secret, nil
}

func (spec ClientSpec) validate() error {
	for _, u := range spec.RedirectURIs {
		p, err := url.Parse(u)
		if err != nil || !p.IsAbs() || p.Host == "" || p.Fragment != "" {
			return fmt.Errorf("%w: redirect URI %q must be an absolute URL without fragment", ErrInvalidSpec, u)
		}
	}
	switch spec.Type {
	case ClientPublic, ClientConfidential:
		if len(spec.RedirectURIs) == 0 {
			return fmt.Errorf("%w: a %s client needs a redirect URI", ErrInvalidSpec, spec.Type)
		}
		if spec.JWKSURL != "" || len(spec.JWKS) > 0 {
			return fmt.Errorf("%w: only backend clients have keys", ErrInvalidSpec)
		}
	case ClientBackend:
		if (spec.JWKSURL == "") == (len(spec.JWKS) == 0) {
			return fmt.Errorf("%w: a backend client needs either a JWKS URL or a JWK set", ErrInvalidSpec)
		}
		if spec.JWKSURL != "" {
			if u, err := url.Parse(spec.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return fmt.Errorf("%w: JWKS URL %q", ErrInvalidSpec, spec.JWKSURL)
			}
		}
		if len(spec.JWKS) > 0 {
			if _, err := parseJWKS(spec.JWKS); err != nil {
				return fmt.Errorf("%w: %w", ErrInvalidSpec, err)
			}
		}
	default:
		return fmt.Errorf("%w: client type %q (public, confidential or backend)", ErrInvalidSpec, spec.Type)
	}
	return nil
}

// parseJWKS reads a JWK set of public signing keys.
func parseJWKS(data []byte) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(data, &set); err != nil {
		return set, fmt.Errorf("JWK set: %w", err)
	}
	if len(set.Keys) == 0 {
		return set, errors.New("JWK set has no keys")
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			return set, fmt.Errorf("JWK %q is not a public key", k.KeyID)
		}
	}
	return set, nil
}

// ListClients returns the registered clients, by client_id.
func (a *Admin) ListClients(ctx context.Context) ([]ClientInfo, error) {
	var out []ClientInfo
	err := a.rec.list(ctx, kindClient, func(id string, decode func(any) error) error {
		var r clientRecord
		if err := decode(&r); err != nil {
			return err
		}
		out = append(out, ClientInfo{
			ID: id, Name: r.Name, Type: r.Type, RedirectURIs: r.RedirectURIs,
			JWKSURL: r.JWKSURL, HasJWKS: len(r.JWKS) > 0, EHRLaunch: r.EHRLaunch, Created: r.Created,
		})
		return nil
	})
	return out, err
}

// errUnknownClient is returned for a client_id that is not registered.
var errUnknownClient = errors.New("authz: unknown client")

// client loads a registered client as the op.Client the library needs.
func (s *Server) client(ctx context.Context, id string) (*client, error) {
	c := &client{id: id, issuer: s.cfg.Issuer, idTokenTTL: s.cfg.IDTokenTTL}
	if _, err := s.rec.get(ctx, kindClient, id, &c.rec); err != nil {
		if isNotFound(err) {
			return nil, errUnknownClient
		}
		return nil, err
	}
	return c, nil
}

// client implements op.Client for a stored client.
type client struct {
	id         string
	issuer     string
	idTokenTTL time.Duration
	rec        clientRecord
}

var _ op.Client = (*client)(nil)

func (c *client) GetID() string                    { return c.id }
func (c *client) RedirectURIs() []string           { return c.rec.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return nil }

// ApplicationType is web for every client: it makes the library match
// redirect URIs exactly (no loopback port wildcard as for native apps)
// and accept http ones, which SMART apps in development use.
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }

func (c *client) AuthMethod() oidc.AuthMethod {
	switch c.rec.Type {
	case ClientConfidential:
		return oidc.AuthMethodBasic
	case ClientBackend:
		return oidc.AuthMethodPrivateKeyJWT
	default:
		return oidc.AuthMethodNone
	}
}

func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

func (c *client) GrantTypes() []oidc.GrantType {
	var gts []oidc.GrantType
	if len(c.rec.RedirectURIs) > 0 {
		gts = append(gts, oidc.GrantTypeCode, oidc.GrantTypeRefreshToken)
	}
	if c.rec.Type == ClientBackend {
		gts = append(gts, oidc.GrantTypeClientCredentials)
	}
	return gts
}

// LoginURL is where an accepted authorization request continues: the
// login page.
func (c *client) LoginURL(authReqID string) string {
	return c.issuer + pathLogin + "?id=" + url.QueryEscape(authReqID)
}

func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }
func (c *client) IDTokenLifetime() time.Duration      { return c.idTokenTTL }
func (c *client) DevMode() bool                       { return false }

func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}

func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}

// IsScopeAllowed tells the library which non-OpenID scopes an app may
// request at the authorization endpoint: SMART's launch and context
// scopes and patient/ or user/ resource scopes. Others (system/ among
// them) are dropped from the request.
func (c *client) IsScopeAllowed(scope string) bool {
	switch scope {
	case scopeLaunch, scopeLaunchPatient, scopeLaunchEncounter, scopeFHIRUser, scopeOnlineAccess:
		return true
	}
	return strings.HasPrefix(scope, "patient/") || strings.HasPrefix(scope, "user/")
}

func (c *client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *client) ClockSkew() time.Duration             { return 0 }
