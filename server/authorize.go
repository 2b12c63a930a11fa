package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/auth"
	"github.com/medbridge/medbridge/auth/scope"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

// Authorization. With a Verifier configured, every FHIR and ingest
// request needs a bearer token (discovery and the CapabilityStatement do
// not): none or an invalid one is 401 with WWW-Authenticate. The token's
// scopes decide each interaction (auth/scope.Decide): a refusal is 403.
// A decision may confine the interaction to the launch patient's
// compartment and to the queries of v2 scopes (Decision.Compartment,
// Decision.Constraints); the server enforces that everywhere a resource
// can come out or go in:
//
//   - read, vread, instance history, update, patch and delete: the stored
//     resource must be in the compartment and match a constraint, checked
//     by a search for its id with those filters; otherwise 403.
//   - searches (type, compartment, $lastn, $stats): the compartment and the
//     constraints are added as filters, so nothing else can match;
//     _include and _revinclude results the token may not read are dropped.
//     A system-wide search or history is refused when confined.
//   - create and update: the new content must be in the compartment and
//     match a constraint, checked on its index entries.
//   - ingest needs unconfined c on Observation and c and u on Device.

// principalKey is the echo context key of the request's Principal.
const principalKey = "medbridge.principal"

// decisionKey is the echo context key of the interaction's Decision.
const decisionKey = "medbridge.decision"

// authenticate verifies the bearer token and stores the principal; a
// request without one or with a bad one is 401.
func (s *Server) authenticate(c echo.Context) error {
	h := c.Request().Header.Get("Authorization")
	kind, token, _ := strings.Cut(h, " ")
	if h == "" || !strings.EqualFold(kind, "Bearer") || strings.TrimSpace(token) == "" {
		return s.unauthorized(c, "", "this server requires a bearer access token (SMART on FHIR); see "+s.baseURL+"/.well-known/smart-configuration")
	}
	p, err := s.verifier.Verify(c.Request().Context(), strings.TrimSpace(token))
	if errors.Is(err, auth.ErrInvalidToken) {
		return s.unauthorized(c, "invalid_token", "the access token is not valid: "+err.Error())
	}
	if err != nil {
		return err
	}
	c.Set(principalKey, p)
	return nil
}

// unauthorized answers 401 with the WWW-Authenticate challenge of RFC 6750.
func (s *Server) unauthorized(c echo.Context, code, msg string) error {
	challenge := fmt.Sprintf(`Bearer realm=%q`, s.baseURL)
	if code != "" {
		challenge += fmt.Sprintf(`, error=%q, error_description=%q`, code, strings.ReplaceAll(msg, `"`, `'`))
	}
	c.Response().Header().Set("WWW-Authenticate", challenge)
	return fhir.Errorf(http.StatusUnauthorized, fhir.CodeLogin, "%s", msg)
}

func principal(c echo.Context) *auth.Principal {
	p, _ := c.Get(principalKey).(*auth.Principal)
	return p
}

func grant(p *auth.Principal) scope.Grant { return scope.Grant{Scopes: p.Scopes, Patient: p.Patient} }

// decision is the interaction's Decision, nil when authorization is off.
func decision(c echo.Context) *scope.Decision {
	d, _ := c.Get(decisionKey).(*scope.Decision)
	return d
}

// scopeRequests maps route interactions to what SMART scopes decide on.
var scopeRequests = map[string]scope.Request{
	"read":               {Interaction: scope.Read},
	"vread":              {Interaction: scope.VRead},
	"update":             {Interaction: scope.Update},
	"delete":             {Interaction: scope.Delete},
	"create":             {Interaction: scope.Create},
	"history-instance":   {Interaction: scope.HistoryInstance},
	"history-type":       {Interaction: scope.HistoryType},
	"history-system":     {Interaction: scope.HistorySystem},
	"search-type":        {Interaction: scope.SearchType},
	"search-system":      {Interaction: scope.SearchSystem},
	"search-compartment": {Interaction: scope.SearchType},
	"operation-lastn":    {Interaction: scope.Operation, Name: "lastn", Type: "Observation"},
	"operation-stats":    {Interaction: scope.Operation, Name: "stats", Type: "Observation"},
	"patch":              {Interaction: scope.Patch},
	"conditional-update": {Interaction: scope.Update},
	"conditional-delete": {Interaction: scope.Delete},
	"conditional-patch":  {Interaction: scope.Patch},
	// $validate changes nothing: a read-only operation.
	"operation-validate":          {Interaction: scope.Operation, Name: "validate"},
	"operation-validate-instance": {Interaction: scope.Operation, Name: "validate"},
}

