// Package server is medbridge's HTTP layer: echo wiring, one file per FHIR
// interaction, and one error handler (errors.go) that renders every error as
// an OperationOutcome. Handlers are generic over all R4 resource types.
package server

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/medbridge/medbridge/auth"
	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/conformance/profile"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/ingest"
	"github.com/medbridge/medbridge/storage"
)

// DefaultMaxBody is the default request body limit (16 MiB).
const DefaultMaxBody = 16 << 20

// Config is what a Server needs.
type Config struct {
	Store storage.Store
	Spec  *conformance.Spec
	Codec *fhir.Codec
	// BaseURL is the public FHIR base, e.g. http://127.0.0.1:8080/fhir,
	// used in Location headers and Bundle fullUrls.
	BaseURL string
	Logger  *slog.Logger
	// MaxBody limits request bodies; 0 means DefaultMaxBody.
	MaxBody int64
	// Registry receives the server's metrics; nil means a new registry.
	Registry *prometheus.Registry
	// Version is the software version reported in the CapabilityStatement.
	Version string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Ingest, when set, serves device ingest under /ingest.
	Ingest *ingest.Service
	// Verifier, when set, makes every FHIR and ingest request need a
	// bearer token it accepts, and the token's scopes decide (see
	// authorize.go). Nil serves without authorization (--auth off).
	Verifier auth.Verifier
	// SMART, when set, is the built-in authorization server to serve at
	// /auth, with SMART discovery.
	SMART *SMART
	// MaxBundleEntries limits the entries of a batch or transaction; 0
	// means DefaultMaxBundleEntries.
	MaxBundleEntries int
	// NoAudit turns the audit trail off: for measuring its cost only.
	// medbridge serve always audits.
	NoAudit bool
}

// Server serves the FHIR REST API over a Store.
type Server struct {
	store   storage.Store
	spec    *conformance.Spec
	codec   *fhir.Codec
	baseURL string
	// root is the server's address without the FHIR base's path
	// (http://host:port), under which /ingest lives.
	root     string
	ingest   *ingest.Service
	verifier auth.Verifier
	smart    *SMART
	log      *slog.Logger
	maxBody  int64
	now      func() time.Time
	metrics  *metrics
	registry *prometheus.Registry
	echo     *echo.Echo
	capStmt  []byte
	// extractor computes search index entries at write time and reads
	// references for _include.
	extractor *storage.Extractor
	// maxBundleEntries is Config.MaxBundleEntries (see bundleLimit).
	maxBundleEntries int
	// noAudit is Config.NoAudit (see audit.go).
	noAudit bool
	// profiles returns the StructureDefinition validator, built on first
	// use: only $validate and writes that claim a profile need it.
	profiles func() (*profile.Validator, error)
}

// New builds a Server and its routes.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Spec == nil || cfg.Codec == nil {
		return nil, errors.New("server: Store, Spec and Codec are required")
	}
	s := &Server{
		store:    cfg.Store,
		spec:     cfg.Spec,
		codec:    cfg.Codec,
		baseURL:  strings.TrimSuffix(cfg.BaseURL, "/"),
		ingest:   cfg.Ingest,
		verifier: cfg.Verifier,
		smart:    cfg.SMART,
		log:      cfg.Logger,
		maxBody:  cfg.MaxBody,
		now:      cfg.Now,
		registry: cfg.Registry,

		maxBundleEntries: cfg.MaxBundleEntries,
		noAudit:          cfg.NoAudit,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.root = strings.TrimSuffix(s.baseURL, "/fhir")
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBody
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
	}
	s.metrics = newMetrics(s.registry)
	x, err := storage.NewExtractor(s.spec)
	if err != nil {
		return nil, err
	}
	s.extractor = x.WithBase(s.baseURL)
	s.profiles = sync.OnceValues(func() (*profile.Validator, error) { return profile.New(s.spec) })
	capStmt, err := s.capabilityStatement(cfg.Version)
	if err != nil {
		return nil, err
	}
	s.capStmt = capStmt
	s.routes()
	return s, nil
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.echo }

