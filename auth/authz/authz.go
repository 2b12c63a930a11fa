// Package authz is medbridge's built-in authorization server for SMART App
// Launch 2.2 and SMART Backend Services, built on zitadel/oidc's op
// package (routing, request parsing, redirect URI and PKCE checks,
// errors, CORS) with go-jose for signing.
//
// All state — clients, users, signing keys, authorization requests,
// codes, refresh tokens, launch contexts, revoked grants and seen client
// assertion IDs — lives in storage.Store records, so it survives restarts
// and is shared by every server process on one store.
//
// The Handler serves, below the issuer URL (e.g. http://host/auth):
//
//	GET  /.well-known/openid-configuration  OpenID discovery
//	GET  /jwks                               the signing keys (JWKS)
//	GET  /authorize                          authorization endpoint
//	POST /token                              token endpoint
//	POST /introspect                         RFC 7662 introspection
//	POST /revoke                             RFC 7009 revocation
//	GET  /userinfo                           OpenID userinfo
//	GET|POST /login, /picker, /consent       the login, patient picker and consent pages
//	POST /launch                             EHR launch contexts (see Server.CreateLaunch)
//	GET  /smart-style.json                   the style sheet named by smart_style_url
//
// The FHIR side serves SmartConfiguration at
// /fhir/.well-known/smart-configuration and checks bearer tokens with
// Verifier.
package authz

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/medbridge/medbridge/storage"
)

// Paths below the issuer.
const (
	pathAuthorize  = "/authorize"
	pathToken      = "/token"
	pathIntrospect = "/introspect"
	pathRevoke     = "/revoke"
	pathUserinfo   = "/userinfo"
	pathJWKS       = "/jwks"
	pathLogin      = "/login"
	pathPicker     = "/picker"
	pathConsent    = "/consent"
	pathLaunch     = "/launch"
	pathStyle      = "/smart-style.json"
	pathDiscovery  = "/.well-known/openid-configuration"
)

// Config configures a Server. Issuer, FHIRBase and Store are required;
// zero durations take the defaults in their comments.
type Config struct {
	// Issuer is the authorization server's URL, e.g.
	// http://127.0.0.1:8080/auth. Tokens carry it as iss; the Handler
	// serves the paths below its path.
	Issuer string
	// FHIRBase is the FHIR server's base URL, e.g.
	// http://127.0.0.1:8080/fhir: the only accepted aud of an
	// authorization request (compared without a trailing slash) and the
	// aud of every access token.
	FHIRBase string
	// Store holds all state.
	Store storage.Store

	// AccessTokenTTL is the access tokens' lifetime (5 minutes).
	AccessTokenTTL time.Duration
	// IDTokenTTL is the id_tokens' lifetime (1 hour).
	IDTokenTTL time.Duration
	// CodeTTL is the authorization codes' lifetime (60 seconds, the most
	// allowed).
	CodeTTL time.Duration
	// OfflineTTL is the lifetime of refresh tokens granted with
	// offline_access (90 days); each refresh issues a new one.
	OfflineTTL time.Duration
	// OnlineTTL is the lifetime of refresh tokens granted with
	// online_access (12 hours): without a session at the authorization
	// server, "while the user is online" is bounded by time.
	OnlineTTL time.Duration
	// LoginTTL is how long a user may take to sign in and consent (10
	// minutes).
	LoginTTL time.Duration
	// LaunchTTL is how long an EHR launch value stays usable (5 minutes).
	LaunchTTL time.Duration
	// StyleURL is the smart_style_url of token responses (the Handler's
	// own /smart-style.json).
	StyleURL string
	// HTTPClient fetches backend clients' JWK sets (a client with a 10 s
	// timeout).
	HTTPClient *http.Client
	// Now is the clock (time.Now); tests move it.
	Now func() time.Time
}

// Admin manages the clients, users and signing keys in a store; the CLI
// uses it without a running server. It is safe for concurrent use.
type Admin struct {
	rec  records
	now  func() time.Time
	keys *keyRing
}

// NewAdmin returns the management API of the authorization server state
// in store. Keys it retires stay published for DefaultKeyRetention.
func NewAdmin(store storage.Store) *Admin {
	return newAdmin(store, time.Now, DefaultKeyRetention)
}

// DefaultKeyRetention is how long a retired signing key stays published
// when rotated through NewAdmin: the longest default token lifetime (the
// id_token's hour) and a margin. A Server rotates with its own lifetimes.
const DefaultKeyRetention = time.Hour + time.Minute

