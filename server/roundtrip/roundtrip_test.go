// Package roundtrip_test PUTs every official R4 example into both stores.
// It is a package of its own so that its long Mongo run (FerretDB scans on
// every query) has its own test binary and timeout.
package roundtrip_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/medbridge/medbridge/server/servertest"
)

// TestOfficialExamplesRoundTrip PUTs every official R4 example with its id
// and reads it back. What comes back must equal what was sent, compared as
// JSON with exact number literals, apart from these normalisations:
//   - meta.versionId and meta.lastUpdated are the server's (the sent ones are
//     replaced; meta disappears from the comparison when nothing else is in it).
//
// The serializer (google/fhir/go) keeps decimal literals, primitive
// extensions (_field), contained resources and element order semantics, so
// no other difference is tolerated.
func TestOfficialExamplesRoundTrip(t *testing.T) {
	files, err := filepath.Glob("../../testdata/examples/*.json")
	if err != nil || len(files) != 705 {
		t.Fatalf("want the 705 official examples in testdata/examples, found %d (%v)", len(files), err)
	}
	servertest.EachBackend(t, func(t *testing.T, b servertest.Backend) {
		// Without the audit trail: its 1,410 records would make every
		// FerretDB scan (all queries scan there) ever longer, and this test
		// is about the examples (the trail has its own tests).
		srv := servertest.StartBackend(t, b, servertest.WithoutAudit())
		passed, refused := 0, 0
		for _, f := range files {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var head struct{ ResourceType, ID string }
			if err := json.Unmarshal(body, &head); err != nil {
				t.Fatal(err)
			}
			path := "/fhir/" + head.ResourceType + "/" + head.ID
			put := srv.Do(t, http.MethodPut, path, body)
			name := filepath.Base(f)
			if want, invalid := servertest.InvalidExamples[name]; invalid {
				if put.Status != http.StatusUnprocessableEntity || !bytes.Contains(put.Body, []byte(`"`+want+`"`)) {
					t.Errorf("%s: want 422 naming %s, got %d %s", name, want, put.Status, put.Body)
				}
				if got := srv.Do(t, http.MethodGet, path, nil); got.Status != http.StatusNotFound {
					t.Errorf("%s: refused example was stored (GET %d)", name, got.Status)
				}
				refused++
				continue
			}
			if put.Status != http.StatusCreated && put.Status != http.StatusOK {
				t.Errorf("%s: PUT %d %s", name, put.Status, put.Body)
				continue
			}
			got := srv.Do(t, http.MethodGet, path, nil)
			if got.Status != http.StatusOK {
				t.Errorf("%s: GET %d %s", name, got.Status, got.Body)
				continue
			}
			want, have := comparable(t, body), comparable(t, got.Body)
			if !reflect.DeepEqual(want, have) {
				t.Errorf("%s: read back differs:\nsent %s\ngot  %s", name, body, got.Body)
				continue
			}
			passed++
		}
		t.Logf("%s: %d examples round-tripped equal, %d invalid examples refused as expected, %d in all", b.Name, passed, refused, len(files))
		if passed+refused != len(files) {
			t.Errorf("%d examples failed", len(files)-passed-refused)
		}
	})
}

// comparable decodes JSON with exact numbers and drops the server-owned
// meta fields.
func comparable(t *testing.T, b []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	if meta, ok := m["meta"].(map[string]any); ok {
		delete(meta, "versionId")
		delete(meta, "lastUpdated")
		if len(meta) == 0 {
			delete(m, "meta")
		}
	}
	return m
}
