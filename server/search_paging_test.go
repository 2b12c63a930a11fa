package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medbridge/medbridge/server/servertest"
)

// TestSearchPagingUnderConcurrentInserts follows next links while another
// goroutine inserts matching Patients whose sort keys fall between the
// existing ones (some on pages already read, some ahead) and updates
// existing ones. Every Patient that existed before paging began must come
// exactly once, and no resource twice.
func TestSearchPagingUnderConcurrentInserts(t *testing.T) {
	const existing = 30
	servertest.EachBackend(t, func(t *testing.T, b servertest.Backend) {
		srv := servertest.StartBackend(t, b)
		for i := range existing {
			put(t, srv, pagingPatient(fmt.Sprintf("pg-%03d", i), i, "female"))
		}
		put(t, srv, `{"resourceType":"Patient","id":"other","name":[{"family":"Elsewhere"}]}`)

		for _, order := range []string{"", "&_sort=birthdate", "&_sort=-birthdate,-_id"} {
			t.Run("order"+order, func(t *testing.T) {
				// The earlier orders' inserts exist before this paging begins.
				want := search(t, srv, "/fhir/Patient?family=pager&_count=1000&_elements=id").ids("match")
				if len(want) < existing {
					t.Fatalf("%d Pagers before paging", len(want))
				}
				var (
					inserted atomic.Int64
					writeErr error
				)
				stop, done := make(chan struct{}), make(chan struct{})
				go func() {
					defer close(done)
					writeErr = insertWhilePaging(srv, order, stop, &inserted)
				}()
				seen := map[string]int{}
				next := "/fhir/Patient?family=pager&_count=4" + order
				for pages := 0; next != ""; pages++ {
					if pages > 3*existing {
						t.Fatalf("more than %d pages", pages)
					}
					// Let the writer get at least one insert in between pages.
					for before := inserted.Load(); inserted.Load() == before; {
						select {
						case <-done:
							t.Fatalf("the writer stopped: %v", writeErr)
						case <-time.After(time.Millisecond):
						}
					}
					page := search(t, srv, next)
					for _, id := range page.ids("match") {
						seen[id]++
					}
					next = page.link("next")
					if next != "" {
						next = relative(t, srv, next)
					}
				}
				close(stop)
				<-done
				if writeErr != nil {
					t.Fatal(writeErr)
				}
				for _, id := range want {
					if seen[id] != 1 {
						t.Errorf("pre-existing %s came %d times", id, seen[id])
					}
				}
				for id, n := range seen {
					if n > 1 {
						t.Errorf("%s came %d times", id, n)
					}
				}
				t.Logf("%d inserts and updates while paging; %d distinct matches read", inserted.Load(), len(seen))
			})
		}
	})
}

// pagingPatient is a Patient named Pager born i days after 1950-01-01.
func pagingPatient(id string, i int, gender string) string {
	born := time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i).Format("2006-01-02")
	return fmt.Sprintf(`{"resourceType":"Patient","id":%q,"gender":%q,"birthDate":%q,"name":[{"family":"Pager"}]}`, id, gender, born)
}

// insertWhilePaging writes until stop: new Patients whose id and birth
// date sort right after an existing one's (cycling through all of them),
// and updates of existing ones. It counts its writes in n.
func insertWhilePaging(srv *servertest.Server, order string, stop <-chan struct{}, n *atomic.Int64) error {
	for k := 0; ; k++ {
		select {
		case <-stop:
			return nil
		default:
		}
		i := (k * 7) % 30
		id := fmt.Sprintf("pg-%03d-new%s-%d", i, sanitize(order), k)
		body := pagingPatient(id, i, "male")
		if k%3 == 2 {
			id = fmt.Sprintf("pg-%03d", i)
			body = pagingPatient(id, i, []string{"female", "other"}[k%2])
		}
		req, err := http.NewRequest(http.MethodPut, srv.Root+"/fhir/Patient/"+id, bytes.NewReader([]byte(body)))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/fhir+json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusOK {
			return fmt.Errorf("PUT %s: %d", id, res.StatusCode)
		}
		n.Add(1)
	}
}

// sanitize keeps the letters of s, for ids.
func sanitize(s string) string {
	var b []byte
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' {
			b = append(b, c)
		}
	}
	return string(b)
}
