package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medbridge/medbridge/storage"
)

// The record tests use the real clock, since the store reads it: a record
// expires either in the past or a moment from now, and then the test
// waits for it.

// recordLife is how long a record that a test waits for to expire lives.
const recordLife = 500 * time.Millisecond

// soon is an Expires a test waits for, at microsecond precision (the
// stores' precision, so that Expires reads back as put).
func soon() time.Time { return time.Now().Add(recordLife).Truncate(time.Microsecond) }

// past is an Expires before now.
func past() time.Time { return time.Now().Add(-time.Hour).Truncate(time.Microsecond) }

// future is an Expires no test outlives.
func future() time.Time { return time.Now().Add(24 * time.Hour).Truncate(time.Microsecond) }

// waitUntil sleeps until t has passed.
func waitUntil(t time.Time) { time.Sleep(time.Until(t) + 10*time.Millisecond) }

func rec(kind, id, data string) storage.Record {
	return storage.Record{Kind: kind, ID: id, Data: []byte(data)}
}

// putRecord puts r at expected, which must succeed, and returns r as
// stored.
func putRecord(t *testing.T, s storage.Store, r storage.Record, expected int64) storage.Record {
	t.Helper()
	if err := s.PutRecord(context.Background(), r, expected); err != nil {
		t.Fatalf("PutRecord %s/%s at %d: %v", r.Kind, r.ID, expected, err)
	}
	r.Version = expected + 1
	return r
}

// checkRecord asserts that GetRecord returns want.
func checkRecord(t *testing.T, s storage.Store, want storage.Record) {
	t.Helper()
	got, err := s.GetRecord(context.Background(), want.Kind, want.ID)
	if err != nil {
		t.Errorf("GetRecord %s/%s: %v", want.Kind, want.ID, err)
		return
	}
	checkSameRecord(t, "GetRecord", *got, want)
}

// checkNoRecord asserts that GetRecord finds no kind/id.
func checkNoRecord(t *testing.T, s storage.Store, kind, id string) {
	t.Helper()
	if got, err := s.GetRecord(context.Background(), kind, id); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetRecord %s/%s = %v, %v; want ErrNotFound", kind, id, describeRecord(got), err)
	}
}

func checkSameRecord(t *testing.T, op string, got, want storage.Record) {
	t.Helper()
	if got.Kind != want.Kind || got.ID != want.ID || !bytes.Equal(got.Data, want.Data) ||
		!got.Expires.Equal(want.Expires) || got.Version != want.Version {
		t.Errorf("%s:\n got %s\nwant %s", op, describeRecord(&got), describeRecord(&want))
	}
}

