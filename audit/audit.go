// Package audit builds the AuditEvent resources medbridge writes for every
// FHIR interaction, device-ingest batch and token request: who (the user
// and the client application of the access token, and the network
// address), what (the resources, versions and queries), which patients,
// the outcome, and the server as the source. The records follow the
// RESTful pattern of R4 (AuditEvent-example-rest, -search) and IHE Basic
// Audit Log Patterns: type "rest" with the restful-interaction as subtype,
// the query base64-encoded in a Query entity, one Patient entity per
// patient concerned, so that an auditor finds every access to a patient
// with AuditEvent?patient=Patient/x.
//
// The package is pure: it turns an Event into the resource's JSON. Where
// and how reliably the records are written is the caller's (server,
// ingest).
package audit

import (
	"encoding/base64"
	"encoding/json"
	"net"
	"sort"
	"time"

	"github.com/medbridge/medbridge/fhir"
)

// Coding is a code from a code system.
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// Code systems of the records.
const (
	systemEventType   = "http://terminology.hl7.org/CodeSystem/audit-event-type"
	systemInteraction = "http://hl7.org/fhir/restful-interaction"
	systemDICOM       = "http://dicom.nema.org/resources/ontology/DCM"
	systemRoleType    = "http://terminology.hl7.org/CodeSystem/extra-security-role-type"
	systemEntityType  = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
	systemObjectRole  = "http://terminology.hl7.org/CodeSystem/object-role"
	systemSourceType  = "http://terminology.hl7.org/CodeSystem/security-source-type"
	// SystemClient names OAuth client ids in agent identifiers.
	SystemClient = "urn:medbridge:oauth-client"
)

// Event types.
var (
	// REST is a FHIR RESTful interaction; its subtype is Interaction(code).
	REST = Coding{System: systemEventType, Code: "rest", Display: "Restful Operation"}
	// Import is device data received through ingest (DICOM 110107).
	Import = Coding{System: systemDICOM, Code: "110107", Display: "Import"}
	// Authentication is a token request (DICOM 110114); its subtype is
	// Login.
	Authentication = Coding{System: systemDICOM, Code: "110114", Display: "User Authentication"}
	// Login is the subtype of Authentication (DICOM 110122).
	Login = Coding{System: systemDICOM, Code: "110122", Display: "Login"}
)

// Interaction is the restful-interaction subtype of a REST event (read,
// vread, update, patch, delete, history-instance, history-type,
// history-system, create, search-type, search-system, capabilities,
// transaction, batch, operation).
func Interaction(code string) Coding {
	return Coding{System: systemInteraction, Code: code, Display: code}
}

// SystemOperation names medbridge's operations and non-FHIR interactions
// in subtypes ("$lastn", "ingest-errors").
const SystemOperation = "urn:medbridge:operation"

// Operation is the subtype naming an operation ("$stats") or one of
// medbridge's own interactions ("ingest-errors").
func Operation(name string) Coding {
	return Coding{System: SystemOperation, Code: name, Display: name}
}

// Actions (AuditEvent.action).
const (
	Create  = "C"
	Read    = "R"
	Update  = "U"
	Delete  = "D"
	Execute = "E"
)

// Outcome is AuditEvent.outcome.
type Outcome string

// Outcomes.
const (
	Success        Outcome = "0"
	MinorFailure   Outcome = "4"
	SeriousFailure Outcome = "8"
)

// OutcomeOf is the outcome of an HTTP status: success below 400, a minor
// failure (the request was refused) for 4xx, a serious one (the server
// failed) for 5xx.
func OutcomeOf(status int) Outcome {
	switch {
	case status >= 500:
		return SeriousFailure
	case status >= 400:
		return MinorFailure
	}
	return Success
}

// Who is the requestor: the access token's user and client, and the
// network address. A request without a (valid) token has neither.
type Who struct {
	// ClientID is the OAuth client (the app or backend service).
	ClientID string
	// Subject is the user's id at the token issuer; FHIRUser the user's
	// FHIR resource ("Practitioner/123") when known.
	Subject, FHIRUser string
	// Address is the requestor's network address (an IP address).
	Address string
}

// Entity is one thing the event is about.
type Entity struct {
	// Reference is "Type/id" or "Type/id/_history/v".
	Reference string
	// Name names it when there is no reference (e.g. the ingest mapping).
	Name string
	// Query is the request (path and query string) of a search, history
	// or operation.
	Query string
}

// Event is one audited happening.
type Event struct {
	Type    Coding
	Subtype []Coding
	// Action is Create, Read, Update, Delete or Execute.
	Action string
	// Start and End bound the request; End is also the recorded time.
	Start, End time.Time
	Outcome    Outcome
	// Description tells what failed (AuditEvent.outcomeDesc).
	Description string
	Who         Who
	// Source is the server: its FHIR base URL.
	Source   string
	Entities []Entity
	// Patients are the ids of the patients the event concerns.
	Patients []string
}

// Resource returns e as version 1 of AuditEvent/id, last updated at
// lastUpdated.
func (e *Event) Resource(id string, lastUpdated time.Time) fhir.Resource {
	b, _ := json.Marshal(e.document(id, lastUpdated)) // strings and slices only: cannot fail
	return fhir.Resource{Type: "AuditEvent", ID: id, Version: 1, LastUpdated: lastUpdated, Method: "POST", JSON: b}
}