// public are the interactions open without a token: how to authorize and
// what the server supports.
var public = map[string]bool{"capabilities": true, "smart-configuration": true}

// authorize is the middleware of FHIR routes: authentication, the scope
// decision for the interaction, and the checks that need only the URL.
func (s *Server) authorize(interaction string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if s.verifier == nil || public[interaction] || c.Request().Method == http.MethodOptions {
				return next(c)
			}
			if err := s.authenticate(c); err != nil {
				return err
			}
			req, ok := scopeRequests[interaction]
			if !ok {
				return fmt.Errorf("server: no scope rule for interaction %q", interaction)
			}
			if req.Type == "" {
				req.Type = c.Param("type")
			}
			if interaction == "search-compartment" {
				req.Type = c.Param("target")
			}
			if interaction == "search-system" {
				return s.authorizeSystemSearch(c, next)
			}
			d := scope.Decide(grant(principal(c)), req)
			if !d.Allowed {
				return fhir.Errorf(http.StatusForbidden, fhir.CodeForbidden, "%s", d.Reason)
			}
			c.Set(decisionKey, &d)
			confined := d.Compartment != "" || d.Constraints != nil
			switch {
			case confined && (interaction == "history-type" || interaction == "history-system"):
				// Histories are not searches: the confinement's filters
				// cannot be applied to them.
				return fhir.Errorf(http.StatusForbidden, fhir.CodeForbidden,
					"the token is limited to a patient or to queries, and a type's or the server's history cannot be limited that way; search instead, or read each resource's history")
			case confined && slices.Contains([]string{"read", "vread", "history-instance", "delete", "patch", "operation-validate-instance"}, interaction):
				if err := s.checkStored(c, c.Param("type"), c.Param("id"), &d); err != nil {
					return err
				}
			case confined && interaction == "update":
				// An update may create; one that replaces needs the stored
				// resource inside too (the new content is checked on write).
				cur, err := s.store.Read(c.Request().Context(), c.Param("type"), c.Param("id"))
				if err != nil && !errors.Is(err, storage.ErrNotFound) {
					return err
				}
				if err == nil && !cur.Deleted {
					if err := s.checkStored(c, c.Param("type"), c.Param("id"), &d); err != nil {
						return err
					}
				}
			}
			return next(c)
		}
	}
}

// authorizeSystemSearch decides a search across types: every type of
// _type must be searchable, and a confined token must name exactly one.
func (s *Server) authorizeSystemSearch(c echo.Context, next echo.HandlerFunc) error {
	types := strings.Split(c.QueryParam("_type"), ",")
	if c.QueryParam("_type") == "" {
		types = []string{""}
	}
	var d scope.Decision
	for _, typ := range types {
		d = scope.Decide(grant(principal(c)), scope.Request{Interaction: scope.SearchType, Type: typ})
		if typ == "" {
			d = scope.Decide(grant(principal(c)), scope.Request{Interaction: scope.SearchSystem})
		}
		if !d.Allowed {
			return fhir.Errorf(http.StatusForbidden, fhir.CodeForbidden, "%s", d.Reason)
		}
		if (d.Compartment != "" || d.Constraints != nil) && len(types) != 1 {
			return fhir.Errorf(http.StatusForbidden, fhir.CodeForbidden,
				"the token is limited to a patient or to queries: search one resource type at a time (_type with one type, or /fhir/{type})")
		}
	}
	if types[0] == "" && (d.Compartment != "" || d.Constraints != nil) {
		return fhir.Errorf(http.StatusForbidden, fhir.CodeForbidden,
			"the token is limited to a patient or to queries: search one resource type at a time (/fhir/{type})")
	}
	c.Set(decisionKey, &d)
	return next(c)
}

