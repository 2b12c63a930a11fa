package authz_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/medbridge/medbridge/auth/authz"
	"github.com/medbridge/medbridge/auth/authz/authztest"
)

func TestAddClientValidation(t *testing.T) {
	e := newEnv(t)
	jwks := authztest.NewRSAKey(t, "k").JWKS(t)
	private, _ := json.Marshal(map[string]any{"keys": []any{map[string]any{"kty": "oct", "k": "c2VjcmV0"}}})
	for name, spec := range map[string]authz.ClientSpec{
		"no type":                   {RedirectURIs: []string{"https://a/cb"}},
		"public without redirect":   {Type: authz.ClientPublic},
		"relative redirect":         {Type: authz.ClientPublic, RedirectURIs: []string{"/cb"}},
		"redirect with fragment":    {Type: authz.ClientPublic, RedirectURIs: []string{"https://a/cb#x"}},
		"backend without keys":      {Type: authz.ClientBackend},
		"backend with both":         {Type: authz.ClientBackend, JWKS: jwks, JWKSURL: "https://a/jwks"},
		"backend with a secret key": {Type: authz.ClientBackend, JWKS: private},
		"public with keys":          {Type: authz.ClientPublic, RedirectURIs: []string{"https://a/cb"}, JWKS: jwks},
	} {
		if _, _, err := e.srv.AddClient(context.Background(), spec); !errors.Is(err, authz.ErrInvalidSpec) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestListClientsAndUsers(t *testing.T) {
	e := newEnv(t)
	id, secret := e.addClient(authz.ClientSpec{Name: "app", Type: authz.ClientConfidential, RedirectURIs: []string{"https://a/cb"}})
	if secret == "" {
		t.Fatal("no secret for a confidential client")
	}
	e.addUser("drwho", "Practitioner/p1")
	clients, err := e.srv.ListClients(context.Background())
	if err != nil || len(clients) != 1 || clients[0].ID != id || clients[0].Type != authz.ClientConfidential {
		t.Fatalf("%+v %v", clients, err)
	}
	if data, _ := json.Marshal(clients); strings.Contains(string(data), secret) {
		t.Error("the listing shows the secret")
	}
	users, err := e.srv.ListUsers(context.Background())
	if err != nil || len(users) != 1 || users[0].Username != "drwho" || users[0].FHIRUser != "Practitioner/p1" {
		t.Fatalf("%+v %v", users, err)
	}
	err = e.srv.AddUser(context.Background(), authz.UserSpec{Username: "drwho", Password: "another-one", FHIRUser: "Practitioner/p2"})
	if !errors.Is(err, authz.ErrUserExists) {
		t.Errorf("second drwho: %v", err)
	}
	for _, bad := range []authz.UserSpec{
		{Username: "x", Password: "short", FHIRUser: "Patient/1"},
		{Username: "x", Password: "long-enough", FHIRUser: "Observation/1"},
		{Username: "a b", Password: "long-enough", FHIRUser: "Patient/1"},
	} {
		if err := e.srv.AddUser(context.Background(), bad); !errors.Is(err, authz.ErrInvalidSpec) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

// The CLI manages a store without a server: what it adds is what the
// running server uses.
func TestAdminWithoutServer(t *testing.T) {
	e := newEnv(t)
	admin := authz.NewAdmin(e.store)
	if err := admin.AddUser(context.Background(), authz.UserSpec{Username: "ann", Password: "ann-password", FHIRUser: "Patient/pat7"}); err != nil {
		t.Fatal(err)
	}
	clientID, _, err := admin.AddClient(context.Background(), authz.ClientSpec{Type: authz.ClientPublic, RedirectURIs: []string{"http://127.0.0.1:9/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	newKid, err := admin.RotateKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e.advance(31 * time.Second) // the server's key cache
	l := e.NewLaunch(authztest.App{ClientID: clientID, RedirectURI: "http://127.0.0.1:9/cb"}, "patient/*.rs")
	tr := e.Exchange(l, e.Code(l, authztest.User{Name: "ann", Password: "ann-password"}, "", "patient/*.rs")).MustOK(t)
	if kid(t, tr.AccessToken) != newKid || len(e.jwks().Keys) != 2 {
		t.Error("the server does not use the key the CLI rotated in")
	}
}
