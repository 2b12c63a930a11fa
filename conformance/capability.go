package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
)

// FHIRVersion is the FHIR version medbridge implements.
const FHIRVersion = "4.0.1"

// CapabilityOptions describes what the server actually registered; the
// CapabilityStatement claims exactly this and nothing more. Zero values mean
// "not supported" or "not stated", never a default capability.
type CapabilityOptions struct {
	// BaseURL is the server's base, implementation.url. Required, absolute.
	BaseURL string
	// Software is software.name (required); Version is software.version.
	Software, Version string
	// Name is the statement's computer-friendly name (optional).
	Name string
	// Description is implementation.description; empty means Software.
	Description string
	// Date is the statement's date: when this build's capabilities were
	// last changed, or the server's start. Required.
	Date time.Time
	// Formats are the content types the server reads and writes. nil means
	// ["json", "application/fhir+json"]. Only JSON formats are accepted:
	// medbridge does not speak XML or Turtle.
	Formats []string
	// PatchFormats are the MIME types accepted by the patch interaction.
	PatchFormats []string
	// Types lists the resource types served; the output sorts them by Type.
	Types []TypeCapability
	// SystemInteractions are whole-system interactions: transaction, batch,
	// search-system, history-system.
	SystemInteractions []string
	// SystemSearchParams are the parameters of search-system.
	SystemSearchParams []SearchParamCapability
	// SystemOperations are operations invoked on the base URL.
	SystemOperations []OperationCapability
	// Compartments are the canonical URLs of the compartments searched
	// through, e.g. "http://hl7.org/fhir/CompartmentDefinition/patient".
	Compartments []string
	// Security is rest.security; nil omits it.
	Security *SecurityCapability
}

// TypeCapability is one rest.resource: what the server does with one
// resource type.
type TypeCapability struct {
	// Type is an R4 resource type ("Patient").
	Type string
	// Profile is the canonical URL of the profile every instance conforms to
	// (optional); SupportedProfiles lists further profiles.
	Profile           string
	SupportedProfiles []string
	Documentation     string
	// Interactions are type and instance interactions: read, vread, update,
	// patch, delete, history-instance, history-type, create, search-type.
	Interactions []string
	// Versioning is no-version, versioned or versioned-update; empty omits it.
	Versioning string
	// ReadHistory: vread returns past versions (needs vread).
	ReadHistory bool
	// UpdateCreate: update creates a resource with a client-chosen id
	// (needs update).
	UpdateCreate bool
	// ConditionalCreate needs create; ConditionalUpdate needs update.
	ConditionalCreate, ConditionalUpdate bool
	// ConditionalRead is not-supported, modified-since, not-match or
	// full-support; empty means not-supported.
	ConditionalRead string
	// ConditionalDelete is not-supported, single or multiple; empty means
	// not-supported.
	ConditionalDelete string
	// ReferencePolicy codes: literal, logical, resolves, enforced, local.
	ReferencePolicy []string
	// SearchIncludes and SearchRevIncludes are the _include and _revinclude
	// values supported ("Observation:subject"); they need search-type.
	SearchIncludes, SearchRevIncludes []string
	// SearchParams are the parameters of search-type (needs search-type).
	SearchParams []SearchParamCapability
	Operations   []OperationCapability
}

// SearchParamCapability is one rest.resource.searchParam or
// rest.searchParam.
type SearchParamCapability struct {
	// Name is the parameter's code as used in URLs ("birthdate"). Required.
	Name string
	// Definition is the canonical URL of its SearchParameter (optional).
	Definition string
	// Type is number, date, string, token, reference, composite, quantity,
	// uri or special. Required.
	Type string
	// Documentation tells how the server uses the parameter (markdown).
	Documentation string
}

// OperationCapability is one operation ("$everything").
type OperationCapability struct {
	// Name is the operation's name without the "$". Required.
	Name string
	// Definition is the canonical URL of its OperationDefinition. Required.
	Definition    string
	Documentation string
}

// SecurityCapability is rest.security.
type SecurityCapability struct {
	// CORS: the server sends CORS headers.
	CORS bool
	// Services are codes of
	// http://terminology.hl7.org/CodeSystem/restful-security-service:
	// OAuth, SMART-on-FHIR, NTLM, Basic, Kerberos, Certificates.
	Services []string
	// Description is markdown.
	Description string
	// OAuthURIs, when set, are the SMART endpoints published in the
	// http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris
	// extension: name (authorize, token, introspect, revoke, manage,
	// register) → absolute URL.
	OAuthURIs map[string]string
}

// oauthURIsExtension is SMART's extension of rest.security.
const oauthURIsExtension = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"

const securityServiceSystem = "http://terminology.hl7.org/CodeSystem/restful-security-service"