// confinement returns the filters that keep a search of typ inside the
// decision's compartment and constraints (nil when it has none).
func (s *Server) confinement(c echo.Context, typ string) ([]search.Filter, error) {
	d := decision(c)
	if d == nil || (d.Compartment == "" && d.Constraints == nil) {
		return nil, nil
	}
	var out []search.Filter
	if d.Compartment != "" {
		f, ok, err := s.compartmentFilter(typ, "Patient", d.Compartment)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fhir.Errorf(http.StatusForbidden, fhir.CodeForbidden,
				"%s resources are not in the Patient compartment, and the token is limited to Patient/%s", typ, d.Compartment)
		}
		out = append(out, f)
	}
	if d.Constraints != nil {
		fs, err := s.constraintFilters(typ, d.Constraints)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	return out, nil
}

// constraintFilters turns the ORed queries of v2 scopes into filters for
// typ: one query is its filters ANDed; several are ORed, which a search
// can express when each is one parameter.
func (s *Server) constraintFilters(typ string, queries []url.Values) ([]search.Filter, error) {
	parse := func(q url.Values) ([]search.Filter, error) {
		pq, err := search.ParseQuery(s.spec, []string{typ}, q, search.Options{Strict: true, BaseURL: s.baseURL})
		if err != nil {
			return nil, fhir.Errorf(http.StatusForbidden, fhir.CodeForbidden, "the token's scope query %q does not apply to %s: %v", q.Encode(), typ, err)
		}
		return pq.Filters, nil
	}
	if len(queries) == 1 {
		return parse(queries[0])
	}
	any := search.Filter{}
	for _, q := range queries {
		fs, err := parse(q)
		if err != nil {
			return nil, err
		}
		if len(fs) != 1 {
			return nil, fhir.Errorf(http.StatusForbidden, fhir.CodeForbidden,
				"the token holds several scope queries with more than one parameter each; medbridge cannot combine them into one search")
		}
		any.Or = append(any.Or, fs[0])
	}
	return []search.Filter{any}, nil
}

// checkStored refuses access to typ/id unless the current resource is in
// the decision's compartment and matches its constraints: a search for
// the id with those filters must find it.
func (s *Server) checkStored(c echo.Context, typ, id string, d *scope.Decision) error {
	if err := s.checkType(typ); err != nil {
		return err
	}
	ok, err := s.matches(c, typ, id)
	if err != nil {
		return err
	}
	if !ok {
		return fhir.Errorf(http.StatusForbidden, fhir.CodeForbidden,
			"%s/%s is outside what the token may reach (patient %s and its scopes' queries)", typ, id, d.Compartment)
	}
	return nil
}

// matches reports whether typ/id is a current resource inside the
// request's confinement.
func (s *Server) matches(c echo.Context, typ, id string) (bool, error) {
	filters, err := s.confinement(c, typ)
	if err != nil {
		var fe *fhir.Error
		if errors.As(err, &fe) && fe.Status == http.StatusForbidden {
			return false, nil
		}
		return false, err
	}
	params, err := s.spec.SearchParams(typ)
	if err != nil {
		return false, err
	}
	q := &search.Query{Types: []string{typ}, Count: 1, Filters: append(filters, search.Filter{Param: params["_id"], Values: []search.Value{{Code: id}}})}
	page, err := s.store.Search(c.Request().Context(), q)
	if err != nil {
		return false, err
	}
	return len(page.Resources) == 1, nil
}