type document struct {
	ResourceType string   `json:"resourceType"`
	ID           string   `json:"id"`
	Meta         meta     `json:"meta"`
	Type         Coding   `json:"type"`
	Subtype      []Coding `json:"subtype,omitempty"`
	Action       string   `json:"action,omitempty"`
	Period       *period  `json:"period,omitempty"`
	Recorded     string   `json:"recorded"`
	Outcome      Outcome  `json:"outcome"`
	OutcomeDesc  string   `json:"outcomeDesc,omitempty"`
	Agent        []agent  `json:"agent"`
	Source       source   `json:"source"`
	Entity       []entity `json:"entity,omitempty"`
}

type meta struct {
	VersionID   string `json:"versionId"`
	LastUpdated string `json:"lastUpdated"`
}

type period struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type concept struct {
	Coding []Coding `json:"coding"`
}

type reference struct {
	Reference  string      `json:"reference,omitempty"`
	Identifier *identifier `json:"identifier,omitempty"`
	Display    string      `json:"display,omitempty"`
}

type identifier struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value"`
}

type agent struct {
	Type      *concept   `json:"type,omitempty"`
	Who       *reference `json:"who,omitempty"`
	AltID     string     `json:"altId,omitempty"`
	Requestor bool       `json:"requestor"`
	Network   *network   `json:"network,omitempty"`
}

type network struct {
	Address string `json:"address"`
	Type    string `json:"type"`
}

type source struct {
	Observer reference `json:"observer"`
	Type     []Coding  `json:"type"`
}

type entity struct {
	What        *reference `json:"what,omitempty"`
	Type        *Coding    `json:"type,omitempty"`
	Role        *Coding    `json:"role,omitempty"`
	Name        string     `json:"name,omitempty"`
	Description string     `json:"description,omitempty"`
	Query       string     `json:"query,omitempty"`
}

var (
	humanUser     = &concept{Coding: []Coding{{System: systemRoleType, Code: "humanuser", Display: "human user"}}}
	application   = &concept{Coding: []Coding{{System: systemDICOM, Code: "110150", Display: "Application"}}}
	systemObject  = &Coding{System: systemEntityType, Code: "2", Display: "System Object"}
	person        = &Coding{System: systemEntityType, Code: "1", Display: "Person"}
	patientRole   = &Coding{System: systemObjectRole, Code: "1", Display: "Patient"}
	queryRole     = &Coding{System: systemObjectRole, Code: "24", Display: "Query"}
	webServer     = []Coding{{System: systemSourceType, Code: "3", Display: "Web Server"}}
	anonymousUser = &reference{Display: "unauthenticated requestor"}
)

func (e *Event) document(id string, lastUpdated time.Time) *document {
	d := &document{
		ResourceType: "AuditEvent",
		ID:           id,
		Meta:         meta{VersionID: "1", LastUpdated: lastUpdated.UTC().Format(fhir.InstantFormat)},
		Type:         e.Type,
		Subtype:      e.Subtype,
		Action:       e.Action,
		Recorded:     e.End.UTC().Format(fhir.InstantFormat),
		Outcome:      e.Outcome,
		OutcomeDesc:  e.Description,
		Agent:        e.agents(),
		Source:       source{Observer: reference{Display: e.Source}, Type: webServer},
	}
	if !e.Start.IsZero() {
		d.Period = &period{Start: e.Start.UTC().Format(fhir.InstantFormat), End: d.Recorded}
	}
	for _, en := range e.Entities {
		x := entity{Type: systemObject, Name: en.Name}
		if en.Reference != "" {
			x.What = &reference{Reference: en.Reference}
		}
		if en.Query != "" {
			x.Role, x.Description = queryRole, en.Query
			x.Query = base64.StdEncoding.EncodeToString([]byte(en.Query))
		}
		d.Entity = append(d.Entity, x)
	}
	patients := append([]string(nil), e.Patients...)
	sort.Strings(patients)
	for i, p := range patients {
		if i > 0 && p == patients[i-1] {
			continue
		}
		d.Entity = append(d.Entity, entity{What: &reference{Reference: "Patient/" + p}, Type: person, Role: patientRole})
	}
	return d
}

// agents are the user (requestor) and the application acting for them; a
// backend service's application is the requestor itself.
func (e *Event) agents() []agent {
	w := e.Who
	var nw *network
	if w.Address != "" {
		nw = &network{Address: w.Address, Type: networkType(w.Address)}
	}
	var out []agent
	if w.Subject != "" || w.FHIRUser != "" {
		u := agent{Type: humanUser, AltID: w.Subject, Requestor: true, Network: nw}
		if w.FHIRUser != "" {
			u.Who = &reference{Reference: w.FHIRUser}
		} else {
			u.Who = &reference{Identifier: &identifier{Value: w.Subject}}
		}
		out = append(out, u)
		nw = nil
	}
	if w.ClientID != "" {
		out = append(out, agent{
			Type: application, AltID: w.ClientID, Requestor: len(out) == 0, Network: nw,
			Who: &reference{Identifier: &identifier{System: SystemClient, Value: w.ClientID}},
		})
	}
	if len(out) == 0 {
		out = append(out, agent{Who: anonymousUser, Requestor: true, Network: nw})
	}
	return out
}

// networkType is AuditEvent.agent.network.type: 2 for an IP address, 1 for
// a machine name.
func networkType(address string) string {
	if net.ParseIP(address) != nil {
		return "2"
	}
	return "1"
}