func newAdmin(store storage.Store, now func() time.Time, retention time.Duration) *Admin {
	rec := records{store: store}
	return &Admin{rec: rec, now: now, keys: &keyRing{rec: rec, now: now, retention: retention}}
}

// RotateKeys adds a new current signing key and returns its key ID. The
// old keys stay in the JWKS until every token they signed has expired.
// Running servers start signing with the new key within 30 seconds.
func (a *Admin) RotateKeys(ctx context.Context) (string, error) { return a.keys.rotate(ctx) }

// Server is the authorization server; its Admin methods manage its
// state. It is safe for concurrent use.
type Server struct {
	op.UnimplementedServer
	*Admin

	cfg     Config
	jwks    *clientKeySets
	handler http.Handler
}

// New checks cfg and returns a Server; it creates the first signing key
// when the store has none.
func New(ctx context.Context, cfg Config) (*Server, error) {
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	cfg.FHIRBase = normalizeBase(cfg.FHIRBase)
	for _, u := range []string{cfg.Issuer, cfg.FHIRBase} {
		if p, err := url.Parse(u); err != nil || !p.IsAbs() || p.Host == "" {
			return nil, fmt.Errorf("authz: %q is not an absolute URL", u)
		}
	}
	if cfg.Store == nil {
		return nil, errors.New("authz: no store")
	}
	setDefault(&cfg.AccessTokenTTL, 5*time.Minute)
	setDefault(&cfg.IDTokenTTL, time.Hour)
	setDefault(&cfg.CodeTTL, time.Minute)
	setDefault(&cfg.OfflineTTL, 90*24*time.Hour)
	setDefault(&cfg.OnlineTTL, 12*time.Hour)
	setDefault(&cfg.LoginTTL, 10*time.Minute)
	setDefault(&cfg.LaunchTTL, 5*time.Minute)
	if cfg.CodeTTL > time.Minute {
		return nil, errors.New("authz: authorization codes may live at most 60 seconds")
	}
	if cfg.StyleURL == "" {
		cfg.StyleURL = cfg.Issuer + pathStyle
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, Admin: newAdmin(cfg.Store, cfg.Now, max(cfg.AccessTokenTTL, cfg.IDTokenTTL)+time.Minute)}
	s.jwks = newClientKeySets(cfg.HTTPClient)
	if _, err := s.keys.load(ctx, keyCacheTTL); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// normalizeBase is the documented normalisation of the FHIR base URL and
// of the aud parameter compared with it: a trailing slash is ignored.
// Everything else must match byte for byte.
func normalizeBase(u string) string { return strings.TrimSuffix(u, "/") }

// Handler serves the authorization server. Mount it for every path under
// the issuer's path (e.g. /auth and /auth/*) without stripping the
// prefix: it strips it itself.
func (s *Server) Handler() http.Handler { return s.handler }

// Issuer returns the issuer URL, without a trailing slash.
func (s *Server) Issuer() string { return s.cfg.Issuer }

func (s *Server) routes() http.Handler {
	endpoints := op.Endpoints{
		Authorization: op.NewEndpoint(pathAuthorize),
		Token:         op.NewEndpoint(pathToken),
		Introspection: op.NewEndpoint(pathIntrospect),
		Userinfo:      op.NewEndpoint(pathUserinfo),
		Revocation:    op.NewEndpoint(pathRevoke),
		JwksURI:       op.NewEndpoint(pathJWKS),
	}
	h := op.RegisterServer(s, endpoints,
		op.WithHTTPMiddleware(s.noStore, s.publicRefresh),
		op.WithSetRouter(func(r chi.Router) {
			r.Get(pathLogin, s.loginPage)
			r.Post(pathLogin, s.loginSubmit)
			r.Get(pathPicker, s.pickerPage)
			r.Post(pathPicker, s.pickerSubmit)
			r.Get(pathConsent, s.consentPage)
			r.Post(pathConsent, s.consentSubmit)
			r.Post(pathLaunch, s.launchHandler)
			r.Get(pathStyle, s.styleHandler)
		}))
	prefix := strings.TrimSuffix(mustPath(s.cfg.Issuer), "/")
	if prefix == "" {
		return h
	}
	return http.StripPrefix(prefix, h)
}

func mustPath(u string) string {
	p, _ := url.Parse(u) // checked in New
	return p.Path
}

// noStore keeps tokens, codes and the login pages out of caches.
func (s *Server) noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case pathDiscovery, pathJWKS, pathStyle:
		default:
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Pragma", "no-cache")
		}
		next.ServeHTTP(w, r)
	})
}

// randomToken returns n random bytes, base64url-encoded: URL-safe (no
// + / = & %), as fhirclient sends codes unencoded.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}
