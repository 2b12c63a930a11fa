package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestServeRequiresTokens: by default (--auth smart) FHIR and ingest
// requests need a bearer token; discovery and the CapabilityStatement do
// not, and they describe the authorization server.
func TestServeRequiresTokens(t *testing.T) {
	p := start(t, nil, "--data-dir", t.TempDir(), "--auth", "smart")
	root := strings.TrimSuffix(p.base, "/fhir")
	get := func(url string) (*http.Response, []byte) {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	for _, path := range []string{"/fhir/Patient", "/fhir/Observation/1", "/fhir/Observation/$lastn", "/ingest/mappings"} {
		res, body := get(root + path)
		if res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer realm=") ||
			!strings.Contains(string(body), `"OperationOutcome"`) {
			t.Errorf("GET %s without a token: %d %q %s", path, res.StatusCode, res.Header.Get("WWW-Authenticate"), body)
		}
	}
	res, body := get(p.base + "/.well-known/smart-configuration")
	var sc map[string]any
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &sc) != nil || sc["token_endpoint"] != root+"/auth/token" {
		t.Errorf("smart-configuration: %d %s", res.StatusCode, body)
	}
	res, body = get(p.base + "/metadata")
	for _, want := range []string{`"SMART-on-FHIR"`, `"cors":true`, "oauth-uris", root + "/auth/authorize"} {
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("CapabilityStatement lacks %s", want)
		}
	}
}
