package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/server/servertest"
	"github.com/medbridge/medbridge/storage"
)

// builtinDefinitions are the OperationDefinitions the server serves
// itself, with their codes.
var builtinDefinitions = map[string]string{
	"Observation-lastn": "lastn",
	"Observation-stats": "stats",
	"Resource-validate": "validate",
}

// definitionReads counts the store's reads of OperationDefinitions.
type definitionReads struct {
	storage.Store
	n atomic.Int64
}

func (s *definitionReads) Read(ctx context.Context, typ, id string) (*fhir.Resource, error) {
	if typ == "OperationDefinition" {
		s.n.Add(1)
	}
	return s.Store.Read(ctx, typ, id)
}

// TestOperationDefinitionRead reads each built-in OperationDefinition:
// valid R4 with the server's url, version 1, conditional read, vread of
// version 1, served without the store and refused to writes.
func TestOperationDefinitionRead(t *testing.T) {
	store := &definitionReads{Store: servertest.SQLite.Open(t, t.TempDir())}
	t.Cleanup(func() { store.Close() })
	srv := servertest.Start(t, store)
	_, codec := servertest.Spec(t)
	for id, code := range builtinDefinitions {
		t.Run(id, func(t *testing.T) {
			res := srv.Do(t, http.MethodGet, "/fhir/OperationDefinition/"+id, nil)
			if res.Status != http.StatusOK {
				t.Fatalf("GET: %d %s", res.Status, res.Body)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
				t.Errorf("Content-Type %q", ct)
			}
			if etag := res.Header.Get("ETag"); etag != `W/"1"` {
				t.Errorf("ETag %q, want W/\"1\"", etag)
			}
			if res.Header.Get("Last-Modified") == "" {
				t.Error("no Last-Modified")
			}
			if _, err := codec.Parse(res.Body); err != nil {
				t.Errorf("not valid R4: %v", err)
			}
			var def conformance.OperationDefinitionJSON
			if err := json.Unmarshal(res.Body, &def); err != nil {
				t.Fatal(err)
			}
			if def.ResourceType != "OperationDefinition" || def.ID != id || def.Code != code {
				t.Errorf("a %s %s with code %q", def.ResourceType, def.ID, def.Code)
			}
			if want := srv.Base + "/OperationDefinition/" + id; def.URL != want {
				t.Errorf("url %q, want %q", def.URL, want)
			}
			if v := res.JSON(t)["meta"].(map[string]any)["versionId"]; v != "1" {
				t.Errorf("meta.versionId %v", v)
			}

			if res := srv.Do(t, http.MethodGet, "/fhir/OperationDefinition/"+id, nil, "If-None-Match", `W/"1"`); res.Status != http.StatusNotModified {
				t.Errorf("If-None-Match W/\"1\": %d", res.Status)
			}
			if res := srv.Do(t, http.MethodGet, "/fhir/OperationDefinition/"+id+"/_history/1", nil); res.Status != http.StatusOK || res.JSON(t)["id"] != id {
				t.Errorf("vread of version 1: %d %s", res.Status, res.Body)
			}
			if res := srv.Do(t, http.MethodGet, "/fhir/OperationDefinition/"+id+"?_elements=code", nil); res.Status != http.StatusOK || res.JSON(t)["code"] != code || res.JSON(t)["parameter"] != nil {
				t.Errorf("_elements=code: %d %s", res.Status, res.Body)
			}
			for _, method := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
				if res := srv.Do(t, method, "/fhir/OperationDefinition/"+id, res.Body); res.Status != http.StatusMethodNotAllowed {
					t.Errorf("%s: %d %s, want 405", method, res.Status, res.Body)
				}
			}
			if res := srv.Do(t, http.MethodGet, "/fhir/OperationDefinition/"+id, nil); res.Status != http.StatusOK || res.JSON(t)["url"] != def.URL {
				t.Errorf("after the refused writes: %d %s", res.Status, res.Body)
			}
		})
	}
	if n := store.n.Load(); n != 0 {
		t.Errorf("the store was asked for an OperationDefinition %d times", n)
	}
	// Like /metadata, they are not audited.
	if res := srv.Do(t, http.MethodGet, "/fhir/AuditEvent?_summary=count", nil); res.Status != http.StatusOK || res.JSON(t)["total"] != 0.0 {
		t.Errorf("AuditEvents after reading the definitions: %d %s", res.Status, res.Body)
	}
}

// TestOperationDefinitionStored: other OperationDefinitions are ordinary
// resources of the store.
func TestOperationDefinitionStored(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite)
	body := []byte(`{"resourceType":"OperationDefinition","id":"my-op","url":"http://example.org/OperationDefinition/my-op",
		"name":"MyOp","status":"draft","kind":"operation","code":"my-op","system":true,"type":false,"instance":false}`)
	if res := srv.Do(t, http.MethodPut, "/fhir/OperationDefinition/my-op", body); res.Status != http.StatusCreated {
		t.Fatalf("PUT: %d %s", res.Status, res.Body)
	}
	res := srv.Do(t, http.MethodGet, "/fhir/OperationDefinition/my-op", nil)
	if res.Status != http.StatusOK || res.JSON(t)["code"] != "my-op" || res.JSON(t)["url"] != "http://example.org/OperationDefinition/my-op" {
		t.Fatalf("GET: %d %s", res.Status, res.Body)
	}
	if res := srv.Do(t, http.MethodGet, "/fhir/OperationDefinition/unknown", nil); res.Status != http.StatusNotFound {
		t.Errorf("GET of an unknown id: %d, want 404", res.Status)
	}
	if res := srv.Do(t, http.MethodDelete, "/fhir/OperationDefinition/my-op", nil); res.Status != http.StatusNoContent {
		t.Errorf("DELETE: %d %s", res.Status, res.Body)
	}
}