func describeRecord(r *storage.Record) string {
	if r == nil {
		return "<nil>"
	}
	data := string(r.Data)
	if len(data) > 80 {
		data = fmt.Sprintf("%s… (%d bytes)", data[:80], len(r.Data))
	}
	expires := "never"
	if !r.Expires.IsZero() {
		expires = r.Expires.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%s/%s version=%d expires=%s data=%q", r.Kind, r.ID, r.Version, expires, data)
}

// checkList asserts that ListRecords of kind returns want, in order.
func checkList(t *testing.T, s storage.Store, kind string, want ...storage.Record) {
	t.Helper()
	got, err := s.ListRecords(context.Background(), kind)
	if err != nil {
		t.Errorf("ListRecords %s: %v", kind, err)
		return
	}
	if len(got) != len(want) {
		ids := make([]string, len(got))
		for i := range got {
			ids[i] = got[i].ID
		}
		t.Errorf("ListRecords %s: %d records %v, want %d", kind, len(got), ids, len(want))
		return
	}
	for i := range got {
		checkSameRecord(t, "ListRecords "+kind, got[i], want[i])
	}
}

// testRecordLifecycle checks create, read, compare-and-swap updates
// (stale and right), deletion and the answers for what is not there.
func testRecordLifecycle(t *testing.T, s suite) {
	ctx := context.Background()
	st := s.fresh(t).s
	checkNoRecord(t, st, "client", "app")
	checkList(t, st, "client")

	first := rec("client", "app", `{"secret":"hash1"}`)
	first.Version = 42 // ignored: the store sets it
	v1 := putRecord(t, st, first, 0)
	checkRecord(t, st, v1)
	if err := st.PutRecord(ctx, rec("client", "app", "again"), 0); !errors.Is(err, storage.ErrVersionConflict) {
		t.Errorf("PutRecord of an existing record at 0: %v, want ErrVersionConflict", err)
	}

	v2 := putRecord(t, st, rec("client", "app", `{"secret":"hash2"}`), 1)
	checkRecord(t, st, v2)
	for _, expected := range []int64{1, 3, -1} {
		if err := st.PutRecord(ctx, rec("client", "app", "stale"), expected); !errors.Is(err, storage.ErrVersionConflict) {
			t.Errorf("PutRecord at version %d of version 2: %v, want ErrVersionConflict", expected, err)
		}
	}
	if err := st.PutRecord(ctx, rec("client", "none", "x"), 1); !errors.Is(err, storage.ErrVersionConflict) {
		t.Errorf("PutRecord at version 1 of no record: %v, want ErrVersionConflict", err)
	}
	checkNoRecord(t, st, "client", "none")
	checkRecord(t, st, v2)

	withExpiry := rec("client", "app", `{"secret":"hash3"}`)
	withExpiry.Expires = future()
	v3 := putRecord(t, st, withExpiry, 2)
	checkRecord(t, st, v3)
	v4 := putRecord(t, st, rec("client", "app", `{"secret":"hash4"}`), 3) // expires no more
	checkRecord(t, st, v4)

	for _, r := range []storage.Record{rec("", "app", "x"), rec("client", "", "x"), {}} {
		if err := st.PutRecord(ctx, r, 0); err == nil {
			t.Errorf("PutRecord of kind %q id %q succeeded", r.Kind, r.ID)
		}
	}
	checkNoRecord(t, st, "client", "")
	checkList(t, st, "")

	if err := st.DeleteRecord(ctx, "client", "app"); err != nil {
		t.Fatalf("DeleteRecord: %v", err)
	}
	checkNoRecord(t, st, "client", "app")
	for _, id := range []string{"app", "none", ""} {
		if err := st.DeleteRecord(ctx, "client", id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("DeleteRecord client/%s: %v, want ErrNotFound", id, err)
		}
	}
	if err := st.PutRecord(ctx, rec("client", "app", "x"), 4); !errors.Is(err, storage.ErrVersionConflict) {
		t.Errorf("PutRecord at version 4 of a deleted record: %v, want ErrVersionConflict", err)
	}
	// A deleted record can be created again, from version 1.
	checkRecord(t, st, putRecord(t, st, rec("client", "app", "new"), 0))
}

// testRecordExpiry checks that an expired record is invisible to
// GetRecord, ListRecords, DeleteRecord and compare-and-swap updates, and
// that it can be created again at expected 0.
func testRecordExpiry(t *testing.T, s suite) {
	ctx := context.Background()
	st := s.fresh(t).s

	gone := rec("code", "gone", "expired when put")
	gone.Expires = past()
	putRecord(t, st, gone, 0)
	checkNoRecord(t, st, "code", "gone")

	short := rec("code", "short", "expires soon")
	short.Expires = soon()
	short = putRecord(t, st, short, 0)
	updated := short
	updated.Data = []byte("updated before expiring")
	updated = putRecord(t, st, updated, 1) // keeps short's Expires
	long := rec("code", "long", "expires tomorrow")
	long.Expires = future()
	long = putRecord(t, st, long, 0)
	if time.Now().Before(short.Expires) { // else the machine was too slow to tell
		checkRecord(t, st, updated)
		checkList(t, st, "code", long, updated)
	}

	waitUntil(short.Expires)
	for _, id := range []string{"gone", "short"} {
		checkNoRecord(t, st, "code", id)
		if err := st.DeleteRecord(ctx, "code", id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("DeleteRecord of expired code/%s: %v, want ErrNotFound", id, err)
		}
		for _, expected := range []int64{1, 2} {
			if err := st.PutRecord(ctx, rec("code", id, "x"), expected); !errors.Is(err, storage.ErrVersionConflict) {
				t.Errorf("PutRecord at %d of expired code/%s: %v, want ErrVersionConflict", expected, id, err)
			}
		}
	}
	checkRecord(t, st, long)
	checkList(t, st, "code", long)

	again := putRecord(t, st, rec("code", "short", "created again"), 0)
	checkRecord(t, st, again)
	checkList(t, st, "code", long, again)
	checkRecord(t, st, putRecord(t, st, rec("code", "gone", "created again"), 0))
}

// testRecordConcurrentCreates races workers creating the same record, once
// where there is none and once over an expired one: exactly one wins.
func testRecordConcurrentCreates(t *testing.T, s suite) {
	st := s.fresh(t).s
	expired := rec("jti", "over-expired", "old")
	expired.Expires = past()
	putRecord(t, st, expired, 0)
	for _, id := range []string{"new", "over-expired"} {
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				errs[w] = st.PutRecord(context.Background(), rec("jti", id, strconv.Itoa(w)), 0)
			})
		}
		wg.Wait()
		winner := -1
		for w, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("jti/%s: workers %d and %d both created it", id, winner, w)
			case err == nil:
				winner = w
			case !errors.Is(err, storage.ErrVersionConflict):
				t.Errorf("jti/%s: worker %d: %v, want nil or ErrVersionConflict", id, w, err)
			}
		}
		if winner < 0 {
			t.Errorf("jti/%s: no create succeeded", id)
			continue
		}
		want := rec("jti", id, strconv.Itoa(winner))
		want.Version = 1
		checkRecord(t, st, want)
	}
}

