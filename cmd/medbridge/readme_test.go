package main

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// readmeStep is one curl of the README's walk-through and the status its
// comment promises.
type readmeStep struct {
	status  string
	command string
}

// readmeSteps reads the first sh block after "## Try it": each command is
// preceded by a comment starting with its expected status code.
func readmeSteps(t *testing.T) []readmeStep {
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		steps             []readmeStep
		inSection, inCode bool
		status, cmd       string
	)
	statusComment := regexp.MustCompile(`^# (\d{3}) `)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "## Try it":
			inSection = true
		case inSection && line == "```sh":
			inCode = true
		case inCode && line == "```":
			return steps
		case inCode:
			if m := statusComment.FindStringSubmatch(line); m != nil {
				status = m[1]
				continue
			}
			if strings.TrimSpace(line) == "" {
				continue
			}
			cmd += strings.TrimSuffix(line, `\`) + " "
			if !strings.HasSuffix(line, `\`) {
				steps = append(steps, readmeStep{status: status, command: strings.TrimSpace(cmd)})
				status, cmd = "", ""
			}
		}
	}
	t.Fatal("README has no sh block under ## Try it")
	return nil
}

// TestReadmeWalkthrough runs every curl of the README verbatim (only the
// host and port are swapped for the test server's) in order against a
// fresh server, and checks each answers the status its comment names.
func TestReadmeWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to check the README's walk-through")
	}
	steps := readmeSteps(t)
	if len(steps) < 8 {
		t.Fatalf("found %d steps in the README walk-through", len(steps))
	}
	p := start(t, nil, "--data-dir", t.TempDir())
	root := strings.TrimSuffix(p.base, "/fhir")
	httpStatus := regexp.MustCompile(`(?m)^HTTP/[\d.]+ (\d{3})`)
	for i, s := range steps {
		if s.status == "" || !strings.HasPrefix(s.command, "curl ") {
			t.Fatalf("step %d has no status comment or is not a curl: %q", i+1, s.command)
		}
		cmd := strings.ReplaceAll(s.command, "http://127.0.0.1:8080", root)
		out, err := exec.Command("sh", "-c", cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("step %d: %v\n%s\n%s", i+1, err, cmd, out)
		}
		m := httpStatus.FindSubmatch(out)
		if m == nil || string(m[1]) != s.status {
			t.Errorf("step %d answered %s, README says %s:\n%s\n%s", i+1, m, s.status, s.command, out)
		}
	}
}
