package server_test

import (
	"testing"

	"github.com/medbridge/medbridge/server/servertest"
)

// TestRestart writes through one server, stops it and its store, starts a
// new one on the same data dir, and reads everything back.
func TestRestart(t *testing.T) {
	servertest.EachBackend(t, func(t *testing.T, b servertest.Backend) {
		dir := t.TempDir()
		store := b.Open(t, dir)
		srv := servertest.Start(t, store)
		created := srv.Do(t, "POST", "/fhir/Patient", []byte(`{"resourceType":"Patient","name":[{"family":"Before"}]}`))
		if created.Status != 201 {
			t.Fatalf("create: %d %s", created.Status, created.Body)
		}
		loc := created.Header.Get("Location")
		id := created.JSON(t)["id"].(string)
		if res := srv.Do(t, "PUT", "/fhir/Patient/"+id, []byte(`{"resourceType":"Patient","id":"`+id+`","name":[{"family":"After"}]}`)); res.Status != 200 {
			t.Fatalf("update: %d %s", res.Status, res.Body)
		}
		srv.Close()
		if err := store.Close(); err != nil {
			t.Fatal(err)
		}

		store = b.Open(t, dir)
		t.Cleanup(func() { store.Close() })
		srv = servertest.Start(t, store)
		got := srv.Do(t, "GET", "/fhir/Patient/"+id, nil)
		if got.Status != 200 || got.Header.Get("ETag") != `W/"2"` {
			t.Fatalf("after restart: %d %s %s", got.Status, got.Header.Get("ETag"), got.Body)
		}
		if fam := got.JSON(t)["name"].([]any)[0].(map[string]any)["family"]; fam != "After" {
			t.Errorf("family %v after restart, want After", fam)
		}
		if v1 := srv.Do(t, "GET", "/fhir/Patient/"+id+"/_history/1", nil); v1.Status != 200 {
			t.Errorf("version 1 after restart: %d", v1.Status)
		}
		if loc == "" {
			t.Error("create answered without Location")
		}
	})
}
