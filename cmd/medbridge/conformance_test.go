package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medbridge/medbridge/server/servertest"
)

// knownFailures are the claims medbridge's CapabilityStatement makes that
// the harness shows untrue, as "Scope kind claim"; each is a server bug to
// fix, after which it leaves this list.
var knownFailures []string

// failedRow is a row of the Markdown report's "Failed claims" table.
var failedRow = regexp.MustCompile(`(?m)^\| (\S+) \| (\S+) \| (.+?) \| .* \| .* \|$`)

// failedClaims reads the failed claims from a Markdown report.
func failedClaims(md string) []string {
	_, section, ok := strings.Cut(md, "## Failed claims\n")
	if !ok {
		return nil
	}
	section, _, _ = strings.Cut(section, "\n\n## ")
	var out []string
	for _, m := range failedRow.FindAllStringSubmatch(section, -1) {
		if m[1] != "Scope" && !strings.HasPrefix(m[1], "---") {
			out = append(out, m[1]+" "+m[2]+" "+strings.ReplaceAll(m[3], `\`, ""))
		}
	}
	return out
}

// TestConformanceMedbridge runs `medbridge conformance` against a running
// medbridge: every claim of its CapabilityStatement holds but the known
// failures, skips are few and have reasons, and the reports are written.
func TestConformanceMedbridge(t *testing.T) {
	p := start(t, nil, "--data-dir", t.TempDir())
	dir := t.TempDir()
	began := time.Now()
	cmd := exec.Command(binary, "conformance", "--base", p.base, "--out", dir, "--timeout", "90s")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	t.Logf("%s(%s)", stderr.String(), time.Since(began).Round(time.Millisecond))
	md, rerr := os.ReadFile(filepath.Join(dir, "conformance.md"))
	if rerr != nil {
		t.Fatalf("no Markdown report: %v (conformance: %v)", rerr, err)
	}
	failed := failedClaims(string(md))
	for _, f := range failed {
		if !slices.Contains(knownFailures, f) {
			t.Errorf("claim failed: %s", f)
		}
	}
	for _, k := range knownFailures {
		if !slices.Contains(failed, k) {
			t.Errorf("known failure %q holds now: remove it from knownFailures", k)
		}
	}
	if (err != nil) != (len(failed) > 0) {
		t.Errorf("exit status %v with %d failed claims", err, len(failed))
	}
	// Every operation's definition is checked: $lastn and $stats on
	// Observation, $validate on every type.
	for claim, min := range map[string]int{"$lastn": 1, "$stats": 1, "$validate": 140} {
		if n := strings.Count(string(md), "| definition | "+claim+" | pass |"); n < min {
			t.Errorf("the definition of %s passed on %d types, want at least %d", claim, n, min)
		}
	}
	counts := regexp.MustCompile(`\| Claims \| Passed \| Failed \| Skipped \|\n\|---:\|---:\|---:\|---:\|\n\| (\d+) \| (\d+) \| (\d+) \| (\d+) \|`).FindStringSubmatch(string(md))
	if counts == nil {
		t.Fatalf("the report has no counts:\n%.2000s", md)
	}
	if claims, _ := strconv.Atoi(counts[1]); claims < 1000 {
		t.Errorf("only %d claims checked", claims)
	}
	if skips := regexp.MustCompile(`(?s)## Skipped claims, by reason\n\n(.*?)\n\n`).FindStringSubmatch(string(md)); skips != nil {
		t.Logf("skipped claims:\n%s", skips[1])
		if strings.Contains(skips[1], "|  |") {
			t.Error("a skipped claim has no reason")
		}
	}
	if skipped, _ := strconv.Atoi(counts[4]); skipped > 20 {
		t.Errorf("%d claims skipped; expected few", skipped)
	}
	html, err := os.ReadFile(filepath.Join(dir, "conformance.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(html, []byte("<table>")) || bytes.Contains(html, []byte("<script")) {
		t.Errorf("the HTML report is not a self-contained page of tables")
	}
}

// TestConformanceBrokenClaim serves medbridge behind a proxy whose
// /metadata claims a search parameter and an operation medbridge does not
// have, the operation with a definition that does not resolve, and
// $validate with the definition of $lastn: the harness reports the four
// failed and the command fails.
func TestConformanceBrokenClaim(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite)
	target, err := url.Parse(srv.Root)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var proxyBase string // the FHIR base behind the proxy
	proxy.ModifyResponse = func(res *http.Response) error {
		if res.Request.URL.Path != "/fhir/metadata" {
			return nil
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return err
		}
		var cs map[string]any
		if err := json.Unmarshal(body, &cs); err != nil {
			return err
		}
		for _, r := range cs["rest"].([]any)[0].(map[string]any)["resource"].([]any) {
			if r := r.(map[string]any); r["type"] == "Patient" {
				r["searchParam"] = append(r["searchParam"].([]any), map[string]any{"name": "shoe-size", "type": "number"})
				ops := r["operation"].([]any)
				for _, op := range ops {
					if op := op.(map[string]any); op["name"] == "validate" {
						op["definition"] = proxyBase + "/OperationDefinition/Observation-lastn"
					}
				}
				r["operation"] = append(ops, map[string]any{"name": "teleport", "definition": "OperationDefinition/teleport"})
			}
		}
		body, _ = json.Marshal(cs)
		res.Body = io.NopCloser(bytes.NewReader(body))
		res.ContentLength = int64(len(body))
		res.Header.Del("Content-Length")
		return nil
	}
	ts := httptest.NewServer(proxy)
	defer ts.Close()
	proxyBase = ts.URL + "/fhir"

	report := filepath.Join(t.TempDir(), "report.md")
	err = run(t.Context(), []string{"conformance", "--base", proxyBase, "--types", "Patient", "--markdown", report}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "4 of") {
		t.Errorf("conformance with four false claims: %v, want an error counting 4 failed claims", err)
	}
	md, rerr := os.ReadFile(report)
	if rerr != nil {
		t.Fatal(rerr)
	}
	failed := failedClaims(string(md))
	want := []string{"Patient search-param shoe-size", "Patient operation $teleport", "Patient definition $teleport", "Patient definition $validate"}
	slices.Sort(failed)
	slices.Sort(want)
	if !slices.Equal(failed, want) {
		t.Errorf("failed claims %q, want %q", failed, want)
	}
}
