package external

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/medbridge/medbridge/auth"
	"github.com/medbridge/medbridge/auth/scope"
)

// claimNames says which claim holds each part of a Principal.
type claimNames struct {
	subject, clientID, scope, patient, encounter, fhirUser string
}

// claimNames returns c's claim names with the defaults filled in.
func (c Config) claimNames() claimNames {
	or := func(name, def string) string {
		if name == "" {
			return def
		}
		return name
	}
	return claimNames{
		subject:   or(c.SubjectClaim, "sub"),
		clientID:  or(c.ClientIDClaim, "client_id"),
		scope:     or(c.ScopeClaim, "scope"),
		patient:   or(c.PatientClaim, "patient"),
		encounter: or(c.EncounterClaim, "encounter"),
		fhirUser:  or(c.FHIRUserClaim, "fhirUser"),
	}
}

// scopeRule is one ScopeMap entry: when claim holds value, scopes (scope
// text) are granted.
type scopeRule struct {
	claim, value, scopes string
}

// parseScopeMap checks and splits the ScopeMap entries, in key order so
// that errors are reported the same way every time.
func parseScopeMap(m map[string]string) ([]scopeRule, error) {
	var rules []scopeRule
	for _, key := range slices.Sorted(maps.Keys(m)) {
		claim, value, ok := strings.Cut(key, "=")
		if !ok || claim == "" || value == "" {
			return nil, fmt.Errorf("external: scope map key %q is not claim=value", key)
		}
		if _, err := scope.Parse(m[key]); err != nil {
			return nil, fmt.Errorf("external: scope map entry %q: %w", key, err)
		}
		rules = append(rules, scopeRule{claim: claim, value: value, scopes: m[key]})
	}
	return rules, nil
}

// principal maps verified claims to a Principal.
func (v *Verifier) principal(claims map[string]any) (*auth.Principal, error) {
	var p auth.Principal
	for _, f := range []struct {
		dst   *string
		claim string
	}{
		{&p.Subject, v.claims.subject},
		{&p.ClientID, v.claims.clientID},
		{&p.FHIRUser, v.claims.fhirUser},
		{&p.Patient, v.claims.patient},
		{&p.Encounter, v.claims.encounter},
	} {
		s, err := stringClaim(claims, f.claim)
		if err != nil {
			return nil, err
		}
		*f.dst = s
	}
	if p.ClientID == "" {
		azp, err := stringClaim(claims, "azp")
		if err != nil {
			return nil, err
		}
		p.ClientID = azp
	}
	p.Patient = strings.TrimPrefix(p.Patient, "Patient/")
	p.Encounter = strings.TrimPrefix(p.Encounter, "Encounter/")

	granted, err := stringsClaim(claims, v.claims.scope)
	if err != nil {
		return nil, err
	}
	for _, r := range v.scopeMap {
		values, err := stringsClaim(claims, r.claim)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(values, func(s string) bool {
			return s == r.value || slices.Contains(strings.Fields(s), r.value)
		}) {
			granted = append(granted, r.scopes)
		}
	}
	if p.Scopes, err = scope.Parse(strings.Join(granted, " ")); err != nil {
		return nil, err
	}
	return &p, nil
}

// stringClaim returns the string claim name, "" when it is absent.
func stringClaim(claims map[string]any, name string) (string, error) {
	switch v := claims[name].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", fmt.Errorf("claim %q is %v, not a string", name, v)
	}
}

// stringsClaim returns the claim name when it is a string or an array of
// strings, nil when it is absent.
func stringsClaim(claims map[string]any, name string) ([]string, error) {
	switch v := claims[name].(type) {
	case nil:
		return nil, nil
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("claim %q holds %v, not a string", name, e)
			}
			out[i] = s
		}
		return out, nil
	default:
		return nil, fmt.Errorf("claim %q is %v, neither a string nor an array of strings", name, v)
	}
}
