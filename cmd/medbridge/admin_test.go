package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestAdminCommands: users, clients and keys are managed from the CLI in
// the store serve uses; secrets are shown once and never listed.
func TestAdminCommands(t *testing.T) {
	dir := t.TempDir()
	run := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(binary, append(args, "--data-dir", dir)...)
		cmd.Stdin = strings.NewReader(stdin)
		cmd.Env = append(os.Environ(), "MEDBRIDGE_PASSWORD=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("medbridge %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("correct horse battery staple\n", "users", "add", "--username", "dr.lee", "--fhir-user", "Practitioner/lee", "--name", "Dr Lee")
	if users := run("", "users", "list"); !strings.Contains(users, `"dr.lee"`) || strings.Contains(users, "horse") {
		t.Errorf("users list: %s", users)
	}
	var conf map[string]string
	if err := json.Unmarshal([]byte(run("", "clients", "add", "--type", "confidential", "--name", "EHR", "--redirect-uri", "https://ehr.example/cb", "--ehr-launch")), &conf); err != nil || conf["client_id"] == "" || conf["client_secret"] == "" {
		t.Fatalf("clients add confidential: %v %v", conf, err)
	}
	if list := run("", "clients", "list"); !strings.Contains(list, conf["client_id"]) || strings.Contains(list, conf["client_secret"]) {
		t.Errorf("clients list shows the secret or lacks the client: %s", list)
	}
	if out := run("", "keys", "rotate"); !strings.Contains(out, "new signing key") {
		t.Errorf("keys rotate: %s", out)
	}
	// Refusals.
	for _, tc := range []struct {
		stdin string
		args  []string
	}{
		{"", []string{"users", "add", "--username", "x", "--fhir-user", "Practitioner/x"}},               // no password
		{"pw\n", []string{"users", "add", "--username", "dr.lee", "--fhir-user", "Practitioner/lee"}},    // exists
		{"", []string{"clients", "add", "--type", "backend", "--name", "no keys"}},                       // backend without keys
		{"", []string{"clients", "add", "--type", "wizard", "--redirect-uri", "https://app.example/cb"}}, // unknown type
		{"", []string{"users", "remove"}}, // unknown verb
	} {
		cmd := exec.Command(binary, append(tc.args, "--data-dir", dir)...)
		cmd.Stdin = strings.NewReader(tc.stdin)
		cmd.Env = append(os.Environ(), "MEDBRIDGE_PASSWORD=")
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("medbridge %s succeeded:\n%s", strings.Join(tc.args, " "), out)
		}
	}
}
