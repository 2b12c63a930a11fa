package scope

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Interaction names a FHIR RESTful interaction, as in the CapabilityStatement.
type Interaction string

// The interactions Decide knows. Batch and transaction have none of their
// own: SMART checks each entry as the interaction it holds.
const (
	Read            Interaction = "read"             // needs r
	VRead           Interaction = "vread"            // needs r
	HistoryInstance Interaction = "history-instance" // needs r, as SMART lists it under read
	HistoryType     Interaction = "history-type"     // needs s
	HistorySystem   Interaction = "history-system"   // needs s on *
	SearchType      Interaction = "search-type"      // needs s
	SearchSystem    Interaction = "search-system"    // needs s on *
	Create          Interaction = "create"           // needs c
	Update          Interaction = "update"           // needs u, also when it creates
	Patch           Interaction = "patch"            // needs u
	Delete          Interaction = "delete"           // needs d
	Operation       Interaction = "operation"        // see Request.Name
)

// searchOperations are the operations that return a set of resources of
// their type, and so need s.
var searchOperations = []string{"everything", "lastn", "stats"}

// Request is one interaction to decide on.
type Request struct {
	Interaction Interaction
	// Type is the resource type; "" for system-level interactions
	// (search-system, history-system, operations on the server).
	Type string
	// Name is the operation's name, with or without its "$" (Operation only).
	// $everything, $lastn and $stats need s on Type. Any other operation
	// needs what SMART v1 read (rs) or write (cud) meant, as Writes says,
	// since its effect is not known here. An operation on the server (Type
	// "") needs a scope for every type ("*").
	//
	// $everything is decided on its own type (Patient, Encounter, Group)
	// only: the caller must also drop every returned resource whose type the
	// grant does not allow searching.
	Name string
	// Writes tells whether the operation changes data (Operation only).
	Writes bool
}

// Grant is what an access token carries.
type Grant struct {
	Scopes Set
	// Patient is the id of the patient in context; "" when there is none, in
	// which case patient/ scopes allow nothing.
	Patient string
}

// Decision is the outcome of Decide. See the package documentation for
// what the caller must do with Compartment and Constraints.
type Decision struct {
	Allowed bool
	// Reason says why the interaction is refused, for a 403
	// OperationOutcome; "" when Allowed.
	Reason string
	// Compartment is the id of the patient whose compartment the interaction
	// is confined to; "" when it is not confined. It is set when only
	// patient/ scopes allow the interaction.
	Compartment string
	// Constraints are queries that are ORed; nil when no query constrains
	// the interaction.
	Constraints []url.Values
}

// Decide decides whether g allows r. Each permission r needs must be
// granted by some scope of the right level whose type is r.Type or "*".
// For each permission, user/ and system/ scopes prevail: when one of them
// grants it, patient/ scopes are not considered, and the permission is
// constrained only by the queries of those scopes (none when one of them
// has none). Otherwise patient/ scopes grant it within the compartment of
// g.Patient, constrained by their queries. Decide thus never allows more
// than the scopes do, but a grant that mixes a constrained user/ scope with
// a patient/ scope for the same type loses the patient/ part.
func Decide(g Grant, r Request) Decision {
	need, typ, what, err := r.needs()
	if err != nil {
		return Decision{Reason: "invalid request: " + err.Error()}
	}
	return g.decide(typ, need, what)
}

// Ingest decides whether g may ingest device data, which creates
// Observations (c on Observation) and creates or updates the Device that
// reported them (cu on Device). The caller applies each decision to the
// writes of its type, and ingests nothing unless both are allowed.
func Ingest(g Grant) (observation, device Decision) {
	return g.decide("Observation", PermCreate, "creating Observation"),
		g.decide("Device", PermCreate|PermUpdate, "creating and updating Device")
}

