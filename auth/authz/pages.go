package authz

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

//go:embed templates/pages.html
var templateFS embed.FS

var pages = template.Must(template.ParseFS(templateFS, "templates/pages.html"))

// page is what every template gets.
type page struct {
	Title, Error, Message string
	Action, ID, CSRF      string
	Client, User, Patient string
	Patients              []patientSummary
	Next                  string
	Scopes                []scopeChoice
}

type scopeChoice struct{ Value, Text string }

func (s *Server) render(w http.ResponseWriter, status int, name string, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// The pages must not be framed (clickjacking of the consent). No
	// form-action: browsers apply it to the redirects that follow a form
	// post too, and the consent's redirect goes to the app's registered
	// redirect_uri on another origin (Chromium blocked the launch).
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_ = pages.ExecuteTemplate(w, name, p)
}

func (s *Server) renderError(w http.ResponseWriter, status int, msg string) {
	s.render(w, status, "error", page{Title: "Sign-in stopped", Message: msg})
}

// errExpiredRequest is an authorization request that is unknown, expired
// or already finished.
var errExpiredRequest = errors.New("authz: no such authorization request")

// loadRequest returns the pending authorization request id and its
// version.
func (s *Server) loadRequest(ctx context.Context, id string) (*authRequest, int64, error) {
	var req authRequest
	version, err := s.rec.get(ctx, kindAuthReq, id, &req)
	if isNotFound(err) || err == nil && !s.now().Before(req.Expires) {
		return nil, 0, errExpiredRequest
	}
	return &req, version, err
}

// pageRequest loads the request a page is for: from the query for GET,
// from the form for POST, where the form's CSRF token must be the
// request's. It answers the failure itself and returns nil then.
func (s *Server) pageRequest(w http.ResponseWriter, r *http.Request) (string, *authRequest, int64) {
	id := r.URL.Query().Get("id")
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			s.renderError(w, http.StatusBadRequest, "The form could not be read.")
			return "", nil, 0
		}
		id = r.PostForm.Get("id")
	}
	req, version, err := s.loadRequest(r.Context(), id)
	switch {
	case errors.Is(err, errExpiredRequest):
		s.renderError(w, http.StatusBadRequest, "This sign-in request has expired or is finished. Start again from the app.")
		return "", nil, 0
	case err != nil:
		s.renderError(w, http.StatusInternalServerError, "The server could not load this sign-in request.")
		return "", nil, 0
	}
	if r.Method == http.MethodPost {
		token := r.PostForm.Get("csrf")
		if token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(req.CSRF)) != 1 {
			s.renderError(w, http.StatusForbidden, "The form was not sent by this sign-in page. Start again from the app.")
			return "", nil, 0
		}
	}
	return id, req, version
}

func (s *Server) clientName(ctx context.Context, id string) string {
	if c, err := s.client(ctx, id); err == nil && c.rec.Name != "" {
		return c.rec.Name
	}
	return id
}

func (s *Server) pageFor(ctx context.Context, title, action, id string, req *authRequest) page {
	return page{
		Title: title, Action: s.cfg.Issuer + action, ID: id, CSRF: req.CSRF,
		Client: s.clientName(ctx, req.ClientID), User: req.Username, Patient: req.Patient,
	}
}

// pageURL is the URL of one of the pages for request id.
func (s *Server) pageURL(path, id string) string {
	return s.cfg.Issuer + path + "?id=" + url.QueryEscape(id)
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	id, req, _ := s.pageRequest(w, r)
	if req == nil {
		return
	}
	s.render(w, http.StatusOK, "login", s.pageFor(r.Context(), "Sign in", pathLogin, id, req))
}

func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	id, req, version := s.pageRequest(w, r)
	if req == nil {
		return
	}
	ctx := r.Context()
	user, err := s.authenticate(ctx, r.PostForm.Get("username"), r.PostForm.Get("password"))
	if errors.Is(err, errBadLogin) {
		p := s.pageFor(ctx, "Sign in", pathLogin, id, req)
		p.Error = "Wrong username or password."
		s.render(w, http.StatusUnauthorized, "login", p)
		return
	}
	if err != nil {
		s.renderError(w, http.StatusInternalServerError, "The server could not check the password.")
		return
	}
	if req.Launch != nil && req.Launch.FHIRUser != "" && req.Launch.FHIRUser != user.FHIRUser {
		s.finishWithError(w, r, id, req, "the launch was made for another user")
		return
	}
	if own, ok := strings.CutPrefix(user.FHIRUser, "Patient/"); ok {
		if req.Patient != "" && req.Patient != own {
			s.finishWithError(w, r, id, req, "a patient may only open their own record")
			return
		}
		req.Patient = own
	}
	req.Username = strings.TrimSpace(r.PostForm.Get("username"))
	req.FHIRUser = user.FHIRUser
	req.AuthTime = s.now().UTC()
	if !s.saveRequest(w, r, id, req, version) {
		return
	}
	next := pathConsent
	if s.needsPicker(req) {
		next = pathPicker
	}
	http.Redirect(w, r, s.pageURL(next, id), http.StatusSeeOther)
}

// needsPicker reports whether a patient must still be chosen: the app
// asked for launch/patient and neither the launch nor the user gave one.
func (s *Server) needsPicker(req *authRequest) bool {
	return req.Patient == "" && slices.Contains(req.Scopes, scopeLaunchPatient)
}

func (s *Server) saveRequest(w http.ResponseWriter, r *http.Request, id string, req *authRequest, version int64) bool {
	if err := s.rec.put(r.Context(), kindAuthReq, id, req, version, req.Expires); err != nil {
		if isConflict(err) {
			s.renderError(w, http.StatusConflict, "This sign-in request changed in another window. Start again from the app.")
		} else {
			s.renderError(w, http.StatusInternalServerError, "The server could not save this sign-in request.")
		}
		return false
	}
	return true
}

// signedIn sends a user who has not signed in for request id back to the
// login page.
func (s *Server) signedIn(w http.ResponseWriter, r *http.Request, id string, req *authRequest) bool {
	if req.Username == "" {
		http.Redirect(w, r, s.pageURL(pathLogin, id), http.StatusSeeOther)
		return false
	}
	return true
}