// TestOperationDefinitionPublic: like the CapabilityStatement, the
// definitions need no token; stored OperationDefinitions do.
func TestOperationDefinitionPublic(t *testing.T) {
	var smart servertest.SMART
	srv := servertest.StartBackend(t, servertest.SQLite, servertest.WithSMART(t, &smart))
	if res := srv.Do(t, http.MethodGet, "/fhir/OperationDefinition/Observation-lastn", nil); res.Status != http.StatusOK {
		t.Errorf("built-in without a token: %d %s", res.Status, res.Body)
	}
	if res := srv.Do(t, http.MethodGet, "/fhir/OperationDefinition/my-op", nil); res.Status != http.StatusUnauthorized {
		t.Errorf("stored without a token: %d, want 401", res.Status)
	}
}

// capabilityStatement reads the server's statement.
func capabilityStatement(t *testing.T, srv *servertest.Server) (*conformance.CapabilityStatementJSON, *conformance.RestJSON) {
	t.Helper()
	res := srv.Do(t, http.MethodGet, "/fhir/metadata", nil)
	if res.Status != http.StatusOK {
		t.Fatalf("metadata: %d %s", res.Status, res.Body)
	}
	cs, rest, err := conformance.ParseCapabilityStatement(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return cs, rest
}

// TestCapabilityOperationDefinitions: every operation.definition of the
// statement resolves on the live server to an OperationDefinition of that
// operation, on the types it is claimed for.
func TestCapabilityOperationDefinitions(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite)
	_, rest := capabilityStatement(t, srv)
	defs := map[string]*conformance.OperationDefinitionJSON{}
	claimed := map[string][]string{} // operation name → types
	for _, rc := range rest.Resource {
		for _, op := range rc.Operation {
			claimed[op.Name] = append(claimed[op.Name], rc.Type)
			def := defs[op.Definition]
			if def == nil {
				path, ok := strings.CutPrefix(op.Definition, srv.Base)
				if !ok {
					t.Fatalf("%s $%s: definition %q is not under the base", rc.Type, op.Name, op.Definition)
				}
				res := srv.Do(t, http.MethodGet, "/fhir"+path, nil)
				if res.Status != http.StatusOK {
					t.Fatalf("%s $%s: GET %s: %d %s", rc.Type, op.Name, op.Definition, res.Status, res.Body)
				}
				def = &conformance.OperationDefinitionJSON{}
				if err := json.Unmarshal(res.Body, def); err != nil {
					t.Fatal(err)
				}
				defs[op.Definition] = def
			}
			if def.Code != op.Name || def.URL != op.Definition || !def.AppliesTo(rc.Type) || !def.Type {
				t.Errorf("%s $%s: definition %s has code %q url %q resource %v type %v", rc.Type, op.Name, op.Definition, def.Code, def.URL, def.Resource, def.Type)
			}
		}
	}
	if len(rest.Operation) > 0 {
		t.Errorf("system operations claimed: %v", rest.Operation)
	}
	if got := claimed["lastn"]; !slices.Equal(got, []string{"Observation"}) {
		t.Errorf("$lastn claimed on %v", got)
	}
	if got := claimed["stats"]; !slices.Equal(got, []string{"Observation"}) {
		t.Errorf("$stats claimed on %v", got)
	}
	if got := claimed["validate"]; len(got) != len(rest.Resource) {
		t.Errorf("$validate claimed on %d of %d types", len(got), len(rest.Resource))
	}
	if len(defs) != len(builtinDefinitions) {
		t.Errorf("%d definitions named, want %d", len(defs), len(builtinDefinitions))
	}
}

// TestCapabilityAppendOnly: the statement claims no change of AuditEvents.
func TestCapabilityAppendOnly(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite)
	_, rest := capabilityStatement(t, srv)
	i := slices.IndexFunc(rest.Resource, func(rc conformance.RestResourceJSON) bool { return rc.Type == "AuditEvent" })
	if i < 0 {
		t.Fatal("AuditEvent is not in the statement")
	}
	rc := rest.Resource[i]
	for _, code := range []string{"update", "patch", "delete"} {
		if rc.Has(code) {
			t.Errorf("AuditEvent claims %s", code)
		}
	}
	for _, code := range []string{"create", "read", "vread", "search-type", "history-instance", "history-type"} {
		if !rc.Has(code) {
			t.Errorf("AuditEvent does not claim %s", code)
		}
	}
	if rc.ConditionalUpdate || rc.UpdateCreate || rc.ConditionalDelete != "not-supported" || rc.Versioning != "versioned" || rc.ReadHistory {
		t.Errorf("conditionalUpdate %v updateCreate %v conditionalDelete %q versioning %q readHistory %v",
			rc.ConditionalUpdate, rc.UpdateCreate, rc.ConditionalDelete, rc.Versioning, rc.ReadHistory)
	}
	if !strings.Contains(rc.Documentation, "Append-only") {
		t.Errorf("documentation %q does not say AuditEvent is append-only", rc.Documentation)
	}
	j := slices.IndexFunc(rest.Resource, func(rc conformance.RestResourceJSON) bool { return rc.Type == "Patient" })
	if p := rest.Resource[j]; !p.Has("update") || !p.Has("delete") || !p.ConditionalUpdate || p.ConditionalDelete != "single" {
		t.Errorf("Patient lost its changes: %+v", p.Interaction)
	}
}
