package authz_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medbridge/medbridge/auth/authz"
	"github.com/medbridge/medbridge/auth/authz/authztest"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
	"github.com/medbridge/medbridge/storage/sqlite"
)

// env is an authorization server over HTTP on a real SQLite store, with
// a clock the test moves, and the agent that drives it.
type env struct {
	*authztest.Agent
	ts     *httptest.Server
	store  storage.Store
	srv    *authz.Server
	offset atomic.Int64 // added to the real time, in nanoseconds
	mux    *http.ServeMux
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{mux: http.NewServeMux()}
	e.ts = httptest.NewServer(e.mux)
	t.Cleanup(e.ts.Close)
	store, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e.store = store
	e.Agent = authztest.New(t, e.ts.URL+"/auth", e.ts.URL+"/fhir")
	e.Now = e.now
	e.srv = e.newServer()
	e.mux.Handle("/auth/", e.srv.Handler())
	e.mux.HandleFunc("/fhir/.well-known/smart-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(e.srv.SmartConfiguration())
	})
	return e
}

// newServer starts another server process on the same store.
func (e *env) newServer() *authz.Server {
	e.T.Helper()
	srv, err := authz.New(context.Background(), authz.Config{
		Issuer: e.Issuer, FHIRBase: e.FHIRBase, Store: e.store, Now: e.now,
	})
	if err != nil {
		e.T.Fatal(err)
	}
	return srv
}

func (e *env) now() time.Time          { return time.Now().Add(time.Duration(e.offset.Load())) }
func (e *env) advance(d time.Duration) { e.offset.Add(int64(d)) }

func (e *env) addUser(name, fhirUser string) authztest.User {
	return authztest.AddUser(e.T, e.srv.Admin, name, fhirUser)
}

func (e *env) addClient(spec authz.ClientSpec) (id, secret string) {
	return authztest.AddClient(e.T, e.srv.Admin, spec)
}

func (e *env) publicApp() authztest.App { return authztest.AddPublicApp(e.T, e.srv.Admin) }

// addPatient stores a Patient for the picker.
func (e *env) addPatient(id, family string) {
	e.T.Helper()
	body := `{"resourceType":"Patient","id":"` + id + `","name":[{"family":"` + family + `","given":["Ann"]}]}`
	err := e.store.Write(context.Background(), storage.Write{
		Resource: fhir.Resource{Type: "Patient", ID: id, Version: 1, LastUpdated: time.Now(), Method: http.MethodPut, JSON: []byte(body)},
	})
	if err != nil {
		e.T.Fatal(err)
	}
}
