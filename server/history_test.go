package server_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/medbridge/medbridge/server/servertest"
)

type historyEntry struct {
	fullURL, method, status, etag string
	hasResource                   bool
}

// historyPages follows next links from path and returns every entry.
func historyPages(t *testing.T, srv *servertest.Server, path string) (entries []historyEntry, pages int) {
	t.Helper()
	for path != "" {
		res := srv.Do(t, "GET", path, nil)
		if res.Status != 200 {
			t.Fatalf("%s: %d %s", path, res.Status, res.Body)
		}
		b := res.JSON(t)
		if b["type"] != "history" {
			t.Fatalf("bundle type %v", b["type"])
		}
		pages++
		raw, _ := b["entry"].([]any)
		for _, e := range raw {
			m := e.(map[string]any)
			_, hasRes := m["resource"]
			entries = append(entries, historyEntry{
				fullURL:     m["fullUrl"].(string),
				method:      m["request"].(map[string]any)["method"].(string),
				status:      m["response"].(map[string]any)["status"].(string),
				etag:        m["response"].(map[string]any)["etag"].(string),
				hasResource: hasRes,
			})
		}
		path = ""
		for _, l := range b["link"].([]any) {
			if l.(map[string]any)["relation"] == "next" {
				u, err := url.Parse(l.(map[string]any)["url"].(string))
				if err != nil {
					t.Fatal(err)
				}
				path = u.RequestURI()
			}
		}
	}
	return entries, pages
}

func TestHistory(t *testing.T) {
	servertest.EachBackend(t, func(t *testing.T, b servertest.Backend) {
		// The audit trail would add a version per request to the system
		// history; this test is about the history itself.
		srv := servertest.StartBackend(t, b, servertest.WithoutAudit())
		put := func(typ, id, body string) time.Time {
			res := srv.Do(t, "PUT", "/fhir/"+typ+"/"+id, []byte(`{"resourceType":"`+typ+`","id":"`+id+`"`+body+`}`))
			if res.Status >= 300 {
				t.Fatalf("PUT %s/%s: %d %s", typ, id, res.Status, res.Body)
			}
			lu, _ := time.Parse(time.RFC3339Nano, res.JSON(t)["meta"].(map[string]any)["lastUpdated"].(string))
			return lu
		}
		t1 := put("Patient", "h", `,"gender":"male"`)
		put("Patient", "other", "")
		t2 := put("Patient", "h", `,"gender":"female"`)
		put("Organization", "org", "")
		time.Sleep(2 * time.Millisecond)
		if res := srv.Do(t, "DELETE", "/fhir/Patient/h", nil); res.Status != 204 {
			t.Fatal(res.Status)
		}
		t3 := time.Now()
		time.Sleep(2 * time.Millisecond)
		put("Patient", "late", "")

		inst, _ := historyPages(t, srv, "/fhir/Patient/h/_history")
		if len(inst) != 3 || inst[0].method != "DELETE" || inst[0].hasResource || inst[0].etag != `W/"3"` ||
			inst[1].etag != `W/"2"` || inst[1].status != "200 OK" || inst[2].etag != `W/"1"` || inst[2].status != "201 Created" || !inst[2].hasResource {
			t.Errorf("instance history: %+v", inst)
		}
		typ, _ := historyPages(t, srv, "/fhir/Patient/_history")
		if len(typ) != 5 {
			t.Errorf("type history has %d entries, want 5: %+v", len(typ), typ)
		}
		sys, _ := historyPages(t, srv, "/fhir/_history")
		if len(sys) != 6 || !strings.HasSuffix(sys[0].fullURL, "/Patient/late") {
			t.Errorf("system history: %d entries, first %+v", len(sys), sys[0])
		}
		paged, pages := historyPages(t, srv, "/fhir/_history?_count=2")
		if pages != 3 || fmt.Sprint(paged) != fmt.Sprint(sys) {
			t.Errorf("paging by 2 gave %d pages and %v, want 3 pages and %v", pages, paged, sys)
		}
		since, _ := historyPages(t, srv, "/fhir/Patient/_history?_since="+url.QueryEscape(t2.Format(time.RFC3339Nano)))
		if len(since) != 3 {
			t.Errorf("_since t2: %d entries, want 3 (update, delete, late): %+v", len(since), since)
		}
		at, _ := historyPages(t, srv, "/fhir/Patient/h/_history?_at="+url.QueryEscape(t1.Add(time.Microsecond).Format(time.RFC3339Nano)))
		if len(at) != 1 || at[0].etag != `W/"1"` {
			t.Errorf("_at just after v1: %+v, want version 1 only", at)
		}
		atDeleted, _ := historyPages(t, srv, "/fhir/Patient/_history?_at="+url.QueryEscape(t3.UTC().Format(time.RFC3339Nano)))
		for _, e := range atDeleted {
			if strings.HasSuffix(e.fullURL, "/late") {
				t.Errorf("_at before Patient/late was written includes it")
			}
		}
		if len(atDeleted) != 2 {
			t.Errorf("_at after the delete: %+v, want the deletion of h and Patient/other", atDeleted)
		}
		if res := srv.Do(t, "GET", "/fhir/Patient/never/_history", nil); res.Status != 404 {
			t.Errorf("history of an unknown resource: %d", res.Status)
		}
	})
}

// TestHistoryPagingUnderWrites: versions written while a client pages
// through history never make it see an entry twice or miss an old one.
func TestHistoryPagingUnderWrites(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite)
	for i := range 25 {
		srv.Do(t, "PUT", fmt.Sprintf("/fhir/Patient/p%d", i), []byte(fmt.Sprintf(`{"resourceType":"Patient","id":"p%d"}`, i)))
	}
	path := "/fhir/Patient/_history?_count=4"
	seen := map[string]bool{}
	for n := 0; path != ""; n++ {
		entries := srv.Do(t, "GET", path, nil)
		b := entries.JSON(t)
		for _, e := range b["entry"].([]any) {
			key := e.(map[string]any)["fullUrl"].(string)
			if seen[key] {
				t.Errorf("%s seen twice", key)
			}
			seen[key] = true
		}
		srv.Do(t, "PUT", fmt.Sprintf("/fhir/Patient/new%d", n), []byte(fmt.Sprintf(`{"resourceType":"Patient","id":"new%d"}`, n)))
		path = ""
		for _, l := range b["link"].([]any) {
			if l.(map[string]any)["relation"] == "next" {
				u, _ := url.Parse(l.(map[string]any)["url"].(string))
				path = u.RequestURI()
			}
		}
	}
	for i := range 25 {
		if !seen[fmt.Sprintf("%s/Patient/p%d", srv.Base, i)] {
			t.Errorf("Patient/p%d missed", i)
		}
	}
}
