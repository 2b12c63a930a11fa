package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/medbridge/medbridge/server/servertest"
)

func patientWith(identifier string) []byte {
	return []byte(`{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"` + identifier + `"}]}`)
}

// TestConditionalCreate: If-None-Exist creates on no match, answers the
// match on one and refuses several with 412.
func TestConditionalCreate(t *testing.T) {
	servertest.EachBackend(t, func(t *testing.T, b servertest.Backend) {
		srv := servertest.StartBackend(t, b)
		first := srv.Do(t, "POST", "/fhir/Patient", patientWith("1"), "If-None-Exist", "identifier=urn:mrn|1")
		if first.Status != http.StatusCreated {
			t.Fatalf("first: %d %s", first.Status, first.Body)
		}
		id := first.JSON(t)["id"]
		again := srv.Do(t, "POST", "/fhir/Patient", patientWith("1"), "If-None-Exist", "Patient?identifier=urn:mrn|1")
		if again.Status != http.StatusOK || again.JSON(t)["id"] != id || again.Header.Get("ETag") != `W/"1"` {
			t.Errorf("again: %d %s, want 200 with %v", again.Status, again.Body, id)
		}
		srv.Do(t, "POST", "/fhir/Patient", patientWith("1"))
		if res := srv.Do(t, "POST", "/fhir/Patient", patientWith("1"), "If-None-Exist", "identifier=urn:mrn|1"); res.Status != http.StatusPreconditionFailed {
			t.Errorf("two matches: %d %s, want 412", res.Status, res.Body)
		}
		if res := srv.Do(t, "POST", "/fhir/Patient", patientWith("2"), "If-None-Exist", "nonsense=1"); res.Status != http.StatusBadRequest {
			t.Errorf("unknown parameter: %d %s, want 400", res.Status, res.Body)
		}
	})
}

// TestConditionalCreateRace: 50 parallel conditional creates with the same
// identifier, sent to two servers sharing one store, create exactly one
// resource; every other request answers it with 200.
func TestConditionalCreateRace(t *testing.T) {
	store := servertest.SQLite.Open(t, t.TempDir())
	t.Cleanup(func() { store.Close() })
	servers := []*servertest.Server{servertest.Start(t, store), servertest.Start(t, store)}
	const clients = 50
	var (
		mu      sync.Mutex
		created []string
		ids     = map[string]int{}
		wg      sync.WaitGroup
	)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := servers[i%2].Do(t, "POST", "/fhir/Patient", patientWith("race"), "If-None-Exist", "identifier=urn:mrn|race")
			mu.Lock()
			defer mu.Unlock()
			switch res.Status {
			case http.StatusCreated:
				created = append(created, res.JSON(t)["id"].(string))
			case http.StatusOK:
				ids[res.JSON(t)["id"].(string)]++
			default:
				t.Errorf("client %d: %d %s", i, res.Status, res.Body)
			}
		}()
	}
	wg.Wait()
	if len(created) != 1 {
		t.Fatalf("%d creates, want 1", len(created))
	}
	if len(ids) != 1 || ids[created[0]] != clients-1 {
		t.Errorf("the others answered %v, want %d times %s", ids, clients-1, created[0])
	}
	search := servers[0].Do(t, "GET", "/fhir/Patient?identifier=urn:mrn|race", nil)
	if total := search.JSON(t)["total"]; total != float64(1) {
		t.Errorf("%v Patients with the identifier, want 1", total)
	}
}

