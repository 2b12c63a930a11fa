// Package servertest starts real medbridge servers for tests: the HTTP
// server in-process on 127.0.0.1:0 over a real store in a temp dir, the
// embedded SQLite store or the Mongo store on in-process FerretDB.
package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medbridge/medbridge/auth/authz"
	"github.com/medbridge/medbridge/auth/authz/authztest"
	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/ingest"
	"github.com/medbridge/medbridge/server"
	"github.com/medbridge/medbridge/storage"
	"github.com/medbridge/medbridge/storage/mongo"
	"github.com/medbridge/medbridge/storage/mongo/mongotest"
	"github.com/medbridge/medbridge/storage/sqlite"
)

// Backend opens one kind of store with its data in dir; opening the same
// dir again after Close sees the same data.
type Backend struct {
	Name string
	Open func(t testing.TB, dir string) storage.Store
}

// SQLite is the embedded store.
var SQLite = Backend{Name: "sqlite", Open: func(t testing.TB, dir string) storage.Store {
	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("open sqlite store: %v", err)
	}
	return st
}}

// Mongo is the MongoDB store on an in-process FerretDB whose data lives in dir.
var Mongo = Backend{Name: "mongo", Open: func(t testing.TB, dir string) storage.Store {
	st, err := mongo.Open(context.Background(), mongotest.Start(t, dir))
	if err != nil {
		t.Fatalf("open mongo store: %v", err)
	}
	return st
}}

// Backends are the stores every server test runs against.
var Backends = []Backend{SQLite, Mongo}

// EachBackend runs f as a subtest per backend.
func EachBackend(t *testing.T, f func(t *testing.T, b Backend)) {
	for _, b := range Backends {
		t.Run(b.Name, func(t *testing.T) { f(t, b) })
	}
}

var shared struct {
	once  sync.Once
	spec  *conformance.Spec
	codec *fhir.Codec
	err   error
}

// Spec returns the conformance data, loaded once per test binary.
func Spec(t testing.TB) (*conformance.Spec, *fhir.Codec) {
	shared.once.Do(func() {
		shared.spec, shared.err = conformance.Load()
		if shared.err == nil {
			shared.codec, shared.err = fhir.NewCodec()
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.spec, shared.codec
}

// Server is a running medbridge.
type Server struct {
	// Base is the FHIR base URL, e.g. http://127.0.0.1:41234/fhir.
	Base  string
	Root  string
	Store storage.Store
	http  *httptest.Server
}

// Option adjusts the server's configuration.
type Option func(*server.Config)

// Start serves store over HTTP on 127.0.0.1:0 until the test ends. The
// store is closed by the caller (Open's callers register that cleanup).
func Start(t testing.TB, store storage.Store, opts ...Option) *Server {
	spec, codec := Spec(t)
	hs := httptest.NewUnstartedServer(nil)
	cfg := server.Config{
		Store: store, Spec: spec, Codec: codec,
		BaseURL: "http://" + hs.Listener.Addr().String() + "/fhir",
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if os.Getenv("MEDBRIDGE_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = srv.Handler()
	hs.Start()
	t.Cleanup(hs.Close)
	return &Server{Base: cfg.BaseURL, Root: hs.URL, Store: store, http: hs}
}

// StartBackend opens b in a temp dir, closes it at the end of the test,
// and serves it.
func StartBackend(t testing.TB, b Backend, opts ...Option) *Server {
	store := b.Open(t, t.TempDir())
	t.Cleanup(func() { store.Close() })
	return Start(t, store, opts...)
}

// Close stops the HTTP server (the store stays open).
func (s *Server) Close() { s.http.Close() }

// Response is a finished HTTP exchange.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map, failing the test if it is not JSON.
func (r *Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// Do sends a request to the server; path is relative to Root (e.g.
// "/fhir/Patient/1"). A body sent without a Content-Type header gets
// application/fhir+json.
func (s *Server) Do(t testing.TB, method, path string, body []byte, header ...string) *Response {
	t.Helper()
	req, err := http.NewRequest(method, s.Root+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// InvalidExamples are the official R4 examples (file name → the expression the refusal names) that break the R4 rules the
// validator enforces; the spec's own errata. Each must be refused with a
// 422 naming the element, like any other invalid resource.
var InvalidExamples = map[string]string{
	"DeviceMetric-example.json":        "DeviceMetric.parent",                         // Reference(DeviceDefinition), the element allows Device only
	"DeviceUseStatement-example.json":  "DeviceUseStatement.reasonReference[0]",       // Reference(Procedure) is not an allowed target
	"MedicationRequest-medrx0301.json": "MedicationRequest.dispenseRequest.performer", // Reference(Practitioner), Organization only
	"Observation-clinical-gender.json": "Observation.performer[0]",                    // Reference(Encounter) is not an allowed performer
	"Questionnaire-qs1.json":           "Questionnaire.item[0].item[0].linkId",        // nested items lack the required linkId
}

// WithoutAudit turns the audit trail off, for tests about other things
// whose counts every request's AuditEvent would change.
func WithoutAudit() Option {
	return func(cfg *server.Config) { cfg.NoAudit = true }
}

// WithIngest serves device ingest with the built-in mappings and the
// template mappings of dir ("" for none).
func WithIngest(t testing.TB, dir string) Option {
	return func(cfg *server.Config) {
		mappings, err := ingest.Mappings(dir)
		if err != nil {
			t.Fatal(err)
		}
		svc, err := ingest.New(ingest.Config{Store: cfg.Store, Spec: cfg.Spec, Codec: cfg.Codec, Mappings: mappings, BaseURL: cfg.BaseURL, Logger: cfg.Logger})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Ingest = svc
	}
}

// SMART is the built-in authorization server of a test server, with a
// clock the test moves.
type SMART struct {
	*authz.Server
	fhirBase string
	offset   atomic.Int64 // added to the real time, in nanoseconds
}

// Now is the authorization server's clock.
func (s *SMART) Now() time.Time { return time.Now().Add(time.Duration(s.offset.Load())) }

// Advance moves the clock: tokens issued before expire as they would.
func (s *SMART) Advance(d time.Duration) { s.offset.Add(int64(d)) }

// Agent gets tokens from the server over HTTP, on its clock.
func (s *SMART) Agent(t testing.TB) *authztest.Agent {
	a := authztest.New(t, s.Issuer(), s.fhirBase)
	a.Now = s.Now
	return a
}

// WithSMART requires tokens as `medbridge serve --auth smart` does: it
// fills smart with an authorization server on the test's store, issuer
// <root>/auth and aud the FHIR base, serves it at /auth with SMART
// discovery and makes the FHIR server verify its tokens.
func WithSMART(t testing.TB, smart *SMART) Option {
	return func(cfg *server.Config) {
		smart.fhirBase = cfg.BaseURL
		az, err := authz.New(context.Background(), authz.Config{
			Issuer: strings.TrimSuffix(cfg.BaseURL, "/fhir") + "/auth", FHIRBase: cfg.BaseURL, Store: cfg.Store, Now: smart.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		smart.Server = az
		sc := az.SmartConfiguration()
		cfg.SMART = &server.SMART{Handler: az.Handler(), Configuration: sc, OAuthURIs: map[string]string{
			"authorize": sc.AuthorizationEndpoint, "token": sc.TokenEndpoint,
			"introspect": sc.IntrospectionEndpoint, "revoke": sc.RevocationEndpoint,
		}}
		cfg.Verifier = az.Principals()
	}
}