var (
	typeInteractions   = []string{"read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type"}
	systemInteractions = []string{"transaction", "batch", "search-system", "history-system"}
	versioningCodes    = []string{"no-version", "versioned", "versioned-update"}
	conditionalReads   = []string{"not-supported", "modified-since", "not-match", "full-support"}
	conditionalDeletes = []string{"not-supported", "single", "multiple"}
	referencePolicies  = []string{"literal", "logical", "resolves", "enforced", "local"}
	searchParamTypes   = []string{"number", "date", "string", "token", "reference", "composite", "quantity", "uri", "special"}
	securityServices   = []string{"OAuth", "SMART-on-FHIR", "NTLM", "Basic", "Kerberos", "Certificates"}
)

// CapabilityStatement returns the R4 CapabilityStatement (status active,
// kind instance, one rest entry in mode server) describing opts, as compact
// JSON. It returns an error when opts is incomplete, uses a code outside its
// R4 value set, names a type that is not an R4 resource type, describes a
// type or search parameter twice, or claims a capability whose interaction
// is missing (ReadHistory without vread, SearchParams without search-type,
// ...).
func CapabilityStatement(opts CapabilityOptions) ([]byte, error) {
	spec, err := Load()
	if err != nil {
		return nil, err
	}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if u, err := url.Parse(opts.BaseURL); err != nil || !u.IsAbs() || u.Host == "" {
		fail("BaseURL %q is not an absolute URL", opts.BaseURL)
	}
	if opts.Software == "" {
		fail("Software is required")
	}
	if opts.Date.IsZero() {
		fail("Date is required")
	}
	formats := opts.Formats
	if formats == nil {
		formats = []string{"json", "application/fhir+json"}
	}
	if len(formats) == 0 {
		fail("Formats is empty")
	}
	for _, f := range formats {
		if f != "json" && !(strings.Contains(f, "/") && strings.HasSuffix(f, "json")) {
			fail("format %q is not JSON", f)
		}
	}
	for _, f := range opts.PatchFormats {
		if !strings.Contains(f, "/") {
			fail("patch format %q is not a MIME type", f)
		}
	}
	checkCodes(fail, "system interaction", opts.SystemInteractions, systemInteractions)
	if len(opts.SystemSearchParams) > 0 && !slices.Contains(opts.SystemInteractions, "search-system") {
		fail("SystemSearchParams without the search-system interaction")
	}
	sysParams := searchParams(fail, "system", opts.SystemSearchParams)
	sysOps := operations(fail, "system", opts.SystemOperations)

	types := slices.Clone(opts.Types)
	slices.SortStableFunc(types, func(a, b TypeCapability) int { return strings.Compare(a.Type, b.Type) })
	resources := make([]RestResourceJSON, 0, len(types))
	for i, t := range types {
		if i > 0 && types[i-1].Type == t.Type {
			fail("type %s is described twice", t.Type)
		}
		if !spec.IsResourceType(t.Type) {
			fail("%q is not an R4 resource type", t.Type)
		}
		resources = append(resources, resource(fail, t))
	}

	var security *SecurityJSON
	if s := opts.Security; s != nil {
		checkCodes(fail, "security service", s.Services, securityServices)
		security = &SecurityJSON{CORS: s.CORS, Description: s.Description}
		if len(s.OAuthURIs) > 0 {
			ext := ExtensionJSON{URL: oauthURIsExtension}
			for _, name := range slices.Sorted(maps.Keys(s.OAuthURIs)) {
				if u, err := url.Parse(s.OAuthURIs[name]); err != nil || !u.IsAbs() {
					fail("security: oauth-uris %s %q is not an absolute URL", name, s.OAuthURIs[name])
				}
				ext.Extension = append(ext.Extension, ExtensionJSON{URL: name, ValueURI: s.OAuthURIs[name]})
			}
			security.Extension = []ExtensionJSON{ext}
		}
		for _, code := range s.Services {
			security.Service = append(security.Service, CodeableConceptJSON{
				Coding: []CodingJSON{{System: securityServiceSystem, Code: code}},
			})
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("conformance: capability statement: %w", errors.Join(errs...))
	}

	description := opts.Description
	if description == "" {
		description = opts.Software
	}
	cs := CapabilityStatementJSON{
		ResourceType: "CapabilityStatement",
		Name:         opts.Name,
		Status:       "active",
		Date:         opts.Date.Format(time.RFC3339),
		Kind:         "instance",
		Software:     SoftwareJSON{Name: opts.Software, Version: opts.Version},
		Implementation: ImplementationJSON{
			Description: description,
			URL:         opts.BaseURL,
		},
		FHIRVersion: FHIRVersion,
		Format:      formats,
		PatchFormat: opts.PatchFormats,
		Rest: []RestJSON{{
			Mode:        "server",
			Security:    security,
			Resource:    resources,
			Interaction: interactions(opts.SystemInteractions),
			SearchParam: sysParams,
			Operation:   sysOps,
			Compartment: opts.Compartments,
		}},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // documentation is markdown
	if err := enc.Encode(cs); err != nil {
		return nil, fmt.Errorf("conformance: capability statement: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func resource(fail func(string, ...any), t TypeCapability) RestResourceJSON {
	where := "type " + t.Type
	checkCodes(fail, where+" interaction", t.Interactions, typeInteractions)
	has := func(code string) bool { return slices.Contains(t.Interactions, code) }
	needs := func(claim bool, what, code string) {
		if claim && !has(code) {
			fail("%s: %s without the %s interaction", where, what, code)
		}
	}
	if t.Versioning != "" {
		checkCodes(fail, where+" versioning", []string{t.Versioning}, versioningCodes)
	}
	conditionalRead := orDefault(t.ConditionalRead, "not-supported")
	conditionalDelete := orDefault(t.ConditionalDelete, "not-supported")
	checkCodes(fail, where+" conditionalRead", []string{conditionalRead}, conditionalReads)
	checkCodes(fail, where+" conditionalDelete", []string{conditionalDelete}, conditionalDeletes)
	checkCodes(fail, where+" referencePolicy", t.ReferencePolicy, referencePolicies)
	needs(t.ReadHistory, "ReadHistory", "vread")
	needs(t.UpdateCreate, "UpdateCreate", "update")
	needs(t.ConditionalCreate, "ConditionalCreate", "create")
	needs(t.ConditionalUpdate, "ConditionalUpdate", "update")
	needs(conditionalRead != "not-supported", "ConditionalRead", "read")
	needs(conditionalDelete != "not-supported", "ConditionalDelete", "delete")
	needs(len(t.SearchParams) > 0, "SearchParams", "search-type")
	needs(len(t.SearchIncludes)+len(t.SearchRevIncludes) > 0, "SearchIncludes/SearchRevIncludes", "search-type")
	return RestResourceJSON{
		Type:              t.Type,
		Profile:           t.Profile,
		SupportedProfile:  t.SupportedProfiles,
		Documentation:     t.Documentation,
		Interaction:       interactions(t.Interactions),
		Versioning:        t.Versioning,
		ReadHistory:       t.ReadHistory,
		UpdateCreate:      t.UpdateCreate,
		ConditionalCreate: t.ConditionalCreate,
		ConditionalRead:   conditionalRead,
		ConditionalUpdate: t.ConditionalUpdate,
		ConditionalDelete: conditionalDelete,
		ReferencePolicy:   t.ReferencePolicy,
		SearchInclude:     t.SearchIncludes,
		SearchRevInclude:  t.SearchRevIncludes,
		SearchParam:       searchParams(fail, where, t.SearchParams),
		Operation:         operations(fail, where, t.Operations),
	}
}

func searchParams(fail func(string, ...any), where string, params []SearchParamCapability) []SearchParamJSON {
	out := make([]SearchParamJSON, 0, len(params))
	seen := map[string]bool{}
	for _, p := range params {
		if p.Name == "" {
			fail("%s: search parameter without a name", where)
		} else if seen[p.Name] {
			fail("%s: search parameter %s is described twice", where, p.Name)
		}
		seen[p.Name] = true
		if !slices.Contains(searchParamTypes, p.Type) {
			fail("%s: search parameter %s: type %q is not an R4 search parameter type", where, p.Name, p.Type)
		}
		out = append(out, SearchParamJSON(p))
	}
	return out
}

func operations(fail func(string, ...any), where string, ops []OperationCapability) []OperationJSON {
	out := make([]OperationJSON, 0, len(ops))
	for _, o := range ops {
		if o.Name == "" || strings.HasPrefix(o.Name, "$") {
			fail("%s: operation name %q must be given without the $", where, o.Name)
		}
		if o.Definition == "" {
			fail("%s: operation %s has no Definition", where, o.Name)
		}
		out = append(out, OperationJSON(o))
	}
	return out
}

func interactions(codes []string) []InteractionJSON {
	out := make([]InteractionJSON, 0, len(codes))
	for _, c := range codes {
		out = append(out, InteractionJSON{Code: c})
	}
	return out
}

// checkCodes reports codes outside valid and codes given twice.
func checkCodes(fail func(string, ...any), what string, codes, valid []string) {
	for i, c := range codes {
		if !slices.Contains(valid, c) {
			fail("%s %q is not one of %s", what, c, strings.Join(valid, ", "))
		} else if slices.Contains(codes[:i], c) {
			fail("%s %q is given twice", what, c)
		}
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
