package authz

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// UserSpec registers a user who signs in on the login page.
type UserSpec struct {
	Username string
	Password string
	// FHIRUser is the user's own resource: Practitioner/<id>,
	// PractitionerRole/<id>, RelatedPerson/<id> or Patient/<id>. A Patient
	// user launching with launch/patient gets their own record; the others
	// pick a patient.
	FHIRUser string
	Name     string
}

// UserInfo describes a registered user, without the password.
type UserInfo struct {
	Username string    `json:"username"`
	FHIRUser string    `json:"fhirUser"`
	Name     string    `json:"name,omitempty"`
	Created  time.Time `json:"created"`
}

// userRecord is a user as stored (kind oauth.user, ID the username).
type userRecord struct {
	PasswordHash []byte    `json:"password_hash"`
	FHIRUser     string    `json:"fhirUser"`
	Name         string    `json:"name,omitempty"`
	Created      time.Time `json:"created"`
}

var (
	fhirUserPattern = regexp.MustCompile(`^(Practitioner|PractitionerRole|RelatedPerson|Patient|Person)/[A-Za-z0-9\-.]{1,64}$`)
	usernamePattern = regexp.MustCompile(`^[A-Za-z0-9._@\-]{1,64}$`)
)

// ErrUserExists is returned by AddUser for a username already taken.
var ErrUserExists = errors.New("authz: user exists")

// AddUser registers a user; the password is stored as a bcrypt hash.
func (a *Admin) AddUser(ctx context.Context, spec UserSpec) error {
	if !usernamePattern.MatchString(spec.Username) {
		return fmt.Errorf("%w: username %q (letters, digits and ._@-)", ErrInvalidSpec, spec.Username)
	}
	if len(spec.Password) < 8 {
		return fmt.Errorf("%w: the password needs at least 8 characters", ErrInvalidSpec)
	}
	if !fhirUserPattern.MatchString(spec.FHIRUser) {
		return fmt.Errorf("%w: fhirUser %q (e.g. Practitioner/123 or Patient/456)", ErrInvalidSpec, spec.FHIRUser)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(spec.Password), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("authz: hash password: %w", err)
	}
	r := userRecord{PasswordHash: hash, FHIRUser: spec.FHIRUser, Name: spec.Name, Created: a.now().UTC()}
	if err := a.rec.put(ctx, kindUser, spec.Username, r, 0, time.Time{}); err != nil {
		if isConflict(err) {
			return fmt.Errorf("%w: %s", ErrUserExists, spec.Username)
		}
		return fmt.Errorf("authz: store user: %w", err)
	}
	return nil
}

// ListUsers returns the registered users, by username.
func (a *Admin) ListUsers(ctx context.Context) ([]UserInfo, error) {
	var out []UserInfo
	err := a.rec.list(ctx, kindUser, func(id string, decode func(any) error) error {
		var r userRecord
		if err := decode(&r); err != nil {
			return err
		}
		out = append(out, UserInfo{Username: id, FHIRUser: r.FHIRUser, Name: r.Name, Created: r.Created})
		return nil
	})
	return out, err
}

// dummyHash makes a login with an unknown username cost as much as one
// with a wrong password, so response times do not reveal usernames.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("medbridge-dummy-password"), bcrypt.DefaultCost)

// authenticate returns the user with this username and password, or
// errBadLogin.
func (s *Server) authenticate(ctx context.Context, username, password string) (*userRecord, error) {
	var r userRecord
	_, err := s.rec.get(ctx, kindUser, strings.TrimSpace(username), &r)
	switch {
	case isNotFound(err):
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return nil, errBadLogin
	case err != nil:
		return nil, err
	}
	if bcrypt.CompareHashAndPassword(r.PasswordHash, []byte(password)) != nil {
		return nil, errBadLogin
	}
	return &r, nil
}

// errBadLogin is a wrong username or password.
var errBadLogin = errors.New("authz: wrong username or password")