// testRecordConcurrentDeletes races workers deleting one record, the way
// a single-use authorization code is consumed: exactly one succeeds.
func testRecordConcurrentDeletes(t *testing.T, s suite) {
	st := s.fresh(t).s
	code := rec("code", "single-use", `{"client":"app"}`)
	code.Expires = future()
	putRecord(t, st, code, 0)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { errs[w] = st.DeleteRecord(context.Background(), "code", "single-use") })
	}
	wg.Wait()
	wins := 0
	for w, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, storage.ErrNotFound):
			t.Errorf("worker %d: %v, want nil or ErrNotFound", w, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d deletes succeeded, want 1", wins)
	}
	checkNoRecord(t, st, "code", "single-use")
}

// testRecordConcurrentUpdates races workers incrementing a counter in a
// record by read, then compare-and-swap: no increment is lost, and the
// version counts the successful ones.
func testRecordConcurrentUpdates(t *testing.T, s suite) {
	ctx := context.Background()
	st := s.fresh(t).s
	putRecord(t, st, rec("counter", "c", "0"), 0)
	const tries = 10
	var (
		mu        sync.Mutex
		successes int
		wg        sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for range tries {
				cur, err := st.GetRecord(ctx, "counter", "c")
				if err != nil {
					t.Errorf("worker %d: GetRecord: %v", w, err)
					return
				}
				n, err := strconv.Atoi(string(cur.Data))
				if err != nil {
					t.Errorf("worker %d: counter %q: %v", w, cur.Data, err)
					return
				}
				err = st.PutRecord(ctx, rec("counter", "c", strconv.Itoa(n+1)), cur.Version)
				if errors.Is(err, storage.ErrVersionConflict) {
					continue
				}
				if err != nil {
					t.Errorf("worker %d: PutRecord at %d: %v", w, cur.Version, err)
					return
				}
				mu.Lock()
				successes++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if successes == 0 {
		t.Fatal("no update succeeded")
	}
	want := rec("counter", "c", strconv.Itoa(successes))
	want.Version = int64(successes) + 1
	checkRecord(t, st, want)
}

// testRecordKinds checks that ListRecords lists one kind by ID, and that
// kinds are independent, also where a "/" could make two look alike.
func testRecordKinds(t *testing.T, s suite) {
	ctx := context.Background()
	st := s.fresh(t).s
	var clients []storage.Record
	for _, id := range []string{"b", "a", "c/d", "B", "c"} {
		clients = append(clients, putRecord(t, st, rec("client", id, "client "+id), 0))
	}
	user := putRecord(t, st, rec("user", "a", "user a"), 0)
	slash := putRecord(t, st, rec("client/c", "d", "kind with a slash"), 0)
	expired := rec("client", "e", "expired")
	expired.Expires = past()
	putRecord(t, st, expired, 0)

	byID := map[string]storage.Record{}
	for _, r := range clients {
		byID[r.ID] = r
	}
	var want []storage.Record
	for _, id := range []string{"B", "a", "b", "c", "c/d"} { // byte order
		want = append(want, byID[id])
	}
	checkList(t, st, "client", want...)
	checkList(t, st, "user", user)
	checkList(t, st, "client/c", slash)
	checkList(t, st, "Client")
	checkRecord(t, st, byID["c/d"])
	checkRecord(t, st, slash)
	checkNoRecord(t, st, "user", "b")

	if err := st.DeleteRecord(ctx, "user", "a"); err != nil {
		t.Fatalf("DeleteRecord user/a: %v", err)
	}
	checkRecord(t, st, byID["a"])
	if err := st.DeleteRecord(ctx, "client/c", "d"); err != nil {
		t.Fatalf("DeleteRecord client/c/d: %v", err)
	}
	checkRecord(t, st, byID["c/d"])
	checkList(t, st, "client", want...)
	checkList(t, st, "user")
}

// testRecordData checks that data comes back byte for byte: JSON as
// written, bytes that are not UTF-8, NULs, nothing at all, and 256 KiB.
func testRecordData(t *testing.T, s suite) {
	st := s.fresh(t).s
	datas := map[string][]byte{
		"json":      []byte("{ \"kid\" :\t\"k1\",\r\n\"note\":\"Zoë 心拍数 ❤️ 𝄞\\u00e9\" }\n"),
		"not-utf-8": {0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x00},
		"empty":     {},
		"large":     []byte(strings.Repeat("0123456789abcdef", 1<<14)),
	}
	for id, data := range datas {
		r := storage.Record{Kind: "key", ID: id, Data: data}
		checkRecord(t, st, putRecord(t, st, r, 0))
		r.Data = append(bytes.Clone(data), 0x00)
		checkRecord(t, st, putRecord(t, st, r, 1))
	}
	got, err := st.ListRecords(context.Background(), "key")
	if err != nil {
		t.Fatalf("ListRecords: %v", err)
	}
	if len(got) != len(datas) {
		t.Fatalf("ListRecords: %d records, want %d", len(got), len(datas))
	}
	for _, r := range got {
		if want := append(bytes.Clone(datas[r.ID]), 0x00); !bytes.Equal(r.Data, want) {
			t.Errorf("ListRecords key/%s: data %q, want %q", r.ID, r.Data, want)
		}
	}
}

// testRecordDurability checks that records are there, with their versions
// and expiries, when the store's directory is opened again, and that the
// compare-and-swap carries on from them.
func testRecordDurability(t *testing.T, s suite) {
	ctx := context.Background()
	dir := t.TempDir()
	st := s.open(t, dir)
	client := putRecord(t, st, rec("client", "app", "v1"), 0)
	client = putRecord(t, st, rec("client", "app", "v2"), client.Version)
	token := rec("refresh", "t1", "token")
	token.Expires = future()
	token = putRecord(t, st, token, 0)
	putRecord(t, st, rec("code", "used", "consumed"), 0)
	if err := st.DeleteRecord(ctx, "code", "used"); err != nil {
		t.Fatalf("DeleteRecord: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	st = s.open(t, dir)
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close after reopening: %v", err)
		}
	})
	checkRecord(t, st, client)
	checkRecord(t, st, token)
	checkNoRecord(t, st, "code", "used")
	checkList(t, st, "client", client)
	if err := st.PutRecord(ctx, rec("client", "app", "stale"), 1); !errors.Is(err, storage.ErrVersionConflict) {
		t.Errorf("PutRecord at version 1 after reopening: %v, want ErrVersionConflict", err)
	}
	checkRecord(t, st, putRecord(t, st, rec("client", "app", "v3"), 2))
}
