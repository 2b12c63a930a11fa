package server_test

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"

	"github.com/medbridge/medbridge/server/servertest"
)

// TestConcurrentIfMatchUpdates: 20 goroutines update one resource with
// If-Match, each retrying on 412 with the newest version. Every success gets
// a distinct version, the final version is successes + 1, and every
// goroutine's change is in the history: no update is lost.
func TestConcurrentIfMatchUpdates(t *testing.T) {
	servertest.EachBackend(t, func(t *testing.T, b servertest.Backend) {
		// Without the audit trail: the hundreds of retries' records would
		// make FerretDB's scans (every query scans there) the test's cost.
		srv := servertest.StartBackend(t, b, servertest.WithoutAudit())
		if res := srv.Do(t, "PUT", "/fhir/Patient/race", []byte(`{"resourceType":"Patient","id":"race"}`)); res.Status != 201 {
			t.Fatalf("create: %d %s", res.Status, res.Body)
		}
		const writers = 20
		var (
			mu        sync.Mutex
			versions  []string
			conflicts int
			wg        sync.WaitGroup
		)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := []byte(fmt.Sprintf(`{"resourceType":"Patient","id":"race","identifier":[{"value":"writer-%d"}]}`, w))
				for attempt := 0; attempt < 200; attempt++ {
					cur := srv.Do(t, "GET", "/fhir/Patient/race", nil)
					res := srv.Do(t, "PUT", "/fhir/Patient/race", body, "If-Match", cur.Header.Get("ETag"))
					mu.Lock()
					switch res.Status {
					case http.StatusOK:
						versions = append(versions, res.Header.Get("ETag"))
						mu.Unlock()
						return
					case http.StatusPreconditionFailed:
						conflicts++
						mu.Unlock()
					default:
						mu.Unlock()
						t.Errorf("writer %d: %d %s", w, res.Status, res.Body)
						return
					}
				}
				t.Errorf("writer %d never succeeded", w)
			}()
		}
		wg.Wait()
		if len(versions) != writers {
			t.Fatalf("%d successes, want %d", len(versions), writers)
		}
		sort.Strings(versions)
		for i := 1; i < len(versions); i++ {
			if versions[i] == versions[i-1] {
				t.Errorf("two successes got version %s", versions[i])
			}
		}
		final := srv.Do(t, "GET", "/fhir/Patient/race", nil)
		if got, want := final.Header.Get("ETag"), fmt.Sprintf(`W/"%d"`, writers+1); got != want {
			t.Errorf("final version %s, want %s", got, want)
		}
		hist := srv.Do(t, "GET", "/fhir/Patient/race/_history?_count=100", nil)
		seen := map[string]bool{}
		entries, _ := hist.JSON(t)["entry"].([]any)
		for _, e := range entries {
			res, _ := e.(map[string]any)["resource"].(map[string]any)
			if ids, ok := res["identifier"].([]any); ok {
				seen[ids[0].(map[string]any)["value"].(string)] = true
			}
		}
		if len(entries) != writers+1 || len(seen) != writers {
			t.Errorf("history has %d versions and %d writers' changes, want %d and %d", len(entries), len(seen), writers+1, writers)
		}
		t.Logf("%s: %d successes, %d precondition failures retried", b.Name, len(versions), conflicts)
	})
}
