// Package harness checks the claims of a FHIR R4 server's
// CapabilityStatement against the live server: every interaction, search
// parameter (it answers and it filters), _include and _revinclude value,
// operation (and its definition: an OperationDefinition of that operation
// where it is claimed) and capability flag is exercised with real
// requests, and each becomes a Result (pass, fail or skip, with the
// requests as evidence) in a Report for auditors.
//
// The harness relies on nothing but the statement and the R4
// specification: it creates its own resources from official R4 examples
// (one per type, see fixtures/), tags them with a run-specific meta.tag,
// derives search values from them with the parameters' expressions
// (storage.Extractor) and deletes what it created. It never changes or
// deletes a resource it did not create, and tries only what the statement
// claims: what it created of a type without delete (an append-only audit
// trail) is reported as left behind.
package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/storage"
)

// Config says which server to check and how.
type Config struct {
	// Base is the server's FHIR base URL ("https://example.org/fhir").
	Base string
	// Token, when set, is sent as a bearer token with every request.
	Token string
	// Types narrows the check to these resource types; nil checks every
	// type the statement lists.
	Types []string
	// Concurrency bounds the requests in flight (default 8).
	Concurrency int
	// Client sends the requests (default: a client with a 30 s timeout).
	Client *http.Client
}

// Status is a claim's outcome.
type Status string

// The outcomes of a claim.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	// Skip: the claim was not checked; Result.Reason says why.
	Skip Status = "skip"
)

// Exchange is one request of the evidence for a claim.
type Exchange struct {
	Method, URL string
	// Status is the HTTP status, 0 when no response arrived.
	Status int
}

// String is "GET Patient/1 → 200".
func (e Exchange) String() string {
	status := "no response"
	if e.Status != 0 {
		status = fmt.Sprint(e.Status)
	}
	return e.Method + " " + e.URL + " → " + status
}

// Result is the outcome of checking one claim.
type Result struct {
	// Scope is the resource type the claim is about, or "system".
	Scope string
	// Kind is what is claimed: interaction, search-param, include,
	// revinclude, operation, definition (of an operation), capability
	// (versioning, conditional operations, formats, ...) or security.
	Kind string
	// Claim names it: "read", "birthdate", "Observation:subject",
	// "$lastn", "conditionalCreate".
	Claim  string
	Status Status
	// Reason says what was shown, or why the claim failed or was skipped.
	Reason   string
	Evidence []Exchange
	// Selected is set for a search parameter when a value derived from
	// the harness's resource was shown to select it (not only to exclude
	// it).
	Selected bool
}

// Report is the outcome of a run.
type Report struct {
	Base, Software, FHIRVersion string
	Started                     time.Time
	Duration                    time.Duration
	Results                     []Result
	// LeftBehind lists resources the harness created but could not
	// delete, or did not because their type does not claim delete.
	LeftBehind []string
}

// SystemScope is the Scope of claims about the whole server.
const SystemScope = "system"

// Kinds of claims, in report order.
const (
	KindCapability  = "capability"
	KindSecurity    = "security"
	KindInteraction = "interaction"
	KindSearchParam = "search-param"
	KindInclude     = "include"
	KindRevInclude  = "revinclude"
	KindOperation   = "operation"
	// KindDefinition: an operation's definition resolves to an
	// OperationDefinition of that operation where it is claimed; its
	// claim is the operation's, "$lastn".
	KindDefinition = "definition"
)

var kindOrder = []string{KindCapability, KindSecurity, KindInteraction, KindSearchParam, KindInclude, KindRevInclude, KindOperation, KindDefinition}