// visible keeps the included resources the token may read: their type
// readable, and each inside the confinement of a read of its type.
func (s *Server) visible(c echo.Context, included []fhir.Resource) ([]fhir.Resource, error) {
	p := principal(c)
	if s.verifier == nil || p == nil {
		return included, nil
	}
	out := included[:0:0]
	for _, r := range included {
		d := scope.Decide(grant(p), scope.Request{Interaction: scope.Read, Type: r.Type})
		if !d.Allowed {
			continue
		}
		if d.Compartment != "" || d.Constraints != nil {
			saved := c.Get(decisionKey)
			c.Set(decisionKey, &d)
			ok, err := s.matches(c, r.Type, r.ID)
			c.Set(decisionKey, saved)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// checkWrite refuses content that would leave the decision's compartment
// or constraints: its index entries must reference the patient through a
// compartment parameter (or be the patient) and match a constraint.
func (s *Server) checkWrite(c echo.Context, r *fhir.Resource, idx []storage.IndexEntry) error {
	d := decision(c)
	if d == nil || (d.Compartment == "" && d.Constraints == nil) {
		return nil
	}
	refuse := func(why string) error {
		return fhir.Errorf(http.StatusForbidden, fhir.CodeForbidden, "the token may not write this %s: %s", r.Type, why)
	}
	if d.Compartment != "" && !inCompartment(s.spec.CompartmentParams("Patient", r.Type), r, idx, d.Compartment) {
		return refuse("it is not in the compartment of Patient/" + d.Compartment)
	}
	if d.Constraints == nil {
		return nil
	}
	for _, q := range d.Constraints {
		if ok, err := satisfies(q, idx); err != nil {
			return refuse(err.Error())
		} else if ok {
			return nil
		}
	}
	return refuse("it matches none of the token's scope queries")
}

// inCompartment reports whether r is Patient/patient or one of its
// compartment parameters references it.
func inCompartment(codes []string, r *fhir.Resource, idx []storage.IndexEntry, patient string) bool {
	if r.Type == "Patient" && r.ID == patient {
		return true
	}
	for _, e := range idx {
		if slices.Contains(codes, e.Param) && e.RefType == "Patient" && e.RefID == patient {
			return true
		}
	}
	return false
}

// satisfies checks a scope query against index entries. Token and
// reference parameters with plain values are supported; anything else
// cannot be verified on a write and is an error.
func satisfies(q url.Values, idx []storage.IndexEntry) (bool, error) {
	for param, values := range q {
		if strings.ContainsAny(param, ":.") {
			return false, fmt.Errorf("the scope query parameter %q cannot be checked on a write", param)
		}
		found := false
		for _, v := range strings.Split(strings.Join(values, ","), ",") {
			system, code, hasSystem := strings.Cut(v, "|")
			if !hasSystem {
				system, code = "", v
			}
			for _, e := range idx {
				if e.Param != param {
					continue
				}
				switch {
				case e.Code != "" && e.Code == code && (!hasSystem || e.System == system):
					found = true
				case e.RefID != "" && e.RefType+"/"+e.RefID == v:
					found = true
				}
			}
		}
		if !found {
			return false, nil
		}
	}
	return true, nil
}

// authorizeIngest is the middleware of the ingest routes: device data
// and its dead letters need c on Observation and c and u on Device, not
// confined to a patient (a device gateway is a backend service).
func (s *Server) authorizeIngest(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.verifier == nil {
			return next(c)
		}
		if err := s.authenticate(c); err != nil {
			return err
		}
		obs, dev := scope.Ingest(grant(principal(c)))
		for _, d := range []scope.Decision{obs, dev} {
			if !d.Allowed {
				return fhir.Errorf(http.StatusForbidden, fhir.CodeForbidden, "device ingest: %s", d.Reason)
			}
			if d.Compartment != "" || d.Constraints != nil {
				return fhir.Errorf(http.StatusForbidden, fhir.CodeForbidden,
					"device ingest needs system/ or user/ scopes (e.g. system/Observation.c system/Device.cu), not scopes limited to a patient or to queries")
			}
		}
		return next(c)
	}
}
