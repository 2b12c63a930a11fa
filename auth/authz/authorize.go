package authz

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// authRequest is an authorization request between the authorization
// endpoint and the code (kind oauth.authreq): the library validated the
// client, redirect URI, response type and scopes; Authorize the SMART
// rules; the login, picker and consent pages fill in the rest.
type authRequest struct {
	ClientID      string    `json:"client_id"`
	RedirectURI   string    `json:"redirect_uri"`
	State         string    `json:"state,omitempty"`
	Nonce         string    `json:"nonce,omitempty"`
	Scopes        []string  `json:"scopes"`
	CodeChallenge string    `json:"code_challenge"`
	Expires       time.Time `json:"expires"`
	// CSRF is the form token of the login, picker and consent pages.
	CSRF string `json:"csrf"`
	// Launch is the EHR launch context, nil for a standalone launch.
	Launch *LaunchContext `json:"launch,omitempty"`

	// Set by the login page.
	Username string    `json:"username,omitempty"`
	FHIRUser string    `json:"fhirUser,omitempty"`
	AuthTime time.Time `json:"auth_time,omitzero"`
	// Patient is the patient in context (bare id), from the launch, the
	// patient user or the picker.
	Patient string `json:"patient,omitempty"`
}

// codeRecord is an authorization code as stored (kind oauth.code, ID the
// code's hash). A used code is kept, marked, so that a second use can
// revoke what the first one issued.
type codeRecord struct {
	Grant         grant     `json:"grant"`
	RedirectURI   string    `json:"redirect_uri"`
	CodeChallenge string    `json:"code_challenge"`
	Expires       time.Time `json:"expires"`
	Used          bool      `json:"used,omitempty"`
}

// VerifyAuthRequest finds the request's client; the library then checks
// the redirect URI against it before anything else.
func (s *Server) VerifyAuthRequest(ctx context.Context, r *op.Request[oidc.AuthRequest]) (*op.ClientRequest[oidc.AuthRequest], error) {
	if r.Data.ClientID == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("client_id missing")
	}
	c, err := s.client(ctx, r.Data.ClientID)
	if err != nil {
		if err == errUnknownClient {
			return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
		}
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return &op.ClientRequest[oidc.AuthRequest]{Request: r, Client: c}, nil
}

// Authorize applies SMART's rules to a request whose redirect URI is
// valid (so its errors reach the app, with its state): PKCE with S256,
// aud equal to the FHIR base, a known launch. It stores the request and
// sends the user to the login page.
func (s *Server) Authorize(ctx context.Context, r *op.ClientRequest[oidc.AuthRequest]) (*op.Redirect, error) {
	ar := r.Data
	switch {
	case ar.RequestParam != "":
		return nil, oidc.ErrRequestNotSupported()
	case ar.CodeChallenge == "":
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE is required: send code_challenge with code_challenge_method S256")
	case ar.CodeChallengeMethod != oidc.CodeChallengeMethodS256:
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	case ar.ResponseMode != "" && ar.ResponseMode != oidc.ResponseModeQuery:
		return nil, oidc.ErrInvalidRequest().WithDescription("response_mode must be query")
	case slices.Contains(ar.Prompt, oidc.PromptNone):
		return nil, oidc.ErrLoginRequired().WithDescription("there are no sessions: the user must sign in")
	case len(ar.Scopes) == 0:
		return nil, oidc.ErrInvalidScope().WithDescription("no supported scope requested")
	}
	aud := r.Form.Get("aud")
	if normalizeBase(aud) != s.cfg.FHIRBase {
		return nil, oidc.ErrInvalidRequest().WithDescription("aud must be the FHIR base URL %s", s.cfg.FHIRBase)
	}
	req := authRequest{
		ClientID: ar.ClientID, RedirectURI: ar.RedirectURI, State: ar.State, Nonce: ar.Nonce,
		Scopes: ar.Scopes, CodeChallenge: ar.CodeChallenge,
		Expires: s.now().Add(s.cfg.LoginTTL), CSRF: randomToken(24),
	}
	// The launch parameter makes this an EHR launch, whether or not the
	// bare launch scope was sent (fhirclient omits it when the scope text
	// already mentions launch/patient).
	if launch := r.Form.Get("launch"); launch != "" {
		var lc LaunchContext
		if err := s.rec.take(ctx, kindLaunch, launch, &lc); err != nil {
			if isNotFound(err) {
				return nil, oidc.ErrInvalidRequest().WithDescription("unknown, used or expired launch")
			}
			return nil, oidc.ErrServerError().WithParent(err)
		}
		req.Launch = &lc
		req.Patient = lc.Patient
	}
	id := randomToken(24)
	if err := s.rec.put(ctx, kindAuthReq, id, req, 0, req.Expires); err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return op.NewRedirect(r.Client.LoginURL(id)), nil
}

