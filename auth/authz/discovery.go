package authz

import (
	"context"
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// SMART scopes with a meaning of their own here.
const (
	scopeLaunch          = "launch"
	scopeLaunchPatient   = "launch/patient"
	scopeLaunchEncounter = "launch/encounter"
	scopeFHIRUser        = "fhirUser"
	scopeOnlineAccess    = "online_access"
)

// clientAssertionAlgs are the algorithms SMART Backend Services requires
// servers to support for client assertions; nothing else is accepted
// (HS256 and RS256 assertions are refused).
var clientAssertionAlgs = []string{"RS384", "ES384"}

// SmartConfiguration is the document served at
// <FHIR base>/.well-known/smart-configuration (SMART App Launch 2.2,
// section "Conformance").
type SmartConfiguration struct {
	Issuer                                     string   `json:"issuer"`
	JWKSURI                                    string   `json:"jwks_uri"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	UserinfoEndpoint                           string   `json:"userinfo_endpoint"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	ScopesSupported                            []string `json:"scopes_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
	Capabilities                               []string `json:"capabilities"`
}

// SmartConfiguration returns the SMART configuration of this server for
// its FHIR base.
func (s *Server) SmartConfiguration() SmartConfiguration {
	iss := s.cfg.Issuer
	return SmartConfiguration{
		Issuer:                            iss,
		JWKSURI:                           iss + pathJWKS,
		AuthorizationEndpoint:             iss + pathAuthorize,
		TokenEndpoint:                     iss + pathToken,
		IntrospectionEndpoint:             iss + pathIntrospect,
		RevocationEndpoint:                iss + pathRevoke,
		UserinfoEndpoint:                  iss + pathUserinfo,
		GrantTypesSupported:               grantTypes(),
		TokenEndpointAuthMethodsSupported: authMethods(),
		TokenEndpointAuthSigningAlgValuesSupported: clientAssertionAlgs,
		ScopesSupported:               scopesSupported(),
		ResponseTypesSupported:        []string{string(oidc.ResponseTypeCode)},
		CodeChallengeMethodsSupported: []string{string(oidc.CodeChallengeMethodS256)},
		Capabilities: []string{
			"launch-ehr", "launch-standalone",
			"client-public", "client-confidential-symmetric", "client-confidential-asymmetric",
			"context-ehr-patient", "context-ehr-encounter", "context-standalone-patient",
			"context-banner", "context-style",
			"permission-offline", "permission-online", "permission-patient", "permission-user",
			"permission-v1", "permission-v2",
			"sso-openid-connect",
		},
	}
}

func grantTypes() []string {
	return []string{string(oidc.GrantTypeCode), string(oidc.GrantTypeRefreshToken), string(oidc.GrantTypeClientCredentials)}
}

func authMethods() []string {
	return []string{string(oidc.AuthMethodBasic), string(oidc.AuthMethodPrivateKeyJWT), string(oidc.AuthMethodNone)}
}

func scopesSupported() []string {
	return []string{
		oidc.ScopeOpenID, scopeFHIRUser, scopeLaunch, scopeLaunchPatient, scopeLaunchEncounter,
		oidc.ScopeOfflineAccess, scopeOnlineAccess,
		"patient/*.rs", "user/*.rs", "system/*.rs", "patient/*.cruds", "user/*.cruds", "system/*.cruds",
		"patient/*.read", "user/*.read", "system/*.read", "patient/*.*", "user/*.*", "system/*.*",
	}
}

// Discovery serves OpenID Connect discovery for the same endpoints.
func (s *Server) Discovery(_ context.Context, _ *op.Request[struct{}]) (*op.Response, error) {
	c := s.SmartConfiguration()
	return op.NewResponse(&oidc.DiscoveryConfiguration{
		Issuer:                                     c.Issuer,
		AuthorizationEndpoint:                      c.AuthorizationEndpoint,
		TokenEndpoint:                              c.TokenEndpoint,
		IntrospectionEndpoint:                      c.IntrospectionEndpoint,
		RevocationEndpoint:                         c.RevocationEndpoint,
		UserinfoEndpoint:                           c.UserinfoEndpoint,
		JwksURI:                                    c.JWKSURI,
		ScopesSupported:                            c.ScopesSupported,
		ResponseTypesSupported:                     c.ResponseTypesSupported,
		ResponseModesSupported:                     []string{string(oidc.ResponseModeQuery)},
		GrantTypesSupported:                        toGrantTypes(c.GrantTypesSupported),
		SubjectTypesSupported:                      []string{"public"},
		IDTokenSigningAlgValuesSupported:           []string{string(signingAlg)},
		TokenEndpointAuthMethodsSupported:          toAuthMethods(c.TokenEndpointAuthMethodsSupported),
		TokenEndpointAuthSigningAlgValuesSupported: c.TokenEndpointAuthSigningAlgValuesSupported,
		IntrospectionEndpointAuthMethodsSupported:  toAuthMethods(c.TokenEndpointAuthMethodsSupported[:2]),
		RevocationEndpointAuthMethodsSupported:     toAuthMethods(c.TokenEndpointAuthMethodsSupported),
		CodeChallengeMethodsSupported:              []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256},
		ClaimsSupported:                            []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "fhirUser", "name"},
		RequestParameterSupported:                  false,
	}), nil
}

func toGrantTypes(ss []string) []oidc.GrantType {
	out := make([]oidc.GrantType, len(ss))
	for i, s := range ss {
		out[i] = oidc.GrantType(s)
	}
	return out
}

func toAuthMethods(ss []string) []oidc.AuthMethod {
	out := make([]oidc.AuthMethod, len(ss))
	for i, s := range ss {
		out[i] = oidc.AuthMethod(s)
	}
	return out
}

// Keys serves the JWKS: the current signing key and the retired ones
// whose tokens may still be valid.
func (s *Server) Keys(ctx context.Context, _ *op.Request[struct{}]) (*op.Response, error) {
	set, err := s.keys.keySet(ctx)
	if err != nil {
		return nil, op.AsStatusError(err, http.StatusInternalServerError)
	}
	return op.NewResponse(set), nil
}

// Health answers the library's liveness probe.
func (s *Server) Health(_ context.Context, _ *op.Request[struct{}]) (*op.Response, error) {
	return op.NewResponse(op.Status{Status: "ok"}), nil
}

// Ready reports ok when the store answers.
func (s *Server) Ready(ctx context.Context, _ *op.Request[struct{}]) (*op.Response, error) {
	if err := s.cfg.Store.Ping(ctx); err != nil {
		return nil, op.AsStatusError(err, http.StatusServiceUnavailable)
	}
	return op.NewResponse(op.Status{Status: "ok"}), nil
}
