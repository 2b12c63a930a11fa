package storagetest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/medbridge/medbridge/storage"
)

// letter is a dead letter received sec seconds after epoch.
func letter(id, mapping string, sec int) storage.DeadLetter {
	return storage.DeadLetter{
		ID: id, Mapping: mapping, Received: at(sec),
		Payload:    fmt.Appendf(nil, `{"device":%q,"hr":"high"}`, id),
		Reason:     "hr: not a number",
		Expression: "$.hr",
		Attempts:   1,
	}
}

// letters is a dead-letter store under test with the letters it must hold.
type letters struct {
	s    storage.Store
	want map[string]storage.DeadLetter
}

func (l *letters) put(t *testing.T, d storage.DeadLetter) {
	t.Helper()
	if err := l.s.PutDeadLetter(context.Background(), d); err != nil {
		t.Fatalf("PutDeadLetter %s: %v", d.ID, err)
	}
	if l.want == nil {
		l.want = map[string]storage.DeadLetter{}
	}
	l.want[d.ID] = d
}

// listing is what DeadLetters must return for mapping, all pages together.
func (l *letters) listing(mapping string) []storage.DeadLetter {
	var out []storage.DeadLetter
	for _, d := range l.want {
		if mapping == "" || d.Mapping == mapping {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b storage.DeadLetter) int {
		if c := b.Received.Compare(a.Received); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

// checkRead asserts that every letter reads back as it was put.
func (l *letters) checkRead(t *testing.T) {
	t.Helper()
	for id, want := range l.want {
		got, err := l.s.ReadDeadLetter(context.Background(), id)
		if err != nil {
			t.Errorf("ReadDeadLetter %s: %v", id, err)
			continue
		}
		checkLetter(t, "ReadDeadLetter", got, want)
	}
}

// checkList asserts that every page size lists the letters of mapping in
// the listing order, with full pages but for the last.
func (l *letters) checkList(t *testing.T, mapping string) {
	t.Helper()
	want := l.listing(mapping)
	for _, count := range []int{100, 1, 2, 3} {
		got := collectLetters(t, l.s, storage.DeadLetterQuery{Mapping: mapping, Count: count}, nil)
		op := fmt.Sprintf("DeadLetters mapping %q count %d", mapping, count)
		if len(got) != len(want) {
			t.Errorf("%s: %d letters, want %d: %v", op, len(got), len(want), letterIDs(got))
			continue
		}
		for i := range got {
			checkLetter(t, op, &got[i], want[i])
		}
	}
}

// collectLetters reads every page of q, calling between (when not nil)
// after each page, and checks the paging contract.
func collectLetters(t *testing.T, s storage.Store, q storage.DeadLetterQuery, between func()) []storage.DeadLetter {
	t.Helper()
	var all []storage.DeadLetter
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatalf("DeadLetters %+v: still paging after %d pages", q, pages)
		}
		page, err := s.DeadLetters(context.Background(), q)
		if err != nil {
			t.Fatalf("DeadLetters %+v: %v", q, err)
		}
		if len(page.Letters) > q.Count {
			t.Fatalf("DeadLetters %+v: %d letters on a page of %d", q, len(page.Letters), q.Count)
		}
		if pages > 0 && len(page.Letters) == 0 {
			t.Fatalf("DeadLetters %+v: empty page %d; the previous page should have had no Next", q, pages)
		}
		all = append(all, page.Letters...)
		if page.Next == "" {
			return all
		}
		if len(page.Letters) < q.Count {
			t.Fatalf("DeadLetters %+v: short page of %d with a Next cursor", q, len(page.Letters))
		}
		if between != nil {
			between()
		}
		q.After = page.Next
	}
}

func checkLetter(t *testing.T, op string, got *storage.DeadLetter, want storage.DeadLetter) {
	t.Helper()
	if got.ID != want.ID || got.Mapping != want.Mapping || !got.Received.Equal(want.Received) ||
		!bytes.Equal(got.Payload, want.Payload) || got.Reason != want.Reason ||
		got.Expression != want.Expression || got.Attempts != want.Attempts {
		t.Errorf("%s %s:\n got %s\nwant %s", op, want.ID, describeLetter(*got), describeLetter(want))
	}
}

func describeLetter(d storage.DeadLetter) string {
	payload := string(d.Payload)
	if len(payload) > 80 {
		payload = fmt.Sprintf("%s… (%d bytes)", payload[:80], len(d.Payload))
	}
	return fmt.Sprintf("%s mapping=%q received=%s reason=%q expression=%q attempts=%d payload=%q",
		d.ID, d.Mapping, d.Received.UTC().Format("2006-01-02T15:04:05.000000Z"), d.Reason, d.Expression, d.Attempts, payload)
}

func letterIDs(ds []storage.DeadLetter) []string {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids
}

// putLetters stores letters of two mappings, some received at the same
// instant so that the ID decides their order.
func putLetters(t *testing.T, l *letters) {
	t.Helper()
	for _, d := range []storage.DeadLetter{
		letter("c", "omh", 1),
		letter("a", "phd", 2),
		letter("e", "omh", 3),
		letter("b", "omh", 3),
		letter("d", "phd", 3),
		letter("f", "phd", 4),
		letter("g", "omh", 5),
	} {
		l.put(t, d)
	}
}

// testDeadLetters checks listing newest first, paging, the mapping filter
// and reading.
func testDeadLetters(t *testing.T, s suite) {
	l := &letters{s: s.fresh(t).s}
	if page, err := l.s.DeadLetters(context.Background(), storage.DeadLetterQuery{Count: 10}); err != nil || len(page.Letters) != 0 || page.Next != "" {
		t.Errorf("DeadLetters of an empty store = %+v, %v; want an empty last page", page, err)
	}
	putLetters(t, l)
	l.checkRead(t)
	for _, mapping := range []string{"", "omh", "phd", "none"} {
		l.checkList(t, mapping)
	}
}

// testDeadLetterReplaceDelete checks that putting an ID again replaces the
// letter, and that a deleted letter is gone.
func testDeadLetterReplaceDelete(t *testing.T, s suite) {
	ctx := context.Background()
	l := &letters{s: s.fresh(t).s}
	putLetters(t, l)

	again := letter("c", "phd", 6)
	again.Payload = []byte(`{"device":"c","hr":"higher"}`)
	again.Reason, again.Expression, again.Attempts = "hr: still not a number", "", 2
	l.put(t, again)
	l.checkRead(t)
	l.checkList(t, "")
	l.checkList(t, "omh")

	if err := l.s.DeleteDeadLetter(ctx, "e"); err != nil {
		t.Fatalf("DeleteDeadLetter: %v", err)
	}
	delete(l.want, "e")
	if got, err := l.s.ReadDeadLetter(ctx, "e"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("ReadDeadLetter of a deleted letter = %v, %v; want ErrNotFound", got, err)
	}
	if err := l.s.DeleteDeadLetter(ctx, "e"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("DeleteDeadLetter of a deleted letter: %v, want ErrNotFound", err)
	}
	l.checkRead(t)
	l.checkList(t, "")
	l.checkList(t, "omh")
}

// testDeadLetterNotFound checks the answers for an ID never stored.
func testDeadLetterNotFound(t *testing.T, s suite) {
	ctx := context.Background()
	l := &letters{s: s.fresh(t).s}
	l.put(t, letter("a", "omh", 1))
	for _, id := range []string{"b", "A", ""} {
		if got, err := l.s.ReadDeadLetter(ctx, id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("ReadDeadLetter %q = %v, %v; want ErrNotFound", id, got, err)
		}
		if err := l.s.DeleteDeadLetter(ctx, id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("DeleteDeadLetter %q: %v, want ErrNotFound", id, err)
		}
	}
	l.checkRead(t)
}

// testDeadLetterPayloads checks that payloads come back byte for byte:
// non-ASCII text, escapes and whitespace as sent, bytes that are not
// UTF-8 (a message that was not even JSON), nothing at all, and 1 MiB.
func testDeadLetterPayloads(t *testing.T, s suite) {
	l := &letters{s: s.fresh(t).s}
	large := []byte(`{"samples":"` + strings.Repeat("0123456789abcdef", 1<<16-1) + `"}`)
	payloads := map[string][]byte{
		"unicode":   []byte(`{"patient":"Zoë Ångström","note":"心拍数 ❤️ 𝄞","escaped":"\u00e9\n"}`),
		"spacing":   []byte("{ \"a\" :\t1 ,\r\n\"a\": 2 }\n"),
		"not-utf-8": {0xff, 0xfe, '{', 0x80, 0xc3, 0x28, 0x00, '}'},
		"empty":     {},
		"large":     large,
	}
	for id, p := range payloads {
		d := letter(id, "omh", len(l.want))
		d.Payload = p
		l.put(t, d)
	}
	l.checkRead(t)
	got := collectLetters(t, l.s, storage.DeadLetterQuery{Count: 2}, nil)
	want := l.listing("")
	if len(got) != len(want) {
		t.Fatalf("DeadLetters: %d letters, want %d", len(got), len(want))
	}
	for i := range got {
		checkLetter(t, "DeadLetters", &got[i], want[i])
	}
}

// testDeadLetterPagingWhilePutting checks that a cursor stays valid while
// letters are put and deleted: none is listed twice, and none that existed
// when listing began and still exists is skipped.
func testDeadLetterPagingWhilePutting(t *testing.T, s suite) {
	ctx := context.Background()
	l := &letters{s: s.fresh(t).s}
	putLetters(t, l)
	before := l.listing("")
	n := 0
	got := collectLetters(t, l.s, storage.DeadLetterQuery{Count: 2}, func() {
		n++
		l.put(t, letter(fmt.Sprintf("new%d", n), "omh", 10+n)) // newer than all: not listed
		if n == 1 {
			if err := l.s.DeleteDeadLetter(ctx, before[len(before)-1].ID); err != nil {
				t.Fatalf("DeleteDeadLetter: %v", err)
			}
			before = before[:len(before)-1]
		}
	})
	if ids, want := letterIDs(got), letterIDs(before); !slices.Equal(ids, want) {
		t.Errorf("DeadLetters while putting: %v, want %v", ids, want)
	}
}

// testDeadLetterBadCursor checks that a cursor the store did not make is
// refused.
func testDeadLetterBadCursor(t *testing.T, s suite) {
	l := &letters{s: s.fresh(t).s}
	putLetters(t, l)
	for _, cursor := range []string{"x", "not a cursor", "%%%", "aGVsbG8"} {
		page, err := l.s.DeadLetters(context.Background(), storage.DeadLetterQuery{Count: 2, After: cursor})
		if err == nil {
			t.Errorf("DeadLetters after %q = %v, want an error", cursor, letterIDs(page.Letters))
		}
	}
}

// testDeadLetterDurability checks that dead letters are there when the
// store's directory is opened again.
func testDeadLetterDurability(t *testing.T, s suite) {
	dir := t.TempDir()
	l := &letters{s: s.open(t, dir)}
	putLetters(t, l)
	if err := l.s.DeleteDeadLetter(context.Background(), "a"); err != nil {
		t.Fatalf("DeleteDeadLetter: %v", err)
	}
	delete(l.want, "a")
	if err := l.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	l.s = s.open(t, dir)
	t.Cleanup(func() {
		if err := l.s.Close(); err != nil {
			t.Errorf("Close after reopening: %v", err)
		}
	})
	l.checkRead(t)
	l.checkList(t, "")
	l.checkList(t, "phd")
}
