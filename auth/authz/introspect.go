package authz

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Introspect answers RFC 7662 introspection for confidential and backend
// clients (resource servers): an access token is active when Verifier
// accepts it, a refresh token while it is unused, unexpired and its grant
// unrevoked. Anything else is {"active": false}.
func (s *Server) Introspect(ctx context.Context, r *op.Request[op.IntrospectionRequest]) (*op.Response, error) {
	caller, err := s.authenticateClient(ctx, r.Header, r.Data.ClientCredentials)
	if err != nil {
		return nil, err
	}
	if caller.rec.Type == ClientPublic {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("public clients may not introspect")
	}
	inactive := op.NewResponse(&oidc.IntrospectionResponse{})
	token := r.Data.Token
	if c, err := s.Verifier().Verify(ctx, token); err == nil {
		resp := &oidc.IntrospectionResponse{
			Active: true, Scope: strings.Fields(c.Scope), ClientID: c.ClientID, TokenType: oidc.BearerToken,
			Expiration: oidc.FromTime(c.Expiry), Subject: c.Subject, Audience: []string{s.cfg.FHIRBase},
			Issuer: s.cfg.Issuer, JWTID: c.ID, Claims: contextClaims(c.Patient, c.Encounter, c.FHIRUser),
		}
		return op.NewResponse(resp), nil
	} else if !errors.Is(err, ErrInvalidToken) {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	var rt refreshRecord
	if _, err := s.rec.get(ctx, kindRefresh, hashToken(token), &rt); err != nil {
		if isNotFound(err) {
			return inactive, nil
		}
		return nil, oidc.ErrServerError().WithParent(err)
	}
	revoked, err := s.isRevoked(ctx, rt.Grant.ID)
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	if revoked || !s.now().Before(rt.Expires) {
		return inactive, nil
	}
	g := rt.Grant
	return op.NewResponse(&oidc.IntrospectionResponse{
		Active: true, Scope: g.Scopes, ClientID: g.ClientID, TokenType: "refresh_token",
		Expiration: oidc.FromTime(rt.Expires), Subject: g.Subject, Issuer: s.cfg.Issuer,
		Claims: contextClaims(g.Patient, g.Encounter, g.FHIRUser),
	}), nil
}

func contextClaims(patient, encounter, fhirUser string) map[string]any {
	m := map[string]any{}
	for name, v := range map[string]string{claimPatient: patient, claimEncounter: encounter, claimFHIRUser: fhirUser} {
		if v != "" {
			m[name] = v
		}
	}
	return m
}

// Revocation answers RFC 7009 revocation: revoking an access or refresh
// token revokes its whole grant (every token of the same authorization).
// Tokens that are unknown, expired or another client's are ignored, as
// the RFC asks: the answer is 200 either way.
func (s *Server) Revocation(ctx context.Context, r *op.ClientRequest[oidc.RevocationRequest]) (*op.Response, error) {
	grantID, clientID := "", ""
	if c, err := s.parseAccessToken(ctx, r.Data.Token); err == nil {
		grantID, clientID = c.GrantID, c.ClientID
	} else if !errors.Is(err, ErrInvalidToken) {
		return nil, op.RevocationError(oidc.ErrServerError().WithParent(err))
	} else {
		var rt refreshRecord
		_, err := s.rec.get(ctx, kindRefresh, hashToken(r.Data.Token), &rt)
		if err != nil && !isNotFound(err) {
			return nil, op.RevocationError(oidc.ErrServerError().WithParent(err))
		}
		grantID, clientID = rt.Grant.ID, rt.Grant.ClientID
	}
	if grantID != "" && clientID == r.Client.GetID() {
		if err := s.revokeGrant(ctx, grantID); err != nil {
			return nil, op.RevocationError(oidc.ErrServerError().WithParent(err))
		}
	}
	return op.NewResponse(nil), nil
}

// UserInfo answers OpenID Connect userinfo for a user's access token:
// sub and fhirUser.
func (s *Server) UserInfo(ctx context.Context, r *op.Request[oidc.UserInfoRequest]) (*op.Response, error) {
	c, err := s.Verifier().Verify(ctx, r.Data.AccessToken)
	if err != nil {
		if errors.Is(err, ErrInvalidToken) {
			return nil, op.NewStatusError(oidc.ErrAccessDenied().WithDescription("access token invalid"), http.StatusUnauthorized)
		}
		return nil, oidc.ErrServerError().WithParent(err)
	}
	if c.FHIRUser == "" {
		return nil, op.NewStatusError(oidc.ErrAccessDenied().WithDescription("the token has no user"), http.StatusForbidden)
	}
	return op.NewResponse(&oidc.UserInfo{Subject: c.Subject, Claims: map[string]any{claimFHIRUser: s.absoluteFHIRUser(c.FHIRUser)}}), nil
}
