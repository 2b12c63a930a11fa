// Package external verifies access tokens issued by a hospital's own
// OpenID provider (--oidc-issuer, --oidc-audience) and maps their claims to
// an auth.Principal.
//
// Verification is go-oidc's: New runs OpenID discovery against the issuer,
// and the provider's JWKS is fetched when first needed, cached, and fetched
// again whenever a token names a key the cache does not hold, so the
// provider can rotate its keys without a restart (go-oidc does not
// throttle those fetches; concurrent ones share one request). The
// signature algorithm must be one of Config.SigningAlgs (never "none" nor
// an HMAC algorithm, whose secret would be the public key), iss must equal
// Config.Issuer, aud must hold one of Config.Audiences, and exp and nbf are
// checked allowing Config.ClockSkew either way.
//
// # Claims
//
// Which claim holds what is configurable, since providers differ:
//
//	Principal field  Config field    default claim
//	Subject          SubjectClaim    "sub"
//	ClientID         ClientIDClaim   "client_id", then "azp" when it is absent
//	Scopes           ScopeClaim      "scope"
//	Patient          PatientClaim    "patient"
//	Encounter        EncounterClaim  "encounter"
//	FHIRUser         FHIRUserClaim   "fhirUser"
//
// Claims are looked up by their top-level name; a claim name is never a
// path. The scope claim may be a space-separated string (OAuth's "scope")
// or an array of strings (Azure's "scp"); its values are parsed as SMART
// scopes by auth/scope.Parse, and a token whose scopes are malformed is
// refused. Patient and Encounter may be ids or "Patient/id" and
// "Encounter/id" references; the Principal gets the id.
//
// # Scopes from other claims
//
// A provider that knows nothing of SMART scopes can still grant them
// through Config.ScopeMap. Its keys are "claim=value", its values scope
// text (one or more space-separated SMART scopes): when the token's claim
// holds the value, the scopes are granted in addition to the scope claim's.
// A claim holds a value when it is that string, when it is a string with
// that space-separated word, or when it is an array with that element:
//
//	ScopeMap: map[string]string{
//		"roles=clinician":              "user/*.cruds",
//		"roles=ward-5-readonly":        "user/Patient.rs user/Observation.rs",
//		"scp=patient.Observation.read": "patient/Observation.rs",
//	}
package external

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/medbridge/medbridge/auth"
)

// DefaultClockSkew is how far exp and nbf may be off when Config.ClockSkew
// is zero.
const DefaultClockSkew = time.Minute

// Config configures a Verifier. Issuer and Audiences are required; every
// other field has a default.
type Config struct {
	// Issuer is the provider's issuer URL, exactly as its tokens' iss
	// claim spells it; discovery is read from
	// Issuer + "/.well-known/openid-configuration".
	Issuer string
	// Audiences are the accepted aud values: a token is accepted when its
	// aud holds at least one of them.
	Audiences []string
	// SigningAlgs are the accepted JWS algorithms (RS256, ES384, ...).
	// Empty means those the provider's discovery document lists in
	// id_token_signing_alg_values_supported, or RS256 when it lists none.
	// Only asymmetric algorithms are allowed.
	SigningAlgs []string
	// ClockSkew is how far the provider's clock may be off from ours when
	// checking exp and nbf; zero means DefaultClockSkew.
	ClockSkew time.Duration

	// Claim names; see the package documentation for their defaults.
	SubjectClaim, ClientIDClaim, ScopeClaim     string
	PatientClaim, EncounterClaim, FHIRUserClaim string

	// ScopeMap grants SMART scopes for other claims' values: its keys are
	// "claim=value", its values scope text (see the package documentation).
	ScopeMap map[string]string

	// HTTPClient fetches discovery and keys; nil means a client with a
	// ten-second timeout.
	HTTPClient *http.Client
}

// DiscoveryError reports that New could not read the provider's discovery
// document: the provider is down, unreachable or misconfigured. It never
// wraps auth.ErrInvalidToken.
type DiscoveryError struct {
	Issuer string
	// Unreachable is true when no answer came at all (connection refused,
	// DNS failure, timeout).
	Unreachable bool
	Err         error
}

// Error names the provider and what went wrong.
func (e *DiscoveryError) Error() string {
	if e.Unreachable {
		return fmt.Sprintf("the OpenID provider at %s could not be reached: %v", e.Issuer, e.Err)
	}
	// go-oidc quotes the answer's body, which often ends in a newline.
	return fmt.Sprintf("the OpenID provider at %s answered /.well-known/openid-configuration with %s",
		e.Issuer, strings.TrimSpace(e.Err.Error()))
}

// Unwrap returns the underlying error.
func (e *DiscoveryError) Unwrap() error { return e.Err }

