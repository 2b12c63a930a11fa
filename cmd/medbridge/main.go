// Command medbridge is the medbridge FHIR R4 server.
//
//	medbridge serve [flags]   run the server (see -h for flags; each also as MEDBRIDGE_<FLAG>)
//	medbridge healthcheck     probe a running server's /readyz (for container HEALTHCHECKs)
//	medbridge version         print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medbridge/medbridge/auth"
	"github.com/medbridge/medbridge/auth/authz"
	"github.com/medbridge/medbridge/auth/external"
	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/ingest"
	"github.com/medbridge/medbridge/ingest/mqtt"
	"github.com/medbridge/medbridge/server"
	"github.com/medbridge/medbridge/storage"
	"github.com/medbridge/medbridge/storage/mongo"
	"github.com/medbridge/medbridge/storage/sqlite"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "medbridge:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: medbridge serve [flags] | users | clients | keys | healthcheck [--url URL] | version")
	}
	switch args[0] {
	case "serve":
		cfg, err := parseServeFlags(args[1:], stderr)
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		log := newLogger(cfg, stderr)
		slog.SetDefault(log) // libraries that log through slog's default (zitadel/oidc) log like the rest
		return serve(ctx, cfg, log)
	case "users", "clients", "keys":
		return admin(ctx, args[0], args[1:], os.Stdin, os.Stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, args[1:], stderr)
	case "conformance":
		return checkConformance(ctx, args[1:], os.Stdout, stderr)
	case "version":
		fmt.Println("medbridge", version)
		return nil
	}
	return fmt.Errorf("unknown command %q; usage: medbridge serve [flags] | users | clients | keys | healthcheck [--url URL] | version", args[0])
}

func newLogger(cfg serveConfig, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.logLevel}
	if cfg.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// registerMQTT exports the MQTT subscriber's counters as metrics.
func registerMQTT(reg *prometheus.Registry, c *mqtt.Counters) {
	counter := func(name, help string, v func(mqtt.Stats) uint64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(v(c.Stats())) }))
	}
	counter("medbridge_mqtt_messages_received_total", "MQTT messages received.", func(s mqtt.Stats) uint64 { return s.Received })
	counter("medbridge_mqtt_messages_acked_total", "MQTT messages stored (or dead-lettered) and acknowledged.", func(s mqtt.Stats) uint64 { return s.Acked })
	counter("medbridge_mqtt_messages_failed_total", "MQTT messages not stored, left for redelivery.", func(s mqtt.Stats) uint64 { return s.Failed })
	counter("medbridge_mqtt_connects_total", "MQTT connections made.", func(s mqtt.Stats) uint64 { return s.Connects })
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "medbridge_mqtt_connected", Help: "1 while connected to the MQTT broker."},
		func() float64 {
			if c.Stats().Connected {
				return 1
			}
			return 0
		}))
}

