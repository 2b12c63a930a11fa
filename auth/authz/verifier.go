package authz

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/medbridge/medbridge/auth"
	"github.com/medbridge/medbridge/auth/scope"
)

// ErrInvalidToken is returned by Verifier.Verify for a token that is not
// a valid, unexpired, unrevoked access token of this server for the FHIR
// base; the FHIR side answers 401 with WWW-Authenticate.
var ErrInvalidToken = fmt.Errorf("authz: %w", auth.ErrInvalidToken)

// Claims are what the FHIR side needs of a verified access token.
type Claims struct {
	// ClientID is the app or backend client the token was issued to.
	ClientID string
	// Subject is the user's username, or the client_id for a
	// client_credentials token.
	Subject string
	// Scope is the granted scope, space-separated, as issued; parsing and
	// enforcing it is auth/scope's job.
	Scope string
	// Patient and Encounter are the launch context (bare ids), when any.
	Patient, Encounter string
	// FHIRUser is the user's resource (e.g. Practitioner/123), when the
	// token has a user.
	FHIRUser string
	// Expiry is when the token stops being valid.
	Expiry time.Time
	// ID is the token's jti; GrantID names the authorization it belongs
	// to (revoking one revokes all the grant's tokens).
	ID, GrantID string
}

// Private claims of medbridge access tokens.
const (
	claimPatient   = "patient"
	claimEncounter = "encounter"
	claimFHIRUser  = "fhirUser"
	claimGrant     = "grant"
)

// Verifier checks bearer access tokens for the FHIR side. Create it with
// Server.Verifier; it is safe for concurrent use.
type Verifier struct {
	s *Server
}

// Verifier returns the access token verifier of this server.
func (s *Server) Verifier() *Verifier { return &Verifier{s: s} }

// Verify checks token's signature (against the current and the still
// published retired keys), issuer, expiry, audience (the FHIR base) and
// that its grant was not revoked, and returns its claims. Every failure
// wraps ErrInvalidToken; a store failure is returned as it is.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	c, err := v.s.parseAccessToken(ctx, token)
	if err != nil {
		return nil, err
	}
	revoked, err := v.s.isRevoked(ctx, c.GrantID)
	if err != nil {
		return nil, err
	}
	if revoked {
		return nil, fmt.Errorf("%w: revoked", ErrInvalidToken)
	}
	return c, nil
}

// parseAccessToken verifies token as Verify does, except for revocation.
func (s *Server) parseAccessToken(ctx context.Context, token string) (*Claims, error) {
	tv := op.NewAccessTokenVerifier(s.cfg.Issuer, s.keys, op.WithSupportedAccessTokenSigningAlgorithms(string(signingAlg)))
	tv.Offset = time.Until(s.now()) // the library's expiry check, on this server's clock
	atc, err := op.VerifyAccessToken[*oidc.AccessTokenClaims](ctx, token, tv)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if !slices.Contains(atc.Audience, s.cfg.FHIRBase) {
		return nil, fmt.Errorf("%w: audience is not %s", ErrInvalidToken, s.cfg.FHIRBase)
	}
	str := func(name string) string { v, _ := atc.Claims[name].(string); return v }
	c := &Claims{
		ClientID: atc.ClientID, Subject: atc.Subject, Scope: strings.Join(atc.Scopes, " "),
		Patient: str(claimPatient), Encounter: str(claimEncounter), FHIRUser: str(claimFHIRUser),
		Expiry: atc.Expiration.AsTime(), ID: atc.JWTID, GrantID: str(claimGrant),
	}
	if c.GrantID == "" || c.ClientID == "" {
		return nil, fmt.Errorf("%w: not an access token", ErrInvalidToken)
	}
	return c, nil
}

// Principals returns the verifier the FHIR server uses: Verify's checks,
// and the claims as an auth.Principal with parsed scopes.
func (s *Server) Principals() auth.Verifier { return principals{s.Verifier()} }

type principals struct{ v *Verifier }

func (p principals) Verify(ctx context.Context, token string) (*auth.Principal, error) {
	c, err := p.v.Verify(ctx, token)
	if err != nil {
		return nil, err
	}
	set, err := scope.Parse(c.Scope)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return &auth.Principal{ClientID: c.ClientID, Subject: c.Subject, FHIRUser: c.FHIRUser,
		Patient: c.Patient, Encounter: c.Encounter, Scopes: set}, nil
}
