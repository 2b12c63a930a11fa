// Package auth holds what the FHIR server needs to know about a caller:
// the Principal a verified access token stands for, and the Verifier
// interface that turns a bearer token into one. The built-in SMART
// authorization server (auth/authz) and the verifier of an external
// OpenID provider (auth/external) both implement Verifier; scope
// decisions are auth/scope's.
package auth

import (
	"context"
	"errors"

	"github.com/medbridge/medbridge/auth/scope"
)

// ErrInvalidToken is wrapped by a Verifier's error for a token that is
// malformed, badly signed, expired, revoked or meant for another audience:
// the server answers 401 with error="invalid_token".
var ErrInvalidToken = errors.New("invalid token")

// Verifier verifies a bearer access token.
type Verifier interface {
	// Verify returns the token's principal, or an error wrapping
	// ErrInvalidToken (any other error is the verifier's own failure: 500).
	Verify(ctx context.Context, token string) (*Principal, error)
}

// Principal is who a request acts for and what it may do.
type Principal struct {
	// ClientID is the OAuth client (the app or backend service).
	ClientID string
	// Subject is the user (sub), "" for a backend service.
	Subject string
	// FHIRUser is the user's FHIR resource ("Practitioner/123"), if known.
	FHIRUser string
	// Patient and Encounter are the launch context (ids, not references).
	Patient, Encounter string
	// Scopes are the granted scopes.
	Scopes scope.Set
}

// First is a Verifier that accepts a token when any of vs does (the
// built-in authorization server's and a hospital provider's tokens side
// by side): it tries them in order and returns the first principal. A
// token none accepts gets the last invalid-token error; any other failure
// is returned at once.
func First(vs ...Verifier) Verifier { return first(vs) }

type first []Verifier

func (vs first) Verify(ctx context.Context, token string) (*Principal, error) {
	err := error(ErrInvalidToken)
	for _, v := range vs {
		var p *Principal
		if p, err = v.Verify(ctx, token); err == nil {
			return p, nil
		}
		if !errors.Is(err, ErrInvalidToken) {
			return nil, err
		}
	}
	return nil, err
}
