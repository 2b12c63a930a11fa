package main

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// backendToken registers a backend client with the demo key pair of
// testdata/smart in the store of dataDir and gets a client_credentials
// token for scope from the server at root.
func backendToken(t *testing.T, dataDir, root, scope string) string {
	t.Helper()
	cmd := exec.Command(binary, "clients", "add", "--type", "backend", "--name", "test backend",
		"--jwks-file", "../../testdata/smart/backend.jwks.json", "--data-dir", dataDir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("clients add: %v", err)
	}
	var reg struct {
		ClientID string `json:"client_id"`
	}
	if err := json.Unmarshal(out, &reg); err != nil {
		t.Fatalf("clients add printed %s", out)
	}
	pemBytes, err := os.ReadFile("../../testdata/smart/backend-private.pem")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS384, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "demo-1"))
	if err != nil {
		t.Fatal(err)
	}
	jti := make([]byte, 16)
	rand.Read(jti)
	assertion, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer: reg.ClientID, Subject: reg.ClientID, Audience: jwt.Audience{root + "/auth/token"},
		Expiry: jwt.NewNumericDate(time.Now().Add(4 * time.Minute)), ID: hex.EncodeToString(jti),
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.PostForm(root+"/auth/token", url.Values{
		"grant_type": {"client_credentials"}, "scope": {scope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || res.StatusCode != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("token request: %d %v", res.StatusCode, err)
	}
	return tok.AccessToken
}

func getWithToken(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestExternalIdentityProvider: a second medbridge configured with
// --oidc-issuer accepts the access tokens of the first one's authorization
// server (discovery, JWKS, issuer and audience checked by go-oidc) and
// enforces their scopes; tokens for another audience are refused.
func TestExternalIdentityProvider(t *testing.T) {
	idpDir := t.TempDir()
	idp := start(t, nil, "--data-dir", idpDir, "--auth", "smart")
	idpRoot := strings.TrimSuffix(idp.base, "/fhir")
	fhir := start(t, nil, "--data-dir", t.TempDir(), "--auth", "smart",
		"--oidc-issuer", idpRoot+"/auth", "--oidc-audience", idp.base)
	read := backendToken(t, idpDir, idpRoot, "system/*.rs")
	if code := getWithToken(t, fhir.base+"/Patient", read); code != http.StatusOK {
		t.Errorf("search with the provider's system/*.rs token: %d, want 200", code)
	}
	req, _ := http.NewRequest(http.MethodPost, fhir.base+"/Patient", strings.NewReader(`{"resourceType":"Patient"}`))
	req.Header.Set("Authorization", "Bearer "+read)
	req.Header.Set("Content-Type", "application/fhir+json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("create with a read-only token of the provider: %d, want 403", res.StatusCode)
	}
	if code := getWithToken(t, fhir.base+"/Patient", "not-a-token"); code != http.StatusUnauthorized {
		t.Errorf("garbage token: %d, want 401", code)
	}
	// A third server that accepts the provider only for another audience
	// refuses the same token.
	other := start(t, nil, "--data-dir", t.TempDir(), "--auth", "smart",
		"--oidc-issuer", idpRoot+"/auth", "--oidc-audience", "https://elsewhere.example/fhir")
	if code := getWithToken(t, other.base+"/Patient", read); code != http.StatusUnauthorized {
		t.Errorf("token for another audience: %d, want 401", code)
	}
}
