// Package mappers turns device payloads into FHIR resources. Everything
// here is a pure function: a payload (and a template) in, readings out;
// a reading plus the identities the ingest service resolved in, the
// Observation out. Nothing here reads or writes a store.
//
// The packages below it are the mappings: mappers/medtech (templates in
// the Microsoft MedTech / iomt-fhir format), mappers/omh (Open mHealth data
// points) and mappers/phd (IEEE 11073 PHD gateway Bundles).
package mappers

import (
	"time"
)

// A Mapper finds the readings in one device message (one JSON value).
// An error means the message cannot be mapped at all; it goes to the
// dead-letter collection with err's text as the reason. A message in
// which the mapper finds no reading is an error too (ErrNoMatch).
type Mapper interface {
	Map(payload []byte) ([]Reading, error)
}

// Reading is one Observation a mapper found in a message, before the
// ingest service has resolved its device and patient.
type Reading struct {
	// Type is the mapping's name for the kind of measurement
	// ("heartrate"); with Device and the effective window it makes the
	// Observation's identity (see Key).
	Type string
	// Device identifies the measuring device as the payload names it.
	Device Device
	// Patient identifies the patient: Value from the payload, System when
	// the payload or mapping knows it ("" means any system).
	Patient Identifier
	// Encounter is the encounter identifier, when the payload has one.
	Encounter Identifier
	// Correlation, when set, is part of the identity (iomt-fhir's
	// correlationIdExpression: readings of one session).
	Correlation string
	// Start and End bound the effective time; End equals Start for an
	// instant (effectiveDateTime), else it is the end of the period or of
	// the grouping window (effectivePeriod).
	Start, End time.Time
	// Observation is the Observation as a JSON object, without id,
	// identifier, subject, device and encounter (Finish adds them).
	Observation map[string]any
	// Merge is set for grouped readings (periodInterval > 0, SampledData):
	// an Observation already stored with the same Key is merged with this
	// one by Merger rather than replaced.
	Merge Merger
	// Gateways are further devices the Observation references (a PHD
	// gateway); the ingest service creates them like Device. The mapper
	// has written their references as "Device/" + IdentifierID(identifier).
	Gateways []Device
}

// Merger merges a new grouped reading into the Observation stored for the
// same key and reports whether the result differs from stored.
type Merger func(stored, incoming map[string]any) (merged map[string]any, changed bool, err error)

// Identifier is a FHIR Identifier's system and value.
type Identifier struct{ System, Value string }

// Device is what a payload says about the device that measured.
type Device struct {
	// Identifier is required: it names the Device (its id is a hash of it).
	Identifier Identifier
	// Type, Manufacturer and Model describe a Device created on first
	// sight; Type may be nil.
	Type         *Coding
	Manufacturer string
	Model        string
	// Resource, when the payload carries a whole Device (PHD), is stored
	// as sent (id, patient link set by the ingest service).
	Resource map[string]any
}

// Coding is a FHIR Coding.
type Coding struct{ System, Code, Display string }

// Resolved holds the references the ingest service resolved for a reading.
type Resolved struct {
	// Device and Patient are relative references ("Device/abc"), Encounter
	// is "" or one.
	Device, Patient, Encounter string
}
