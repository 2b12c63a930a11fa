package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var binary string

// TestMain builds the real binary once; the tests run it as a process so
// that signals and kill -9 are real.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "medbridge-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "medbridge")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type process struct {
	cmd    *exec.Cmd
	base   string
	stderr *bytes.Buffer
	mu     *sync.Mutex
	done   chan error
}

// start runs `medbridge serve` on 127.0.0.1:0 with JSON logs and, unless
// args say otherwise, --auth off, and waits for the start-up line, which
// names the base URL and the store.
func start(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json", "--auth", "off"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, stderr: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan error, 1)}
	started := make(chan map[string]any, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == "medbridge serving" {
				started <- line
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case line := <-started:
		p.base, _ = line["base_url"].(string)
		if line["store"] == nil {
			t.Errorf("start-up line does not name the store: %v", line)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no start-up line; stderr:\n%s", p.log())
	}
	return p
}

func (p *process) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func (p *process) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.done:
		return err
	case <-time.After(60 * time.Second):
		t.Fatalf("process did not exit; stderr:\n%s", p.log())
		return nil
	}
}

func create(base string, n int) (string, int, error) {
	body := fmt.Sprintf(`{"resourceType":"Patient","identifier":[{"system":"urn:test","value":"%d"}]}`, n)
	res, err := http.Post(base+"/Patient", "application/fhir+json", strings.NewReader(body))
	if err != nil {
		return "", 0, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var r struct{ ID string }
	json.Unmarshal(b, &r)
	return r.ID, res.StatusCode, nil
}

// writeUntilStopped creates patients from 8 clients until the server stops
// answering, and returns the ids of every acknowledged (201) create.
func writeUntilStopped(base string, stop <-chan struct{}) []string {
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
		n     atomic.Int64
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				id, status, err := create(base, int(n.Add(1)))
				if err != nil {
					return // the server is gone
				}
				if status == http.StatusCreated {
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return acked
}

func checkAllThere(t *testing.T, base string, ids []string) {
	t.Helper()
	for _, id := range ids {
		res, err := http.Get(base + "/Patient/" + id)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("acknowledged Patient/%s answers %d after restart", id, res.StatusCode)
		}
	}
}

// TestKill9LosesNothingAcknowledged writes from 8 clients, kills the
// process with SIGKILL mid-stream, restarts it on the same data dir and
// reads back every create that was acknowledged with 201.
func TestKill9LosesNothingAcknowledged(t *testing.T) {
	dir := t.TempDir()
	p := start(t, nil, "--data-dir", dir)
	stop := make(chan struct{})
	go func() {
		time.Sleep(1500 * time.Millisecond)
		p.cmd.Process.Signal(syscall.SIGKILL)
		close(stop)
	}()
	acked := writeUntilStopped(p.base, stop)
	p.wait(t)
	if len(acked) < 50 {
		t.Fatalf("only %d creates acknowledged before the kill", len(acked))
	}
	p = start(t, nil, "--data-dir", dir)
	checkAllThere(t, p.base, acked)
	t.Logf("%d acknowledged creates all present after kill -9", len(acked))
}

// TestGracefulShutdown sends SIGTERM under load: the process exits 0 after
// finishing in-flight requests and closing the store, and every
// acknowledged write is there after a restart.
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	p := start(t, nil, "--data-dir", dir)
	stop := make(chan struct{})
	go func() {
		time.Sleep(time.Second)
		p.cmd.Process.Signal(syscall.SIGTERM)
		time.Sleep(2 * time.Second)
		close(stop)
	}()
	acked := writeUntilStopped(p.base, stop)
	if err := p.wait(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.log())
	}
	for _, want := range []string{"shutting down", `"msg":"stopped"`} {
		if !strings.Contains(p.log(), want) {
			t.Errorf("log lacks %q:\n%s", want, p.log())
		}
	}
	p = start(t, nil, "--data-dir", dir)
	checkAllThere(t, p.base, acked)
}

// TestEnvironmentFlags: MEDBRIDGE_* variables configure serve, and flags
// given on the command line win over them.
func TestEnvironmentFlags(t *testing.T) {
	dir := t.TempDir()
	p := start(t, []string{"MEDBRIDGE_DATA_DIR=" + dir, "MEDBRIDGE_BASE_URL=http://fhir.example/fhir", "MEDBRIDGE_MAX_BODY=1KiB", "MEDBRIDGE_LOG_FORMAT=text"})
	if p.base != "http://fhir.example/fhir" {
		t.Errorf("base URL %q from MEDBRIDGE_BASE_URL", p.base)
	}
	if _, err := os.Stat(filepath.Join(dir, "medbridge.db")); err != nil {
		t.Errorf("MEDBRIDGE_DATA_DIR not used: %v", err)
	}
	if err := run(t.Context(), []string{"serve", "--auth", "basic"}, io.Discard); err == nil {
		t.Error("--auth basic accepted")
	}
	err := run(t.Context(), []string{"serve", "--auth", "off", "--addr", "0.0.0.0:0", "--data-dir", t.TempDir()}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("--auth off on 0.0.0.0: %v, want a refusal naming loopback addresses", err)
	}
	if _, err := parseServeFlags([]string{"--max-body", "lots"}, io.Discard); err == nil {
		t.Error("--max-body lots accepted")
	}
}
