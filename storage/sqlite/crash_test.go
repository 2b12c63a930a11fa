package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// crashDirEnv tells the test binary, re-run as a child, to write into a store
// in that directory until it is killed.
const crashDirEnv = "MEDBRIDGE_SQLITE_CRASH_DIR"

// TestKillKeepsAcknowledgedWrites kills a process with SIGKILL while it
// writes from many goroutines, then checks that every write it had
// acknowledged is in the store: a group commit must not acknowledge before
// its transaction committed.
func TestKillKeepsAcknowledgedWrites(t *testing.T) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		writeUntilKilled(dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillKeepsAcknowledgedWrites$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]int64{} // id → highest acknowledged version
	lines := bufio.NewScanner(out)
	for n := 0; n < 500 && lines.Scan(); n++ {
		var id string
		var v int64
		if _, err := fmt.Sscanf(lines.Text(), "ack %s %d", &id, &v); err != nil {
			t.Fatalf("child said %q", lines.Text())
		}
		acked[id] = max(acked[id], v)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if len(acked) == 0 {
		t.Fatal("the child acknowledged no writes")
	}

	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("Open after kill: %v", err)
	}
	defer s.Close()
	for id, v := range acked {
		cur, err := s.Read(context.Background(), "Patient", id)
		if err != nil {
			t.Errorf("Read %s, acknowledged at version %d: %v", id, v, err)
			continue
		}
		if cur.Version < v {
			t.Errorf("Patient/%s is at version %d, version %d was acknowledged", id, cur.Version, v)
		}
		if _, err := s.ReadVersion(context.Background(), "Patient", id, v); err != nil {
			t.Errorf("ReadVersion %s/%d: %v", id, v, err)
		}
	}
}

// writeUntilKilled creates and updates resources from 16 goroutines, printing
// "ack <id> <version>" after each successful Write.
func writeUntilKilled(dir string) {
	s, err := Open(context.Background(), dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var mu sync.Mutex
	for g := range 16 {
		go func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("g%d-%d", g, i%5)
				v := int64(i/5 + 1)
				r := fhir.Resource{Type: "Patient", ID: id, Version: v, LastUpdated: time.Now(), Method: "PUT",
					JSON: fmt.Appendf(nil, `{"resourceType":"Patient","id":%q}`, id)}
				if err := s.Write(context.Background(), storage.Write{Resource: r, Expected: v - 1}); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Printf("ack %s %d\n", id, v)
				mu.Unlock()
			}
		}()
	}
	select {}
}
