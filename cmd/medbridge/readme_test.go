package main

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// readmeStep is one curl of a README walk-through and the status its
// comment promises.
type readmeStep struct {
	status  string
	command string
}

// walkthrough is one sh block of the README with curls: the flags its
// server runs with (from a "# server: go run ./cmd/medbridge serve ..."
// line, none without one) and its steps.
type walkthrough struct {
	section string
	flags   []string
	steps   []readmeStep
}

// readmeWalkthroughs reads every sh block of the README in which each
// command is a curl preceded by a comment starting with its expected
// status code (blocks without status comments are not walk-throughs).
func readmeWalkthroughs(t *testing.T) []walkthrough {
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out         []walkthrough
		cur         *walkthrough
		section     string
		status, cmd string
	)
	statusComment := regexp.MustCompile(`^# (\d{3}) `)
	serverComment := regexp.MustCompile(`^# server: go run \./cmd/medbridge serve(.*)$`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "## "):
			section = strings.TrimPrefix(line, "## ")
		case cur == nil && line == "```sh":
			cur = &walkthrough{section: section}
		case cur != nil && line == "```":
			if len(cur.steps) > 0 {
				out = append(out, *cur)
			}
			cur = nil
		case cur != nil:
			if m := serverComment.FindStringSubmatch(line); m != nil {
				cur.flags = strings.Fields(m[1])
				continue
			}
			if m := statusComment.FindStringSubmatch(line); m != nil {
				status = m[1]
				continue
			}
			if strings.TrimSpace(line) == "" || status == "" && cmd == "" {
				continue // prose commands (go run ...) are not steps
			}
			cmd += strings.TrimSuffix(line, `\`) + " "
			if !strings.HasSuffix(line, `\`) {
				cur.steps = append(cur.steps, readmeStep{status: status, command: strings.TrimSpace(cmd)})
				status, cmd = "", ""
			}
		}
	}
	return out
}

// TestReadmeWalkthrough runs every curl of the README's walk-throughs
// verbatim from the repository root (only the host and port are swapped
// for the test server's), in order, each walk-through against a fresh
// server started with its flags, and checks each answers the status its
// comment names.
func TestReadmeWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to check the README's walk-through")
	}
	walks := readmeWalkthroughs(t)
	if len(walks) < 2 || walks[0].section != "Try it" || len(walks[0].steps) < 8 {
		t.Fatalf("README walk-throughs: %+v", walks)
	}
	for _, w := range walks {
		t.Run(w.section, func(t *testing.T) {
			flags := append([]string{"--data-dir", t.TempDir()}, w.flags...)
			for i, f := range flags {
				if strings.HasPrefix(f, "testdata/") {
					flags[i] = "../../" + f // the README runs from the repository root
				}
			}
			p := start(t, nil, flags...)
			root := strings.TrimSuffix(p.base, "/fhir")
			httpStatus := regexp.MustCompile(`(?m)^HTTP/[\d.]+ (\d{3})`)
			for i, s := range w.steps {
				if !strings.HasPrefix(s.command, "curl ") {
					t.Fatalf("step %d is not a curl: %q", i+1, s.command)
				}
				cmd := exec.Command("sh", "-c", strings.ReplaceAll(s.command, "http://127.0.0.1:8080", root))
				cmd.Dir = "../.."
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("step %d: %v\n%s\n%s", i+1, err, s.command, out)
				}
				m := httpStatus.FindSubmatch(out)
				if m == nil || string(m[1]) != s.status {
					t.Errorf("step %d answered %s, README says %s:\n%s\n%s", i+1, m, s.status, s.command, out)
				}
			}
		})
	}
}

// readmeScripts returns the sh blocks of a README section that have no
// status comments: scripts a reader pastes whole.
func readmeScripts(t *testing.T, section string) []string {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n## "+section+"\n")
	if !ok {
		t.Fatalf("README has no section %q", section)
	}
	rest, _, _ = strings.Cut(rest, "\n## ")
	var out []string
	for {
		_, after, ok := strings.Cut(rest, "```sh\n")
		if !ok {
			return out
		}
		block, tail, _ := strings.Cut(after, "```")
		out = append(out, block)
		rest = tail
	}
}

// TestReadmeSMART runs the SMART section's scripts as written (with the
// built binary for `go run ./cmd/medbridge` and the test server's address)
// against `serve --auth smart`: the user and app registration succeed, and
// the curl-only backend recipe gets a token that reads Patients.
func TestReadmeSMART(t *testing.T) {
	dir := t.TempDir()
	p := start(t, nil, "--data-dir", dir, "--auth", "smart")
	root := strings.TrimSuffix(p.base, "/fhir")
	scripts := readmeScripts(t, "SMART on FHIR")
	if len(scripts) != 2 {
		t.Fatalf("SMART on FHIR has %d sh blocks, want 2", len(scripts))
	}
	for i, script := range scripts {
		script = strings.ReplaceAll(script, "go run ./cmd/medbridge", binary)
		script = strings.ReplaceAll(script, "http://127.0.0.1:8080", root)
		cmd := exec.Command("bash", "-e", "-o", "pipefail", "-c", script)
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), "MEDBRIDGE_DATA_DIR="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("script %d: %v\n%s", i+1, err, out)
		}
		if i == 1 && !regexp.MustCompile(`(?m)^HTTP/[\d.]+ 200`).Match(out) {
			t.Errorf("the backend token did not read Patients:\n%s", out)
		}
	}
}
