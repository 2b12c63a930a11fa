package authz

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

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