// needs returns the permissions r needs, the scope type they are needed on
// and a phrase describing r for refusals.
func (r Request) needs() (need Perms, typ, what string, err error) {
	system := r.Type == ""
	if !system && (r.Type == "*" || !isType(r.Type)) {
		return 0, "", "", fmt.Errorf("%q is not a resource type", r.Type)
	}
	typed := func(p Perms, format string) (Perms, string, string, error) {
		if system {
			return 0, "", "", fmt.Errorf("%s needs a resource type", r.Interaction)
		}
		return p, r.Type, fmt.Sprintf(format, r.Type), nil
	}
	untyped := func(p Perms, what string) (Perms, string, string, error) {
		if !system {
			return 0, "", "", fmt.Errorf("%s takes no resource type", r.Interaction)
		}
		return p, "*", what, nil
	}
	switch r.Interaction {
	case Read, VRead:
		return typed(PermRead, "reading %s")
	case HistoryInstance:
		return typed(PermRead, "reading the history of %s")
	case HistoryType:
		return typed(PermSearch, "reading the history of all %s resources")
	case HistorySystem:
		return untyped(PermSearch, "reading the history of the whole server")
	case SearchType:
		return typed(PermSearch, "searching %s")
	case SearchSystem:
		return untyped(PermSearch, "searching the whole server")
	case Create:
		return typed(PermCreate, "creating %s")
	case Update:
		return typed(PermUpdate, "updating %s")
	case Patch:
		return typed(PermUpdate, "patching %s")
	case Delete:
		return typed(PermDelete, "deleting %s")
	case Operation:
		name := strings.TrimPrefix(r.Name, "$")
		if name == "" {
			return 0, "", "", errors.New("operation without a name")
		}
		need := v1Read
		switch {
		case slices.Contains(searchOperations, name):
			need = PermSearch
		case r.Writes:
			need = v1Write
		}
		if system {
			return need, "*", "running $" + name + " on the whole server", nil
		}
		return need, r.Type, "running $" + name + " on " + r.Type, nil
	}
	return 0, "", "", fmt.Errorf("unknown interaction %q", r.Interaction)
}

// access is how far a set of scopes allows something.
type access struct {
	compartment string
	constraints []url.Values
}

// decide decides whether g grants every permission of need on typ ("*" for
// the whole server); what describes the request for refusals.
func (g Grant) decide(typ string, need Perms, what string) Decision {
	var acc access
	for p := PermCreate; p <= PermSearch; p <<= 1 {
		if need&p == 0 {
			continue
		}
		one, ok, noPatient := g.grants(typ, p)
		if noPatient {
			return Decision{Reason: "the token has no patient context, so its patient/ scopes do not allow " + what}
		}
		if !ok {
			return Decision{Reason: fmt.Sprintf("the token's scopes do not allow %s (needs %s)", what, g.suggest(typ, need))}
		}
		if one.compartment != "" {
			acc.compartment = one.compartment
		}
		acc.constraints = and(acc.constraints, one.constraints)
	}
	return Decision{Allowed: true, Compartment: acc.compartment, Constraints: acc.constraints}
}

// grants returns how far g grants permission p on typ. noPatient reports a
// refusal that a patient in context would have turned into a grant.
func (g Grant) grants(typ string, p Perms) (acc access, ok, noPatient bool) {
	var broad, patient []Clinical
	for _, c := range g.Scopes.clinical {
		if c.Perms&p == 0 || (c.Type != "*" && c.Type != typ) {
			continue
		}
		if c.Level == Patient {
			patient = append(patient, c)
		} else {
			broad = append(broad, c)
		}
	}
	switch {
	case len(broad) > 0:
		return access{constraints: or(broad)}, true, false
	case len(patient) == 0:
		return access{}, false, false
	case g.Patient == "":
		return access{}, false, true
	}
	return access{compartment: g.Patient, constraints: or(patient)}, true, false
}

// suggest names the scopes that would grant need on typ, at the levels the
// grant uses (at every level when it has no clinical scopes).
func (g Grant) suggest(typ string, need Perms) string {
	var names []string
	for _, l := range levels {
		if g.Scopes.HasLevel(l) || g.Scopes.Kind() == "" {
			names = append(names, string(l)+"/"+typ+"."+need.String())
		}
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// or returns the constraints of scopes that are ORed: nil when one of them
// has no query, else their queries, each once, leaving out those narrower
// than another.
func or(scopes []Clinical) []url.Values {
	var qs []url.Values
	for _, c := range scopes {
		if len(c.Query) == 0 {
			return nil
		}
		qs = append(qs, c.Query)
	}
	return minimal(qs)
}

// and returns the conjunction of two ORed lists of constraints, nil
// standing for no constraint.
func and(a, b []url.Values) []url.Values {
	switch {
	case a == nil:
		return minimal(b)
	case b == nil:
		return minimal(a)
	}
	var qs []url.Values
	for _, x := range a {
		for _, y := range b {
			qs = append(qs, queryUnion(x, y))
		}
	}
	return minimal(qs)
}

// minimal returns copies of the queries of qs that no other query of qs is
// broader than (keeping one of equal ones), in canonical order; nil for
// none.
func minimal(qs []url.Values) []url.Values {
	var out []url.Values
	for i, q := range qs {
		redundant := slices.ContainsFunc(qs[:i], func(p url.Values) bool { return querySubset(p, q) }) ||
			slices.ContainsFunc(qs[i+1:], func(p url.Values) bool { return querySubset(p, q) && !querySubset(q, p) })
		if !redundant {
			out = append(out, cloneQuery(q))
		}
	}
	slices.SortFunc(out, func(a, b url.Values) int { return strings.Compare(encodeQuery(a), encodeQuery(b)) })
	return out
}
