package authz

import (
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/medbridge/medbridge/search"
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
	// The pages must not be framed (clickjacking of the consent).
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
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

// patientSummary is one line of the picker.
type patientSummary struct{ ID, Name, Details string }

const pickerPageSize = 20

func (s *Server) pickerPage(w http.ResponseWriter, r *http.Request) {
	id, req, _ := s.pageRequest(w, r)
	if req == nil || !s.signedIn(w, r, id, req) {
		return
	}
	s.renderPicker(w, r, id, req, "")
}

func (s *Server) renderPicker(w http.ResponseWriter, r *http.Request, id string, req *authRequest, problem string) {
	ctx := r.Context()
	q := &search.Query{Types: []string{"Patient"}, Count: pickerPageSize, After: r.URL.Query().Get("after")}
	res, err := s.cfg.Store.Search(ctx, q)
	if err != nil {
		s.renderError(w, http.StatusInternalServerError, "The server could not list patients.")
		return
	}
	p := s.pageFor(ctx, "Choose a patient", pathPicker, id, req)
	p.Error = problem
	for _, pr := range res.Resources {
		p.Patients = append(p.Patients, summarizePatient(pr.ID, pr.JSON))
	}
	if res.Next != "" {
		p.Next = s.pageURL(pathPicker, id) + "&after=" + url.QueryEscape(res.Next)
	}
	status := http.StatusOK
	if problem != "" {
		status = http.StatusBadRequest
	}
	s.render(w, status, "picker", p)
}

// summarizePatient names a Patient resource for the picker.
func summarizePatient(id string, data []byte) patientSummary {
	var p struct {
		Name []struct {
			Text   string   `json:"text"`
			Family string   `json:"family"`
			Given  []string `json:"given"`
		} `json:"name"`
		BirthDate string `json:"birthDate"`
		Gender    string `json:"gender"`
	}
	_ = json.Unmarshal(data, &p)
	ps := patientSummary{ID: id, Name: "(no name)", Details: strings.TrimSpace(p.Gender + " " + p.BirthDate)}
	if len(p.Name) > 0 {
		n := p.Name[0]
		if full := strings.TrimSpace(strings.Join(append(n.Given, n.Family), " ")); full != "" {
			ps.Name = full
		} else if n.Text != "" {
			ps.Name = n.Text
		}
	}
	return ps
}

func (s *Server) pickerSubmit(w http.ResponseWriter, r *http.Request) {
	id, req, version := s.pageRequest(w, r)
	if req == nil || !s.signedIn(w, r, id, req) {
		return
	}
	if strings.HasPrefix(req.FHIRUser, "Patient/") {
		http.Redirect(w, r, s.pageURL(pathConsent, id), http.StatusSeeOther)
		return
	}
	patient := strings.TrimPrefix(strings.TrimSpace(r.PostForm.Get("patient_id")), "Patient/")
	if patient == "" {
		patient = r.PostForm.Get("patient")
	}
	res, err := s.cfg.Store.Read(r.Context(), "Patient", patient)
	if patient == "" || err != nil || res.Deleted {
		s.renderPicker(w, r, id, req, "Choose a patient who exists on this server.")
		return
	}
	req.Patient = patient
	if !s.saveRequest(w, r, id, req, version) {
		return
	}
	http.Redirect(w, r, s.pageURL(pathConsent, id), http.StatusSeeOther)
}

func (s *Server) consentPage(w http.ResponseWriter, r *http.Request) {
	id, req, _ := s.pageRequest(w, r)
	if req == nil || !s.signedIn(w, r, id, req) {
		return
	}
	if s.needsPicker(req) {
		http.Redirect(w, r, s.pageURL(pathPicker, id), http.StatusSeeOther)
		return
	}
	p := s.pageFor(r.Context(), "Allow access", pathConsent, id, req)
	for _, sc := range req.Scopes {
		p.Scopes = append(p.Scopes, scopeChoice{Value: sc, Text: describeScope(sc)})
	}
	s.render(w, http.StatusOK, "consent", p)
}

func (s *Server) consentSubmit(w http.ResponseWriter, r *http.Request) {
	id, req, _ := s.pageRequest(w, r)
	if req == nil || !s.signedIn(w, r, id, req) {
		return
	}
	if s.needsPicker(req) {
		http.Redirect(w, r, s.pageURL(pathPicker, id), http.StatusSeeOther)
		return
	}
	var granted []string
	for _, sc := range req.Scopes {
		if slices.Contains(r.PostForm["scope"], sc) {
			granted = append(granted, sc)
		}
	}
	if r.PostForm.Get("action") != "approve" || len(granted) == 0 {
		s.finishWithError(w, r, id, req, "the user denied access")
		return
	}
	if !s.finish(w, r, id) {
		return
	}
	target, err := s.newCode(r.Context(), req, s.grantFor(req, granted))
	if err != nil {
		s.renderError(w, http.StatusInternalServerError, "The server could not issue the authorization.")
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// finish consumes request id, so that each ends in at most one code or
// error.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, id string) bool {
	if err := s.cfg.Store.DeleteRecord(r.Context(), kindAuthReq, id); err != nil {
		s.renderError(w, http.StatusBadRequest, "This sign-in request is already finished. Start again from the app.")
		return false
	}
	return true
}

// finishWithError ends request id and sends the app access_denied.
func (s *Server) finishWithError(w http.ResponseWriter, r *http.Request, id string, req *authRequest, why string) {
	if !s.finish(w, r, id) {
		return
	}
	target := redirectWith(req.RedirectURI, url.Values{"error": {"access_denied"}, "error_description": {why}, "state": {req.State}})
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// describeScope says in words what a scope allows.
func describeScope(sc string) string {
	switch sc {
	case "openid":
		return "Know who you are"
	case scopeFHIRUser:
		return "Know your own record (practitioner or patient)"
	case scopeLaunch:
		return "Receive the context the EHR launched it with"
	case scopeLaunchPatient:
		return "Know which patient is selected"
	case scopeLaunchEncounter:
		return "Know which encounter is selected"
	case "offline_access":
		return "Keep access after you leave, until you revoke it"
	case scopeOnlineAccess:
		return "Keep access while you are signed in"
	}
	who, rest, ok := strings.Cut(sc, "/")
	resource, perms, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return sc
	}
	if resource == "*" {
		resource = "all"
	}
	if i := strings.IndexByte(perms, '?'); i >= 0 {
		perms = perms[:i] + " (some only)"
	}
	owner := map[string]string{"patient": "the patient's", "user": "the", "system": "the"}[who]
	return owner + " " + resource + " records: " + describePerms(perms)
}

func describePerms(p string) string {
	switch p {
	case "read":
		return "read"
	case "write":
		return "write"
	case "*":
		return "read and write"
	}
	words := map[rune]string{'c': "create", 'r': "read", 'u': "update", 'd': "delete", 's': "search"}
	var out []string
	for _, c := range p {
		if w, ok := words[c]; ok {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		return p
	}
	return strings.Join(out, ", ")
}

// styleHandler serves the style sheet token responses name in
// smart_style_url (SMART's context-style).
func (s *Server) styleHandler(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"color_background":     "#ffffff",
		"color_error":          "#aa0000",
		"color_highlight":      "#1f6feb",
		"color_modal_backdrop": "#000000",
		"color_success":        "#2e7d32",
		"color_text":           "#222222",
		"dim_border_radius":    "4px",
		"dim_font_size":        "16px",
		"dim_spacing_size":     "16px",
		"font_family_body":     "system-ui, sans-serif",
		"font_family_heading":  "system-ui, sans-serif",
	})
}
