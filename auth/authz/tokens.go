package authz

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// grant is one authorization: what a user (or, for client_credentials,
// the client itself) allowed one client. Codes and refresh tokens carry
// it; every access token names it, and revoking it revokes them all.
type grant struct {
	ID       string   `json:"id"`
	ClientID string   `json:"client_id"`
	Subject  string   `json:"sub"`
	FHIRUser string   `json:"fhirUser,omitempty"`
	Scopes   []string `json:"scopes"`
	// Patient and Encounter are the launch context (bare ids).
	Patient           string    `json:"patient,omitempty"`
	Encounter         string    `json:"encounter,omitempty"`
	NeedPatientBanner bool      `json:"need_patient_banner,omitempty"`
	Intent            string    `json:"intent,omitempty"`
	AuthTime          time.Time `json:"auth_time"`
	Nonce             string    `json:"nonce,omitempty"`
	// Interactive marks a grant made by a user at the login page.
	Interactive bool `json:"interactive,omitempty"`
}

// refreshRecord is a refresh token as stored (kind oauth.refresh, ID the
// token's hash): refresh tokens are opaque and single use.
type refreshRecord struct {
	Grant   grant     `json:"grant"`
	Expires time.Time `json:"expires"`
}

// tokenResponse is the token endpoint's answer: RFC 6749's fields with
// SMART's launch context added.
type tokenResponse struct {
	AccessToken       string `json:"access_token"`
	TokenType         string `json:"token_type"`
	ExpiresIn         int64  `json:"expires_in"`
	Scope             string `json:"scope"`
	RefreshToken      string `json:"refresh_token,omitempty"`
	IDToken           string `json:"id_token,omitempty"`
	Patient           string `json:"patient,omitempty"`
	Encounter         string `json:"encounter,omitempty"`
	FHIRUser          string `json:"fhirUser,omitempty"`
	Intent            string `json:"intent,omitempty"`
	NeedPatientBanner *bool  `json:"need_patient_banner,omitempty"`
	SmartStyleURL     string `json:"smart_style_url,omitempty"`
}

