package authz_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

func TestSmartConfiguration(t *testing.T) {
	e := newEnv(t)
	resp, body := e.Get(e.FHIRBase + "/.well-known/smart-configuration")
	if resp.StatusCode != http.StatusOK {
		t.Fatal(resp.Status)
	}
	var c map[string]any
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]string{
		"issuer": e.Issuer, "jwks_uri": e.Issuer + "/jwks", "authorization_endpoint": e.Issuer + "/authorize",
		"token_endpoint": e.Issuer + "/token", "introspection_endpoint": e.Issuer + "/introspect",
		"revocation_endpoint": e.Issuer + "/revoke",
	} {
		if c[field] != want {
			t.Errorf("%s = %v, want %s", field, c[field], want)
		}
	}
	list := func(field string) []string {
		var out []string
		for _, v := range c[field].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	if got := list("code_challenge_methods_supported"); !slices.Equal(got, []string{"S256"}) {
		t.Errorf("code_challenge_methods_supported = %v", got)
	}
	for field, want := range map[string][]string{
		"grant_types_supported":                            {"authorization_code", "refresh_token", "client_credentials"},
		"token_endpoint_auth_methods_supported":            {"client_secret_basic", "private_key_jwt", "none"},
		"response_types_supported":                         {"code"},
		"token_endpoint_auth_signing_alg_values_supported": {"RS384", "ES384"},
		"scopes_supported":                                 {"openid", "fhirUser", "launch", "launch/patient", "offline_access", "online_access"},
		"capabilities": {"launch-ehr", "launch-standalone", "client-public", "client-confidential-symmetric",
			"client-confidential-asymmetric", "context-ehr-patient", "context-ehr-encounter", "context-standalone-patient",
			"permission-offline", "permission-online", "permission-patient", "permission-user", "permission-v1",
			"permission-v2", "sso-openid-connect", "context-banner", "context-style"},
	} {
		got := list(field)
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("%s lacks %s", field, w)
			}
		}
	}
}

func TestOpenIDConfiguration(t *testing.T) {
	e := newEnv(t)
	resp, body := e.Get(e.Issuer + "/.well-known/openid-configuration")
	var c struct {
		Issuer   string   `json:"issuer"`
		JWKS     string   `json:"jwks_uri"`
		Token    string   `json:"token_endpoint"`
		PKCE     []string `json:"code_challenge_methods_supported"`
		IDTokAlg []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := json.Unmarshal([]byte(body), &c); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if c.Issuer != e.Issuer || c.JWKS != e.Issuer+"/jwks" || c.Token != e.Issuer+"/token" || !slices.Equal(c.PKCE, []string{"S256"}) || !slices.Equal(c.IDTokAlg, []string{"RS256"}) {
		t.Errorf("%+v", c)
	}
	if len(e.jwks().Keys) != 1 {
		t.Error("no signing key published")
	}
}

// Browser apps need CORS on the token endpoint, with Authorization named.
func TestTokenEndpointCORS(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest(http.MethodOptions, e.Issuer+"/token", nil)
	req.Header.Set("Origin", "http://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
	resp, _ := e.Do(req)
	if resp.Header.Get("Access-Control-Allow-Origin") == "" {
		t.Errorf("no CORS on the token endpoint: %v", resp.Header)
	}
}