func (s *Server) routes() {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(s.requestIDs, s.observe, middleware.CORSWithConfig(corsConfig))

	e.GET("/healthz", s.healthz, s.interaction("healthz"))
	e.GET("/readyz", s.readyz, s.interaction("readyz"))
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})), s.interaction("metrics"))

	// FHIR routes carry their middleware themselves: echo's Group.Use would
	// register catch-all routes that turn a wrong method (405) into a 404.
	fhirRoute := func(methods []string, path string, h echo.HandlerFunc, interaction string) {
		e.Match(methods, "/fhir"+path, h, s.interaction(interaction), negotiate, s.limitBody, s.audited(interaction), s.authorize(interaction), s.mutable(interaction))
	}
	read := []string{http.MethodGet, http.MethodHead}
	post := []string{http.MethodPost}
	readPost := []string{http.MethodGet, http.MethodHead, http.MethodPost}
	fhirRoute(read, "", s.searchSystem, "search-system")
	fhirRoute(read, "/", s.searchSystem, "search-system")
	fhirRoute(post, "/_search", s.searchSystem, "search-system")
	for _, base := range []string{"/fhir", "/fhir/"} { // authorized per entry: see transaction.go
		e.POST(base, s.processBundle, s.interaction("transaction"), negotiate, s.limitBody, s.audited("transaction"))
	}
	fhirRoute(read, "/metadata", s.capabilities, "capabilities")
	s.operationDefinitionRoutes(fhirRoute)
	if s.smart != nil {
		fhirRoute(read, "/.well-known/smart-configuration", s.smartConfiguration, "smart-configuration")
		s.smartRoutes(e)
	}
	fhirRoute(read, "/_history", s.history, "history-system")
	fhirRoute(read, "/:type", s.searchType, "search-type")
	fhirRoute(post, "/:type/_search", s.searchType, "search-type")
	fhirRoute(post, "/:type", s.create, "create")
	fhirRoute([]string{http.MethodPut}, "/:type", s.conditionalUpdate, "conditional-update")
	fhirRoute([]string{http.MethodDelete}, "/:type", s.conditionalDelete, "conditional-delete")
	fhirRoute([]string{http.MethodPatch}, "/:type", s.conditionalPatch, "conditional-patch")
	fhirRoute(post, "/:type/$validate", s.validateType, "operation-validate")
	fhirRoute(read, "/:type/_history", s.history, "history-type")
	fhirRoute(readPost, "/Observation/$lastn", s.lastn, "operation-lastn")
	fhirRoute(readPost, "/Observation/$stats", s.stats, "operation-stats")
	fhirRoute(read, "/:type/:id", s.read, "read")
	fhirRoute([]string{http.MethodPut}, "/:type/:id", s.update, "update")
	fhirRoute([]string{http.MethodDelete}, "/:type/:id", s.delete, "delete")
	fhirRoute([]string{http.MethodPatch}, "/:type/:id", s.patch, "patch")
	fhirRoute(readPost, "/:type/:id/$validate", s.validateInstance, "operation-validate-instance")
	fhirRoute(read, "/:type/:id/_history", s.history, "history-instance")
	fhirRoute(read, "/:type/:id/:target", s.searchCompartment, "search-compartment")
	fhirRoute(read, "/:type/:id/_history/:vid", s.vread, "vread")
	if s.ingest != nil {
		s.ingestRoutes(e)
	}
	s.echo = e
}

// corsConfig lets browser apps call every endpoint. Authorization is named
// explicitly: a wildcard does not cover it.
var corsConfig = middleware.CORSConfig{
	AllowOrigins: []string{"*"},
	AllowMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions},
	AllowHeaders: []string{"Authorization", "Content-Type", "Accept", "If-Match", "If-None-Match",
		"If-None-Exist", "If-Modified-Since", "Prefer", headerRequestID},
	ExposeHeaders: []string{"ETag", "Location", "Content-Location", "Last-Modified", headerRequestID},
	MaxAge:        86400,
}

func (s *Server) checkType(typ string) error {
	if !s.spec.IsResourceType(typ) {
		return fhir.Errorf(http.StatusNotFound, fhir.CodeNotSupported, "unknown resource type %q", typ)
	}
	return nil
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the store answers a ping, 503 otherwise.
func (s *Server) readyz(c echo.Context) error {
	if err := s.store.Ping(c.Request().Context()); err != nil {
		logger(c).Warn("store not ready", "error", err.Error())
		return fhir.Errorf(http.StatusServiceUnavailable, fhir.CodeTimeout, "the store is not reachable")
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}
