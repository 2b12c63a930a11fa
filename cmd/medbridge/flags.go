package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
)

type serveConfig struct {
	addr, dataDir, mongoURI, baseURL, auth, logFormat string
	logLevel                                          slog.Level
	maxBody                                           int64
	maxBundleEntries                                  int
	// mappings is the directory of device-mapping templates.
	mappings string
	// An external OpenID provider whose access tokens are accepted too.
	oidcIssuer, oidcAudience, oidcScopeClaim, oidcPatientClaim, oidcFHIRUserClaim string
	// The MQTT subscriber, off without mqttURL.
	mqttURL, mqttTopic, mqttClientID, mqttUsername, mqttPassword string
}

// parseServeFlags reads serve's flags; a flag not given on the command line
// falls back to the environment variable MEDBRIDGE_<FLAG> (dashes as
// underscores, e.g. MEDBRIDGE_DATA_DIR).
func parseServeFlags(args []string, stderr io.Writer) (serveConfig, error) {
	var cfg serveConfig
	var maxBody, logLevel string
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&cfg.dataDir, "data-dir", "medbridge-data", "directory of the embedded SQLite store")
	fs.StringVar(&cfg.mongoURI, "mongo-uri", "", "MongoDB URI (a replica set in production); when set, data is stored there instead of --data-dir")
	fs.StringVar(&cfg.baseURL, "base-url", "", "public FHIR base URL (default http://<bound address>/fhir)")
	fs.StringVar(&cfg.auth, "auth", "smart", "authorization: smart (SMART on FHIR bearer tokens, built-in authorization server at /auth) or off (local development on a loopback address only)")
	fs.StringVar(&cfg.oidcIssuer, "oidc-issuer", "", "also accept access tokens of this OpenID provider (the hospital's identity provider)")
	fs.StringVar(&cfg.oidcAudience, "oidc-audience", "", "accepted aud values of the provider's tokens, comma-separated (default: the FHIR base URL)")
	fs.StringVar(&cfg.oidcScopeClaim, "oidc-scope-claim", "scope", "claim holding the SMART scopes (a string or an array, e.g. scp)")
	fs.StringVar(&cfg.oidcPatientClaim, "oidc-patient-claim", "patient", "claim holding the patient in context")
	fs.StringVar(&cfg.oidcFHIRUserClaim, "oidc-fhiruser-claim", "fhirUser", "claim holding the user's FHIR resource")
	fs.StringVar(&cfg.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&maxBody, "max-body", "16MiB", "request body limit (bytes, or with KiB/MiB/GiB)")
	fs.IntVar(&cfg.maxBundleEntries, "max-bundle-entries", 10000, "largest batch or transaction Bundle, in entries")
	fs.StringVar(&cfg.mappings, "mappings", "", "directory of device mappings in the MedTech (iomt-fhir) template format: one folder per mapping with devicecontent.json and fhirmapping.json")
	fs.StringVar(&cfg.mqttURL, "mqtt-url", "", "MQTT broker to take device messages from, e.g. tcp://127.0.0.1:1883 (off when empty)")
	fs.StringVar(&cfg.mqttTopic, "mqtt-topic", "medbridge/ingest/+", "MQTT subscription; the level matched by + names the mapping")
	fs.StringVar(&cfg.mqttClientID, "mqtt-client-id", "medbridge", "MQTT client id of the persistent session")
	fs.StringVar(&cfg.mqttUsername, "mqtt-username", "", "MQTT user name")
	fs.StringVar(&cfg.mqttPassword, "mqtt-password", "", "MQTT password (prefer the MEDBRIDGE_MQTT_PASSWORD environment variable)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		env := "MEDBRIDGE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && !set[f.Name] {
			if err := f.Value.Set(v); err != nil && envErr == nil {
				envErr = fmt.Errorf("%s: %w", env, err)
			}
		}
	})
	if envErr != nil {
		return cfg, envErr
	}
	if cfg.auth != "off" && cfg.auth != "smart" {
		return cfg, fmt.Errorf("--auth must be smart or off, not %q", cfg.auth)
	}
	if cfg.auth == "off" && cfg.oidcIssuer != "" {
		return cfg, errors.New("--oidc-issuer needs --auth smart")
	}
	if cfg.logFormat != "text" && cfg.logFormat != "json" {
		return cfg, fmt.Errorf("--log-format must be text or json, not %q", cfg.logFormat)
	}
	if err := cfg.logLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return cfg, fmt.Errorf("--log-level: %w", err)
	}
	if cfg.maxBundleEntries < 1 {
		return cfg, fmt.Errorf("--max-bundle-entries must be at least 1, not %d", cfg.maxBundleEntries)
	}
	n, err := parseSize(maxBody)
	if err != nil {
		return cfg, fmt.Errorf("--max-body: %w", err)
	}
	cfg.maxBody = n
	cfg.baseURL = strings.TrimSuffix(cfg.baseURL, "/")
	return cfg, nil
}

// parseSize reads a byte count such as 1048576, 512KiB, 16MiB or 1GiB.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive size", s)
	}
	return n * mult, nil
}
