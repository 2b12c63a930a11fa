package authz

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/medbridge/medbridge/search"
)

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