// Run fetches the server's CapabilityStatement and checks every claim in
// it until ctx ends; claims not reached by then are skipped. It returns an
// error only when there is no statement to check. Resources the harness
// created are deleted even after ctx ended (with a grace of 30 s).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	spec, err := conformance.Load()
	if err != nil {
		return nil, err
	}
	x, err := storage.NewExtractor(spec)
	if err != nil {
		return nil, err
	}
	r := &runner{
		base: strings.TrimSuffix(cfg.Base, "/"), token: cfg.Token, client: cfg.Client,
		spec: spec, extractor: x.WithBase(strings.TrimSuffix(cfg.Base, "/")), created: map[string]bool{},
	}
	if r.client == nil {
		r.client = &http.Client{Timeout: 30 * time.Second}
	}
	n := cfg.Concurrency
	if n <= 0 {
		n = 8
	}
	r.sem = make(chan struct{}, n)
	var id [4]byte
	rand.Read(id[:])
	r.run = hex.EncodeToString(id[:])

	report := &Report{Base: r.base, Started: time.Now()}
	res, err := r.do(ctx, http.MethodGet, "metadata", nil, nil)
	if err != nil {
		return nil, fmt.Errorf("harness: GET %s/metadata: %w", r.base, err)
	}
	if res.status != http.StatusOK {
		return nil, fmt.Errorf("harness: GET %s/metadata answered %d", r.base, res.status)
	}
	cs, rest, err := parseCapability(res.body)
	if err != nil {
		return nil, err
	}
	report.Software = strings.TrimSpace(cs.Software.Name + " " + cs.Software.Version)
	report.FHIRVersion = cs.FHIRVersion
	r.cs, r.rest = cs, rest
	r.record(Result{Scope: SystemScope, Kind: KindCapability, Claim: "CapabilityStatement", Status: Pass,
		Reason: "served at /metadata, FHIR " + cs.FHIRVersion, Evidence: []Exchange{res.ex}})
	if !strings.HasPrefix(cs.FHIRVersion, "4.0") {
		r.record(Result{Scope: SystemScope, Kind: KindCapability, Claim: "fhirVersion", Status: Fail,
			Reason: fmt.Sprintf("fhirVersion %q: the harness checks R4 (4.0.x) servers", cs.FHIRVersion)})
	}

	var types []*conformance.RestResourceJSON
	for i := range rest.Resource {
		rc := &rest.Resource[i]
		if cfg.Types == nil || slices.Contains(cfg.Types, rc.Type) {
			types = append(types, rc)
		}
	}
	for _, t := range cfg.Types {
		if !slices.ContainsFunc(types, func(rc *conformance.RestResourceJSON) bool { return rc.Type == t }) {
			r.record(Result{Scope: t, Kind: KindCapability, Claim: "type", Status: Skip, Reason: "the CapabilityStatement does not list " + t})
		}
	}

	r.checkSystem(ctx)
	var wg sync.WaitGroup
	for _, rc := range types {
		wg.Go(func() { r.checkType(ctx, rc) })
	}
	wg.Wait()

	cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	report.LeftBehind = r.cleanup(cleanup)
	report.Results = r.sorted()
	report.Duration = time.Since(report.Started)
	return report, nil
}

// runner is the state of one run.
type runner struct {
	base, token string
	client      *http.Client
	sem         chan struct{}
	spec        *conformance.Spec
	extractor   *storage.Extractor
	cs          *conformance.CapabilityStatementJSON
	rest        *conformance.RestJSON
	// run is this run's random id, in the tags of everything it creates.
	run string
	seq atomic.Int64

	mu      sync.Mutex
	results []Result
	// created: "Type/id" of every resource created → still there.
	created map[string]bool
	// definitions: operation definition canonical → *definitionFetch.
	definitions sync.Map
}

// tagSystem is the meta.tag system of the harness's resources.
const tagSystem = "urn:x-fhir-conformance-harness"

// newTag returns a code no other resource carries.
func (r *runner) newTag() string { return fmt.Sprintf("%s-%d", r.run, r.seq.Add(1)) }

func (r *runner) record(res Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results = append(r.results, res)
}

func (r *runner) track(typ, id string, exists bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.created[typ+"/"+id] = exists
}

// cleanup deletes every created resource still there and returns those
// that could not be deleted, or were not because delete is not claimed
// for their type.
func (r *runner) cleanup(ctx context.Context) []string {
	r.mu.Lock()
	var left []string
	for ref, exists := range r.created {
		if exists {
			left = append(left, ref)
		}
	}
	r.mu.Unlock()
	slices.Sort(left)
	var mu sync.Mutex
	var failed []string
	var wg sync.WaitGroup
	for _, ref := range left {
		if typ, _, _ := strings.Cut(ref, "/"); !r.deletable(typ) {
			failed = append(failed, ref+" (delete is not claimed)")
			continue
		}
		wg.Go(func() {
			res, err := r.do(ctx, http.MethodDelete, ref, nil, nil)
			if err != nil || res.status >= 300 && res.status != http.StatusNotFound && res.status != http.StatusGone {
				mu.Lock()
				failed = append(failed, ref)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(failed)
	return failed
}

// deletable reports whether the statement claims delete for typ: the
// harness does not try what is not claimed (an append-only type's
// resources stay).
func (r *runner) deletable(typ string) bool {
	for i := range r.rest.Resource {
		if rc := &r.rest.Resource[i]; rc.Type == typ {
			return rc.Has("delete")
		}
	}
	return false
}

// sorted returns the results: system first, then by type and kind; the
// claims of a kind checked concurrently by name, the others in the order
// they were checked.
func (r *runner) sorted() []Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.results)
	slices.SortStableFunc(out, func(a, b Result) int {
		if a.Scope != b.Scope {
			if a.Scope == SystemScope || b.Scope == SystemScope {
				return boolOrder(a.Scope == SystemScope, b.Scope == SystemScope)
			}
			return strings.Compare(a.Scope, b.Scope)
		}
		if ka, kb := slices.Index(kindOrder, a.Kind), slices.Index(kindOrder, b.Kind); ka != kb {
			return ka - kb
		}
		if a.Kind == KindInteraction || a.Kind == KindCapability || a.Kind == KindSecurity {
			return 0
		}
		return strings.Compare(a.Claim, b.Claim)
	})
	return out
}

func boolOrder(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// errBudget marks a check cut short by the end of the run's context.
var errBudget = errors.New("time budget exhausted")
