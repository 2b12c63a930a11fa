package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

// atomicCrashDirEnv tells the test binary, re-run as a child, to update
// the Observations of the store in that directory in large transactions
// until it is killed.
const atomicCrashDirEnv = "MEDBRIDGE_SQLITE_ATOMIC_CRASH_DIR"

// atomicCrashSize is the number of Observations every transaction updates.
const atomicCrashSize = 5000

// TestKillDuringWriteAtomic kills a process with SIGKILL in the middle of
// a WriteAtomic of 5,000 Observations, three times at different points,
// and checks after each restart that the transaction is there entirely or
// not at all: every Observation at the same version, as many history rows
// as that makes, and the index rows of exactly that version (each
// transaction tags its versions with its round).
func TestKillDuringWriteAtomic(t *testing.T) {
	if dir := os.Getenv(atomicCrashDirEnv); dir != "" {
		writeAtomicUntilKilled(dir)
		return
	}
	if testing.Short() {
		t.Skip("starts processes")
	}
	ctx := context.Background()
	dir := t.TempDir()
	// Round 1 (version 1) is written here, to count a version's index rows.
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WriteAtomic(ctx, atomicCrashRound(t, 1)); err != nil {
		t.Fatal(err)
	}
	indexRows := countIndexRows(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	version := int64(1)
	for _, at := range []float64{0.3, 0.6, 0.9} {
		began, acked := killDuringRound(t, dir, at)
		s, err := Open(ctx, dir)
		if err != nil {
			t.Fatalf("Open after kill: %v", err)
		}
		var n, lo, hi, history int64
		if err := s.reader.QueryRow(`SELECT count(*), min(version), max(version) FROM resources WHERE type = 'Observation'`).Scan(&n, &lo, &hi); err != nil {
			t.Fatal(err)
		}
		if err := s.reader.QueryRow(`SELECT count(*) FROM history WHERE type = 'Observation'`).Scan(&history); err != nil {
			t.Fatal(err)
		}
		switch {
		case n != atomicCrashSize || lo != hi:
			t.Fatalf("after the kill: %d Observations at versions %d to %d, want %d at one version", n, lo, hi, atomicCrashSize)
		case lo < max(acked, version) || lo > began:
			t.Fatalf("after the kill: version %d; acknowledged %d, begun %d", lo, acked, began)
		case history != lo*atomicCrashSize:
			t.Fatalf("after the kill: %d history rows, want %d (version %d)", history, lo*atomicCrashSize, lo)
		}
		if rows := countIndexRows(t, s); rows != indexRows {
			t.Errorf("after the kill: %d index rows, one version has %d", rows, indexRows)
		}
		for _, round := range []int64{lo, began} {
			want := 0
			if round == lo {
				want = atomicCrashSize
			}
			if got := countTagged(t, s, round); got != want {
				t.Errorf("after the kill at version %d: %d Observations tagged with round %d, want %d", lo, got, round, want)
			}
		}
		committed := "rolled back"
		if lo == began {
			committed = "committed, not acknowledged"
		}
		t.Logf("killed %.0f%% into the transaction of version %d: %s", at*100, began, committed)
		version = lo
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// killDuringRound runs a child on dir until it began its second
// transaction, kills it at about the fraction at of the time its first
// one took, and returns the version that transaction writes and the
// highest version the child acknowledged.
func killDuringRound(t *testing.T, dir string, at float64) (began, acked int64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillDuringWriteAtomic$")
	cmd.Env = append(os.Environ(), atomicCrashDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(out)
	var start time.Time
	var took time.Duration
	for begins := 0; begins < 2 && lines.Scan(); {
		var word string
		var v int64
		if _, err := fmt.Sscanf(lines.Text(), "%s %d", &word, &v); err != nil {
			t.Fatalf("child said %q", lines.Text())
		}
		switch word {
		case "begin":
			began, start = v, time.Now()
			begins++
		case "ack":
			acked, took = v, time.Since(start)
		}
	}
	if took == 0 {
		t.Fatal("the child acknowledged no transaction")
	}
	time.Sleep(time.Duration(at * float64(took)))
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	return began, acked
}

// writeAtomicUntilKilled updates every Observation to its next version in
// one WriteAtomic after another, printing "begin <version>" before and
// "ack <version>" after each.
func writeAtomicUntilKilled(dir string) {
	ctx := context.Background()
	s, err := Open(ctx, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cur, err := s.Read(ctx, "Observation", genObservationID(0, 0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for v := cur.Version + 1; ; v++ {
		ws := atomicCrashRound(nil, v)
		fmt.Printf("begin %d\n", v)
		if err := s.WriteAtomic(ctx, ws); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("ack %d\n", v)
	}
}

// atomicCrashRound is the transaction that writes version v of the
// crash test's Observations, each tagged urn:round|v in its index.
func atomicCrashRound(t *testing.T, v int64) []storage.Write {
	x, err := genExtractor()
	if err != nil {
		crashFatal(t, err)
	}
	tag := storage.IndexEntry{Param: "_tag", Type: conformance.ParamToken, System: "urn:round", Code: fmt.Sprint(v)}
	ws := make([]storage.Write, atomicCrashSize)
	for k := range ws {
		typ, id, js := genObservation(k%100, k/100)
		entries, err := x.Extract(typ, []byte(js))
		if err != nil {
			crashFatal(t, err)
		}
		ws[k] = storage.Write{Expected: v - 1, Index: append(entries, tag), Resource: fhir.Resource{
			Type: typ, ID: id, Version: v, LastUpdated: genEpoch.Add(time.Duration(v) * time.Second), Method: "PUT", JSON: []byte(js)}}
	}
	return ws
}

// crashFatal ends the test, or the child when t is nil.
func crashFatal(t *testing.T, err error) {
	if t != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

// countIndexRows is the number of rows in all index tables.
func countIndexRows(t *testing.T, s *Store) int64 {
	t.Helper()
	var total int64
	for _, table := range indexTables {
		var n int64
		if err := s.reader.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	return total
}

// countTagged is the number of Observations a search finds tagged with
// round v.
func countTagged(t *testing.T, s *Store, v int64) int {
	t.Helper()
	spec, err := conformance.Load()
	if err != nil {
		t.Fatal(err)
	}
	params := url.Values{"_tag": {fmt.Sprintf("urn:round|%d", v)}, "_total": {"accurate"}, "_count": {"1"}}
	q, err := search.ParseQuery(spec, []string{"Observation"}, params, search.Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	page, err := s.Search(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return page.Total
}