// Verifier verifies the provider's access tokens; it implements
// auth.Verifier and is safe for concurrent use.
type Verifier struct {
	oidc      *oidc.IDTokenVerifier
	audiences []string
	skew      time.Duration
	claims    claimNames
	scopeMap  []scopeRule
}

// asymmetricAlgs are the algorithms SigningAlgs may name.
var asymmetricAlgs = []string{
	oidc.RS256, oidc.RS384, oidc.RS512,
	oidc.PS256, oidc.PS384, oidc.PS512,
	oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.EdDSA,
}

// New checks cfg and runs OpenID discovery against cfg.Issuer, bounded by
// ctx. It returns a *DiscoveryError when the provider cannot be reached or
// answers with something unusable, and a plain error for a bad cfg.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("external: the OpenID issuer URL is required")
	}
	if len(cfg.Audiences) == 0 || slices.Contains(cfg.Audiences, "") {
		return nil, errors.New("external: at least one OpenID audience is required, and none may be empty")
	}
	for _, alg := range cfg.SigningAlgs {
		if !slices.Contains(asymmetricAlgs, alg) {
			return nil, fmt.Errorf("external: signing algorithm %q is not accepted; use one of %v", alg, asymmetricAlgs)
		}
	}
	if cfg.ClockSkew < 0 {
		return nil, fmt.Errorf("external: negative clock skew %v", cfg.ClockSkew)
	}
	rules, err := parseScopeMap(cfg.ScopeMap)
	if err != nil {
		return nil, err
	}

	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, client), cfg.Issuer)
	if err != nil {
		// go-oidc returns the HTTP client's *url.Error as is when no
		// answer came.
		var urlErr *url.Error
		return nil, &DiscoveryError{Issuer: cfg.Issuer, Unreachable: errors.As(err, &urlErr), Err: err}
	}
	var discovered struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := provider.Claims(&discovered); err != nil || discovered.JWKSURI == "" {
		return nil, &DiscoveryError{Issuer: cfg.Issuer, Err: errors.New("a document without jwks_uri")}
	}

	skew := cfg.ClockSkew
	if skew == 0 {
		skew = DefaultClockSkew
	}
	return &Verifier{
		// Audience and expiry are checked by Verify: go-oidc accepts one
		// audience only and allows no skew on exp.
		oidc: provider.Verifier(&oidc.Config{
			SkipClientIDCheck:    true,
			SkipExpiryCheck:      true,
			SupportedSigningAlgs: cfg.SigningAlgs,
		}),
		audiences: slices.Clone(cfg.Audiences),
		skew:      skew,
		claims:    cfg.claimNames(),
		scopeMap:  rules,
	}, nil
}

// Verify returns the principal of an access token. Every problem with the
// token (malformed, badly signed, wrong issuer or audience, expired, not yet
// valid, malformed claims or scopes) is an error wrapping
// auth.ErrInvalidToken. A token signed with a key the provider no longer
// or not yet publishes is refused the same way, even when the reason is
// that the provider's JWKS could not be fetched.
func (v *Verifier) Verify(ctx context.Context, token string) (*auth.Principal, error) {
	idt, err := v.oidc.Verify(ctx, token)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", auth.ErrInvalidToken, err)
	}
	if !slices.ContainsFunc(idt.Audience, func(a string) bool { return slices.Contains(v.audiences, a) }) {
		return nil, fmt.Errorf("%w: audience %q is none of %q", auth.ErrInvalidToken, idt.Audience, v.audiences)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, fmt.Errorf("%w: %w", auth.ErrInvalidToken, err)
	}
	if err := v.checkTimes(idt.Expiry, claims, time.Now()); err != nil {
		return nil, fmt.Errorf("%w: %w", auth.ErrInvalidToken, err)
	}
	p, err := v.principal(claims)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", auth.ErrInvalidToken, err)
	}
	return p, nil
}

// checkTimes requires exp and, when the token has one, nbf to hold at now,
// give or take v.skew.
func (v *Verifier) checkTimes(exp time.Time, claims map[string]any, now time.Time) error {
	if exp.IsZero() {
		return errors.New("the token has no exp")
	}
	if now.After(exp.Add(v.skew)) {
		return fmt.Errorf("the token expired at %s", exp.UTC().Format(time.RFC3339))
	}
	raw, ok := claims["nbf"]
	if !ok {
		return nil
	}
	n, ok := raw.(float64)
	if !ok {
		return fmt.Errorf("nbf is %v, not a number", raw)
	}
	if nbf := time.Unix(int64(n), 0); now.Add(v.skew).Before(nbf) {
		return fmt.Errorf("the token is not valid before %s", nbf.UTC().Format(time.RFC3339))
	}
	return nil
}
