package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

const workers = 20

// testConcurrentUpdates races workers doing read-current, write-next until
// each has won once: the compare-and-swap must let exactly one writer have
// each version.
func testConcurrentUpdates(t *testing.T, s suite) {
	f := s.fresh(t)
	ctx := context.Background()
	f.put(t, version("Patient", "hot", 1, epoch), 0)

	const tries = 500
	var (
		mu     sync.Mutex
		winner = map[int64]int{} // version → worker that wrote it
		wg     sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for range tries {
				cur, err := f.s.Read(ctx, "Patient", "hot")
				if err != nil {
					t.Errorf("worker %d: Read: %v", w, err)
					return
				}
				v := cur.Version + 1
				next := version("Patient", "hot", v, epoch.Add(time.Duration(v)*time.Millisecond))
				err = f.s.Write(ctx, storage.Write{Resource: next, Expected: cur.Version})
				if errors.Is(err, storage.ErrVersionConflict) {
					continue
				}
				if err != nil {
					t.Errorf("worker %d: Write version %d: %v", w, v, err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if other, dup := winner[v]; dup {
					t.Errorf("workers %d and %d both wrote version %d", other, w, v)
				}
				winner[v] = w
				f.m.add(next)
				return
			}
			t.Errorf("worker %d: no successful write in %d tries", w, tries)
		})
	}
	wg.Wait()

	if len(winner) != workers {
		t.Errorf("%d successful writes, want %d", len(winner), workers)
	}
	cur, err := f.s.Read(ctx, "Patient", "hot")
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if want := int64(len(winner)) + 1; cur.Version != want {
		t.Errorf("current version %d after %d successful updates, want %d", cur.Version, len(winner), want)
	}
	f.checkCurrent(t, "Patient", "hot")
	f.checkAllVersions(t)
	f.checkHistory(t, storage.HistoryQuery{Type: "Patient", ID: "hot"})
}

// testConcurrentCreates races workers creating the same resource: exactly
// one wins, the others get ErrVersionConflict.
func testConcurrentCreates(t *testing.T, s suite) {
	f := s.fresh(t)
	ctx := context.Background()
	errs := make([]error, workers)
	creates := make([]fhir.Resource, workers)
	var wg sync.WaitGroup
	for w := range workers {
		creates[w] = version("Patient", "new", 1, epoch)
		creates[w].JSON = fmt.Appendf(nil, `{"resourceType":"Patient","id":"new","name":[{"text":"worker %d"}]}`, w)
		wg.Go(func() { errs[w] = f.s.Write(ctx, storage.Write{Resource: creates[w]}) })
	}
	wg.Wait()

	wins := 0
	for w, err := range errs {
		switch {
		case err == nil:
			wins++
			f.m.add(creates[w])
		case !errors.Is(err, storage.ErrVersionConflict):
			t.Errorf("worker %d: %v, want nil or ErrVersionConflict", w, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d creates succeeded, want 1", wins)
	}
	f.checkCurrent(t, "Patient", "new")
	f.checkHistory(t, storage.HistoryQuery{Type: "Patient", ID: "new"})
}