// serve runs the server until ctx ends, then shuts down gracefully:
// in-flight requests finish, then the store closes.
func serve(ctx context.Context, cfg serveConfig, log *slog.Logger) error {
	store, storeDesc, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("closing the store", "error", err.Error())
		}
	}()
	spec, err := conformance.Load()
	if err != nil {
		return err
	}
	codec, err := fhir.NewCodec()
	if err != nil {
		return err
	}
	mqttCfg := mqtt.Config{
		URL: cfg.mqttURL, Topic: cfg.mqttTopic, ClientID: cfg.mqttClientID,
		Username: cfg.mqttUsername, Password: cfg.mqttPassword, Logger: log, Counters: &mqtt.Counters{},
	}
	if cfg.mqttURL != "" {
		if err := mqtt.Check(mqttCfg); err != nil {
			return err
		}
	}
	mappings, err := ingest.Mappings(cfg.mappings)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	if cfg.auth == "off" && !isLoopback(ln.Addr()) {
		ln.Close()
		return fmt.Errorf("--auth off serves every record to anyone who reaches %s; it binds to loopback addresses only (127.0.0.1, ::1)", ln.Addr())
	}
	if cfg.baseURL == "" {
		// Derived from the bound address, so --addr 127.0.0.1:0 works too.
		cfg.baseURL = "http://" + ln.Addr().String() + "/fhir"
	}
	verifier, smart, err := authorization(ctx, cfg, store)
	if err != nil {
		ln.Close()
		return err
	}
	registry := prometheus.NewRegistry()
	if cfg.mqttURL != "" {
		registerMQTT(registry, mqttCfg.Counters)
	}
	svc, err := ingest.New(ingest.Config{Store: store, Spec: spec, Codec: codec, Mappings: mappings, BaseURL: cfg.baseURL, Logger: log})
	if err != nil {
		ln.Close()
		return err
	}
	srv, err := server.New(server.Config{
		Store: store, Spec: spec, Codec: codec, BaseURL: cfg.baseURL,
		Logger: log, MaxBody: cfg.maxBody, Version: version, Ingest: svc, Registry: registry,
		Verifier: verifier, SMART: smart, MaxBundleEntries: cfg.maxBundleEntries,
	})
	if err != nil {
		ln.Close()
		return err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	log.Info("medbridge serving", append([]any{"base_url", cfg.baseURL, "addr", ln.Addr().String(), "auth", cfg.auth, "version", version}, storeDesc...)...)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	mqttDone := make(chan struct{})
	mqttCtx, stopMQTT := context.WithCancel(ctx)
	defer func() { stopMQTT(); <-mqttDone }()
	go func() {
		defer close(mqttDone)
		if cfg.mqttURL == "" {
			return
		}
		if err := mqtt.Run(mqttCtx, mqttCfg, svc.Handle); err != nil {
			errc <- err
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: waiting for in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

func openStore(ctx context.Context, cfg serveConfig) (storage.Store, []any, error) {
	if cfg.mongoURI != "" {
		st, err := mongo.Open(ctx, cfg.mongoURI)
		if err != nil {
			return nil, nil, fmt.Errorf("opening MongoDB: %w", err)
		}
		return st, []any{"store", "mongo", "mongo_uri", redact(cfg.mongoURI)}, nil
	}
	st, err := sqlite.Open(ctx, cfg.dataDir)
	if err != nil {
		return nil, nil, fmt.Errorf("opening the embedded store in %s: %w", cfg.dataDir, err)
	}
	return st, []any{"store", "sqlite", "data_dir", cfg.dataDir}, nil
}

// redact hides the password of a connection URI for logging.
func redact(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return "(unparseable URI)"
	}
	return u.Redacted()
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// healthcheck exits non-zero unless url answers 200; distroless images
// have no curl, so the binary probes itself.
func healthcheck(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("url", "http://127.0.0.1:8080/readyz", "URL to probe")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *target, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", *target, res.Status)
	}
	return nil
}

// authorization sets up --auth smart: the built-in authorization server
// at <root>/auth and its token verifier, and the verifier of --oidc-issuer
// when given. Both nil for --auth off.
func authorization(ctx context.Context, cfg serveConfig, store storage.Store) (auth.Verifier, *server.SMART, error) {
	if cfg.auth == "off" {
		return nil, nil, nil
	}
	az, err := authz.New(ctx, authz.Config{Issuer: strings.TrimSuffix(cfg.baseURL, "/fhir") + "/auth", FHIRBase: cfg.baseURL, Store: store})
	if err != nil {
		return nil, nil, err
	}
	sc := az.SmartConfiguration()
	smart := &server.SMART{Handler: az.Handler(), Configuration: sc, OAuthURIs: map[string]string{
		"authorize": sc.AuthorizationEndpoint, "token": sc.TokenEndpoint,
		"introspect": sc.IntrospectionEndpoint, "revoke": sc.RevocationEndpoint,
	}}
	verifiers := []auth.Verifier{az.Principals()}
	if cfg.oidcIssuer != "" {
		audiences := strings.Split(cfg.oidcAudience, ",")
		if cfg.oidcAudience == "" {
			audiences = []string{cfg.baseURL}
		}
		ext, err := external.New(ctx, external.Config{
			Issuer: cfg.oidcIssuer, Audiences: audiences,
			ScopeClaim: cfg.oidcScopeClaim, PatientClaim: cfg.oidcPatientClaim, FHIRUserClaim: cfg.oidcFHIRUserClaim,
		})
		if err != nil {
			return nil, nil, err
		}
		verifiers = append(verifiers, ext)
	}
	return auth.First(verifiers...), smart, nil
}
