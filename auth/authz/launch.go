package authz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// LaunchContext is what an EHR hands an app it launches: the patient and
// encounter in context (bare ids; a "Patient/" or "Encounter/" prefix is
// dropped) and how the app should present itself.
type LaunchContext struct {
	Patient   string `json:"patient,omitempty"`
	Encounter string `json:"encounter,omitempty"`
	// FHIRUser, when set, is the only user (by fhirUser, e.g.
	// Practitioner/123) who may complete the launch at the login page.
	FHIRUser string `json:"fhirUser,omitempty"`
	// NeedPatientBanner tells the app whether it must show the patient;
	// an EHR usually shows it itself.
	NeedPatientBanner bool `json:"need_patient_banner,omitempty"`
	// Intent is SMART's optional launch intent (e.g. reconcile-medications).
	Intent string `json:"intent,omitempty"`
}

// CreateLaunch stores an EHR launch context and returns the launch value
// the EHR passes to the app. It is single use and expires after
// Config.LaunchTTL.
func (s *Server) CreateLaunch(ctx context.Context, lc LaunchContext) (string, error) {
	lc.Patient = strings.TrimPrefix(lc.Patient, "Patient/")
	lc.Encounter = strings.TrimPrefix(lc.Encounter, "Encounter/")
	if lc.Encounter != "" && lc.Patient == "" {
		return "", fmt.Errorf("%w: an encounter needs its patient", ErrInvalidSpec)
	}
	if lc.FHIRUser != "" && !fhirUserPattern.MatchString(lc.FHIRUser) {
		return "", fmt.Errorf("%w: fhirUser %q", ErrInvalidSpec, lc.FHIRUser)
	}
	id := randomToken(24)
	if err := s.rec.put(ctx, kindLaunch, id, lc, 0, s.now().Add(s.cfg.LaunchTTL)); err != nil {
		return "", fmt.Errorf("authz: store launch: %w", err)
	}
	return id, nil
}

// launchResponse answers POST /launch.
type launchResponse struct {
	Launch    string `json:"launch"`
	ExpiresIn int64  `json:"expires_in"`
}

// launchHandler serves POST /launch for EHRs: the caller presents a
// client_credentials access token of this server, issued to a client
// registered with EHRLaunch, and a LaunchContext as JSON; it gets the
// launch value (201).
func (s *Server) launchHandler(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="medbridge"`)
		writeJSONError(w, http.StatusUnauthorized, "invalid_token", "a bearer token is required")
		return
	}
	claims, err := s.Verifier().Verify(r.Context(), strings.TrimSpace(token))
	if err != nil {
		if errors.Is(err, ErrInvalidToken) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="medbridge", error="invalid_token"`)
			writeJSONError(w, http.StatusUnauthorized, "invalid_token", "the bearer token is not valid")
			return
		}
		writeJSONError(w, http.StatusInternalServerError, "server_error", "")
		return
	}
	allowed := claims.FHIRUser == "" && claims.Subject == claims.ClientID
	if allowed {
		c, err := s.client(r.Context(), claims.ClientID)
		allowed = err == nil && c.rec.EHRLaunch
	}
	if !allowed {
		writeJSONError(w, http.StatusForbidden, "insufficient_scope", "only clients registered for EHR launch may create launches")
		return
	}
	var lc LaunchContext
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&lc); err != nil {
		writeJSONError(w, http.StatusBadRequest, "invalid_request", "the body must be a launch context: "+err.Error())
		return
	}
	id, err := s.CreateLaunch(r.Context(), lc)
	if err != nil {
		if errors.Is(err, ErrInvalidSpec) {
			writeJSONError(w, http.StatusBadRequest, "invalid_request", err.Error())
			return
		}
		writeJSONError(w, http.StatusInternalServerError, "server_error", "")
		return
	}
	writeJSON(w, http.StatusCreated, launchResponse{Launch: id, ExpiresIn: int64(s.cfg.LaunchTTL / time.Second)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{code, description})
}
