package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/medbridge/medbridge/auth/authz"
)

// The management commands of the built-in authorization server: users,
// clients and signing keys, kept in the same store `serve` uses
// (--data-dir or --mongo-uri, or their MEDBRIDGE_ variables).
//
//	medbridge users add --username U --fhir-user Practitioner/1 [--name N]   (password from MEDBRIDGE_PASSWORD or stdin)
//	medbridge users list
//	medbridge clients add --type public|confidential|backend [--name N] [--redirect-uri URL]... [--jwks-url URL | --jwks-file FILE] [--ehr-launch]
//	medbridge clients list
//	medbridge keys rotate

const adminUsage = "usage: medbridge users add|list, clients add|list, keys rotate [flags]"

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// admin runs a management command.
func admin(ctx context.Context, noun string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(adminUsage)
	}
	verb := noun + " " + args[0]
	fs := flag.NewFlagSet("medbridge "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg serveConfig
	fs.StringVar(&cfg.dataDir, "data-dir", envOr("MEDBRIDGE_DATA_DIR", "medbridge-data"), "directory of the embedded SQLite store")
	fs.StringVar(&cfg.mongoURI, "mongo-uri", os.Getenv("MEDBRIDGE_MONGO_URI"), "MongoDB URI, when the server stores there")
	var (
		user                          authz.UserSpec
		client                        authz.ClientSpec
		clientType, jwksFile, jwksURL string
		redirects                     stringList
	)
	switch verb {
	case "users add":
		fs.StringVar(&user.Username, "username", "", "login name")
		fs.StringVar(&user.FHIRUser, "fhir-user", "", "the user's FHIR resource: Practitioner/<id>, Patient/<id>, …")
		fs.StringVar(&user.Name, "name", "", "display name")
	case "clients add":
		fs.StringVar(&clientType, "type", "public", "public, confidential or backend")
		fs.StringVar(&client.Name, "name", "", "the app's name, shown on the consent page")
		fs.Var(&redirects, "redirect-uri", "an allowed redirect URI (repeatable)")
		fs.StringVar(&jwksURL, "jwks-url", "", "backend: URL of the client's JWK Set")
		fs.StringVar(&jwksFile, "jwks-file", "", "backend: file holding the client's JWK Set")
		fs.BoolVar(&client.EHRLaunch, "ehr-launch", false, "the client may create EHR launch contexts (POST /auth/launch)")
	case "users list", "clients list", "keys rotate":
	default:
		return fmt.Errorf("unknown command %q; %s", verb, adminUsage)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	store, _, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	a := authz.NewAdmin(store)
	switch verb {
	case "users add":
		if user.Password, err = readPassword(stdin); err != nil {
			return err
		}
		if err := a.AddUser(ctx, user); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s added (%s)\n", user.Username, user.FHIRUser)
	case "users list":
		users, err := a.ListUsers(ctx)
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(users)
	case "clients add":
		client.Type, client.RedirectURIs, client.JWKSURL = authz.ClientType(clientType), redirects, jwksURL
		if jwksFile != "" {
			if client.JWKS, err = os.ReadFile(jwksFile); err != nil {
				return err
			}
		}
		id, secret, err := a.AddClient(ctx, client)
		if err != nil {
			return err
		}
		out := map[string]string{"client_id": id}
		if secret != "" {
			out["client_secret"] = secret // shown once: only its hash is stored
		}
		return json.NewEncoder(stdout).Encode(out)
	case "clients list":
		clients, err := a.ListClients(ctx)
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(clients)
	case "keys rotate":
		kid, err := a.RotateKeys(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new signing key %s; the previous keys stay published until their tokens expire\n", kid)
	}
	return nil
}

// readPassword takes the password from MEDBRIDGE_PASSWORD or the first
// line of stdin, never from a flag (flags end up in shell histories and
// process lists).
func readPassword(stdin io.Reader) (string, error) {
	if p := os.Getenv("MEDBRIDGE_PASSWORD"); p != "" {
		return p, nil
	}
	b, err := io.ReadAll(io.LimitReader(stdin, 4096))
	if err != nil {
		return "", err
	}
	p, _, _ := strings.Cut(string(b), "\n")
	if p = strings.TrimRight(p, "\r"); p == "" {
		return "", errors.New("no password: set MEDBRIDGE_PASSWORD or pipe it on stdin")
	}
	return p, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