// hashToken is the record ID of a code or refresh token: the store never
// holds a usable token.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// issue signs an access token (and an id_token when scopes hold openid,
// a refresh token when they hold offline_access or online_access and
// refresh is set) for g with the given scopes, a subset of g's.
func (s *Server) issue(ctx context.Context, g grant, scopes []string, refresh bool) (*op.Response, error) {
	signer, err := s.keys.signer(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	exp := now.Add(s.cfg.AccessTokenTTL)
	private := map[string]any{claimGrant: g.ID}
	for name, v := range map[string]string{claimPatient: g.Patient, claimEncounter: g.Encounter, claimFHIRUser: g.FHIRUser} {
		if v != "" {
			private[name] = v
		}
	}
	access, err := signJWT(&oidc.AccessTokenClaims{
		TokenClaims: oidc.TokenClaims{
			Issuer: s.cfg.Issuer, Subject: g.Subject, Audience: []string{s.cfg.FHIRBase},
			Expiration: oidc.FromTime(exp), IssuedAt: oidc.FromTime(now), NotBefore: oidc.FromTime(now),
			ClientID: g.ClientID, JWTID: randomToken(16),
		},
		Scopes: scopes,
		Claims: private,
	}, signer)
	if err != nil {
		return nil, err
	}
	resp := &tokenResponse{
		AccessToken: access, TokenType: oidc.BearerToken, ExpiresIn: int64(s.cfg.AccessTokenTTL / time.Second),
		Scope: strings.Join(scopes, " "), Patient: g.Patient, Encounter: g.Encounter, Intent: g.Intent,
	}
	if g.Interactive {
		banner := g.NeedPatientBanner
		resp.NeedPatientBanner = &banner
		resp.SmartStyleURL = s.cfg.StyleURL
		if slices.Contains(scopes, scopeFHIRUser) {
			resp.FHIRUser = g.FHIRUser
		}
	}
	if g.Interactive && slices.Contains(scopes, oidc.ScopeOpenID) {
		if resp.IDToken, err = s.idToken(signer, g, scopes, access, now); err != nil {
			return nil, err
		}
	}
	if refresh {
		if resp.RefreshToken, err = s.newRefreshToken(ctx, g); err != nil {
			return nil, err
		}
	}
	return op.NewResponse(resp), nil
}

func (s *Server) idToken(signer jose.Signer, g grant, scopes []string, access string, now time.Time) (string, error) {
	atHash, err := oidc.ClaimHash(access, signingAlg)
	if err != nil {
		return "", err
	}
	claims := &oidc.IDTokenClaims{
		TokenClaims: oidc.TokenClaims{
			Issuer: s.cfg.Issuer, Subject: g.Subject, Audience: []string{g.ClientID},
			Expiration: oidc.FromTime(now.Add(s.cfg.IDTokenTTL)), IssuedAt: oidc.FromTime(now),
			AuthTime: oidc.FromTime(g.AuthTime), Nonce: g.Nonce, AuthorizedParty: g.ClientID,
		},
		AccessTokenHash: atHash,
	}
	if slices.Contains(scopes, scopeFHIRUser) {
		claims.Claims = map[string]any{claimFHIRUser: s.absoluteFHIRUser(g.FHIRUser)}
	}
	return signJWT(claims, signer)
}

// absoluteFHIRUser is the fhirUser claim of an id_token: SMART wants the
// resource's absolute URL.
func (s *Server) absoluteFHIRUser(ref string) string { return s.cfg.FHIRBase + "/" + ref }

// refreshTTL is how long g's refresh tokens live; 0 when g has none.
func (s *Server) refreshTTL(scopes []string) time.Duration {
	switch {
	case slices.Contains(scopes, oidc.ScopeOfflineAccess):
		return s.cfg.OfflineTTL
	case slices.Contains(scopes, scopeOnlineAccess):
		return s.cfg.OnlineTTL
	}
	return 0
}

func (s *Server) newRefreshToken(ctx context.Context, g grant) (string, error) {
	token := randomToken(32)
	exp := s.now().Add(s.refreshTTL(g.Scopes))
	if err := s.rec.put(ctx, kindRefresh, hashToken(token), refreshRecord{Grant: g, Expires: exp}, 0, exp); err != nil {
		return "", fmt.Errorf("authz: store refresh token: %w", err)
	}
	return token, nil
}

// revokedTTL is how long a revocation must be remembered: until every
// token issued before it has expired.
func (s *Server) revokedTTL() time.Duration {
	return max(s.cfg.OfflineTTL, s.cfg.OnlineTTL, s.cfg.AccessTokenTTL) + time.Minute
}

// revokeGrant makes every token of the grant invalid.
func (s *Server) revokeGrant(ctx context.Context, grantID string) error {
	err := s.rec.put(ctx, kindRevoked, grantID, struct{}{}, 0, s.now().Add(s.revokedTTL()))
	if err != nil && !isConflict(err) {
		return fmt.Errorf("authz: revoke grant: %w", err)
	}
	return nil
}

func (s *Server) isRevoked(ctx context.Context, grantID string) (bool, error) {
	_, err := s.cfg.Store.GetRecord(ctx, kindRevoked, grantID)
	switch {
	case err == nil:
		return true, nil
	case isNotFound(err):
		return false, nil
	}
	return false, err
}

// RefreshToken exchanges a refresh token (single use: each exchange
// issues a new one) for new tokens with the same or a narrower scope.
func (s *Server) RefreshToken(ctx context.Context, r *op.ClientRequest[oidc.RefreshTokenRequest]) (*op.Response, error) {
	id := hashToken(r.Data.RefreshToken)
	var rt refreshRecord
	if _, err := s.rec.get(ctx, kindRefresh, id, &rt); err != nil {
		if isNotFound(err) {
			return nil, oidc.ErrInvalidGrant().WithDescription("unknown or expired refresh token")
		}
		return nil, err
	}
	if rt.Grant.ClientID != r.Client.GetID() {
		return nil, oidc.ErrInvalidGrant().WithDescription("refresh token was issued to another client")
	}
	if !s.now().Before(rt.Expires) {
		return nil, oidc.ErrInvalidGrant().WithDescription("refresh token expired")
	}
	scopes := rt.Grant.Scopes
	if len(r.Data.Scopes) > 0 {
		for _, sc := range r.Data.Scopes {
			if !slices.Contains(rt.Grant.Scopes, sc) {
				return nil, oidc.ErrInvalidScope().WithDescription("scope %q was not granted; a refresh may only narrow the scope", sc)
			}
		}
		scopes = r.Data.Scopes
	}
	revoked, err := s.isRevoked(ctx, rt.Grant.ID)
	if err != nil {
		return nil, err
	}
	if revoked {
		return nil, oidc.ErrInvalidGrant().WithDescription("refresh token revoked")
	}
	if err := s.cfg.Store.DeleteRecord(ctx, kindRefresh, id); err != nil {
		if isNotFound(err) {
			return nil, oidc.ErrInvalidGrant().WithDescription("refresh token already used")
		}
		return nil, err
	}
	return s.issue(ctx, rt.Grant, scopes, s.refreshTTL(scopes) > 0)
}

// publicRefresh lets a public client refresh without naming itself:
// fhirclient sends no client_id then. When a refresh request carries no
// client authentication at all, the client_id is taken from the refresh
// token before the library reads the form, if that token belongs to a
// public client; confidential and backend clients must still
// authenticate. An unknown token is invalid_grant right away, as there
// is no client to ask about.
func (s *Server) publicRefresh(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == pathToken && r.Method == http.MethodPost && r.ParseForm() == nil &&
			r.PostForm.Get("grant_type") == string(oidc.GrantTypeRefreshToken) &&
			r.Form.Get("client_id") == "" && r.Form.Get("client_assertion") == "" && r.Header.Get("Authorization") == "" {
			var rt refreshRecord
			_, err := s.rec.get(r.Context(), kindRefresh, hashToken(r.PostForm.Get("refresh_token")), &rt)
			if isNotFound(err) {
				op.WriteError(w, r, oidc.ErrInvalidGrant().WithDescription("unknown, used or expired refresh token"), nil)
				return
			}
			if c, cerr := s.client(r.Context(), rt.Grant.ClientID); err == nil && cerr == nil && c.rec.Type == ClientPublic {
				r.Form.Set("client_id", c.id)
			}
		}
		next.ServeHTTP(w, r)
	})
}