// grantFor builds the grant a consent gives: the scopes the user left
// ticked and the launch context they allow.
func (s *Server) grantFor(req *authRequest, scopes []string) grant {
	g := grant{
		ID: randomToken(16), ClientID: req.ClientID, Subject: req.Username, FHIRUser: req.FHIRUser,
		Scopes: scopes, AuthTime: req.AuthTime, Nonce: req.Nonce, Interactive: true,
		NeedPatientBanner: true,
	}
	ehr := slices.Contains(scopes, scopeLaunch)
	if req.Patient != "" && (ehr || slices.Contains(scopes, scopeLaunchPatient) || hasPrefixScope(scopes, "patient/")) {
		g.Patient = req.Patient
	}
	if req.Launch != nil {
		g.NeedPatientBanner = req.Launch.NeedPatientBanner
		g.Intent = req.Launch.Intent
		if req.Launch.Encounter != "" && (ehr || slices.Contains(scopes, scopeLaunchEncounter)) {
			g.Encounter = req.Launch.Encounter
		}
	}
	return g
}

func hasPrefixScope(scopes []string, prefix string) bool {
	return slices.ContainsFunc(scopes, func(s string) bool { return strings.HasPrefix(s, prefix) })
}

// newCode stores a code for g and returns the redirect that hands it to
// the app.
func (s *Server) newCode(ctx context.Context, req *authRequest, g grant) (string, error) {
	code := randomToken(32)
	exp := s.now().Add(s.cfg.CodeTTL)
	rec := codeRecord{Grant: g, RedirectURI: req.RedirectURI, CodeChallenge: req.CodeChallenge, Expires: exp}
	if err := s.rec.put(ctx, kindCode, hashToken(code), rec, 0, exp); err != nil {
		return "", fmt.Errorf("authz: store code: %w", err)
	}
	return redirectWith(req.RedirectURI, url.Values{"code": {code}, "state": {req.State}}), nil
}

// redirectWith adds params to the query of a registered redirect URI.
func redirectWith(redirectURI string, params url.Values) string {
	u, _ := url.Parse(redirectURI) // registered, hence valid
	q := u.Query()
	for k, vs := range params {
		if vs[0] != "" {
			q[k] = vs
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// CodeExchange redeems a code: once, within its lifetime, by the client
// it was issued to, with the same redirect_uri and the PKCE verifier. A
// second use revokes every token the first one issued.
func (s *Server) CodeExchange(ctx context.Context, r *op.ClientRequest[oidc.AccessTokenRequest]) (*op.Response, error) {
	id := hashToken(r.Data.Code)
	var c codeRecord
	version, err := s.rec.get(ctx, kindCode, id, &c)
	if err != nil {
		if isNotFound(err) {
			return nil, oidc.ErrInvalidGrant().WithDescription("unknown or expired code")
		}
		return nil, err
	}
	if c.Used {
		return nil, s.codeReused(ctx, c)
	}
	switch {
	case !s.now().Before(c.Expires):
		return nil, oidc.ErrInvalidGrant().WithDescription("code expired")
	case c.Grant.ClientID != r.Client.GetID():
		return nil, oidc.ErrInvalidGrant().WithDescription("code was issued to another client")
	case r.Data.RedirectURI != c.RedirectURI:
		return nil, oidc.ErrInvalidGrant().WithDescription("redirect_uri differs from the authorization request's")
	}
	challenge := &oidc.CodeChallenge{Challenge: c.CodeChallenge, Method: oidc.CodeChallengeMethodS256}
	if err := op.AuthorizeCodeChallenge(r.Data.CodeVerifier, challenge); err != nil {
		return nil, err
	}
	c.Used = true
	ttl := max(s.cfg.AccessTokenTTL, s.refreshTTL(c.Grant.Scopes))
	if err := s.rec.put(ctx, kindCode, id, c, version, s.now().Add(ttl)); err != nil {
		if isConflict(err) {
			return nil, s.codeReused(ctx, c)
		}
		return nil, err
	}
	return s.issue(ctx, c.Grant, c.Grant.Scopes, s.refreshTTL(c.Grant.Scopes) > 0)
}

// codeReused revokes the grant of a code presented twice.
func (s *Server) codeReused(ctx context.Context, c codeRecord) error {
	if err := s.revokeGrant(ctx, c.Grant.ID); err != nil {
		return err
	}
	return oidc.ErrInvalidGrant().WithDescription("code already used; the tokens it issued are revoked")
}