// TestConditionalUpdate: PUT /Patient?criteria creates, updates the
// match, checks the body's id and refuses several matches.
func TestConditionalUpdate(t *testing.T) {
	servertest.EachBackend(t, func(t *testing.T, b servertest.Backend) {
		srv := servertest.StartBackend(t, b)
		const criteria = "/fhir/Patient?identifier=urn:mrn|u1"
		created := srv.Do(t, "PUT", criteria, patientWith("u1"))
		if created.Status != http.StatusCreated {
			t.Fatalf("no match: %d %s", created.Status, created.Body)
		}
		id := created.JSON(t)["id"].(string)
		body := `{"resourceType":"Patient","gender":"female","identifier":[{"system":"urn:mrn","value":"u1"}]}`
		upd := srv.Do(t, "PUT", criteria, []byte(body), "If-Match", `W/"1"`)
		if upd.Status != http.StatusOK || upd.JSON(t)["id"] != id || upd.Header.Get("ETag") != `W/"2"` {
			t.Errorf("one match: %d %s", upd.Status, upd.Body)
		}
		if res := srv.Do(t, "PUT", criteria, []byte(body), "If-Match", `W/"1"`); res.Status != http.StatusPreconditionFailed {
			t.Errorf("stale If-Match: %d %s", res.Status, res.Body)
		}
		other := strings.Replace(body, `{"resourceType":"Patient",`, `{"resourceType":"Patient","id":"other",`, 1)
		if res := srv.Do(t, "PUT", criteria, []byte(other)); res.Status != http.StatusBadRequest {
			t.Errorf("body id of another resource: %d %s", res.Status, res.Body)
		}
		withID := srv.Do(t, "PUT", "/fhir/Patient?identifier=urn:mrn|u2", []byte(`{"resourceType":"Patient","id":"chosen","identifier":[{"system":"urn:mrn","value":"u2"}]}`))
		if withID.Status != http.StatusCreated || withID.JSON(t)["id"] != "chosen" {
			t.Errorf("no match with an id: %d %s", withID.Status, withID.Body)
		}
		if res := srv.Do(t, "PUT", "/fhir/Patient?identifier=urn:mrn|u3", []byte(`{"resourceType":"Patient","id":"chosen"}`)); res.Status != http.StatusConflict {
			t.Errorf("no match, id taken by another: %d %s, want 409", res.Status, res.Body)
		}
		srv.Do(t, "POST", "/fhir/Patient", patientWith("u1"))
		if res := srv.Do(t, "PUT", criteria, []byte(body)); res.Status != http.StatusPreconditionFailed {
			t.Errorf("two matches: %d %s", res.Status, res.Body)
		}
		if res := srv.Do(t, "PUT", "/fhir/Patient", []byte(body)); res.Status != http.StatusBadRequest {
			t.Errorf("no criteria: %d %s", res.Status, res.Body)
		}
	})
}

// TestConditionalDelete: one match is deleted, several are a 412 unless
// _multiple=true, none deletes nothing.
func TestConditionalDelete(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite)
	for _, v := range []string{"d1", "d2", "d2", "d2"} {
		srv.Do(t, "POST", "/fhir/Patient", patientWith(v))
	}
	one := srv.Do(t, "DELETE", "/fhir/Patient?identifier=urn:mrn|d1", nil)
	if one.Status != http.StatusOK || one.Header.Get("ETag") != `W/"2"` || !strings.Contains(string(one.Body), "deleted Patient/") {
		t.Errorf("one match: %d %v %s", one.Status, one.Header, one.Body)
	}
	if res := srv.Do(t, "DELETE", "/fhir/Patient?identifier=urn:mrn|d2", nil); res.Status != http.StatusPreconditionFailed {
		t.Errorf("three matches: %d %s", res.Status, res.Body)
	}
	all := srv.Do(t, "DELETE", "/fhir/Patient?identifier=urn:mrn|d2&_multiple=true", nil)
	if all.Status != http.StatusOK || strings.Count(string(all.Body), "Patient/") != 3 {
		t.Errorf("_multiple: %d %s", all.Status, all.Body)
	}
	none := srv.Do(t, "DELETE", "/fhir/Patient?identifier=urn:mrn|d2", nil)
	if none.Status != http.StatusOK || !strings.Contains(string(none.Body), "nothing was deleted") {
		t.Errorf("no match: %d %s", none.Status, none.Body)
	}
	if res := srv.Do(t, "GET", "/fhir/Patient?identifier=urn:mrn|d1,urn:mrn|d2", nil); res.JSON(t)["total"] != float64(0) {
		t.Errorf("left after the deletes: %s", res.Body)
	}
}

// TestConditionalCapabilities: the statement declares what runs.
func TestConditionalCapabilities(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite)
	cs := srv.Do(t, "GET", "/fhir/metadata", nil).JSON(t)
	if fmt.Sprint(cs["patchFormat"]) != "[application/json-patch+json application/fhir+json]" {
		t.Errorf("patchFormat %v", cs["patchFormat"])
	}
	for _, r := range cs["rest"].([]any)[0].(map[string]any)["resource"].([]any) {
		r := r.(map[string]any)
		if r["type"] != "Observation" {
			continue
		}
		if r["conditionalCreate"] != true || r["conditionalUpdate"] != true || r["conditionalDelete"] != "single" || r["conditionalRead"] != "full-support" {
			t.Errorf("conditional claims %v %v %v %v", r["conditionalCreate"], r["conditionalUpdate"], r["conditionalDelete"], r["conditionalRead"])
		}
		if !strings.Contains(fmt.Sprint(r["interaction"]), "patch") || !strings.Contains(fmt.Sprint(r["operation"]), "Resource-validate") {
			t.Errorf("interactions %v operations %v", r["interaction"], r["operation"])
		}
	}
}
