package mappers

import (
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"maps"
	"strings"
	"time"
)

// ObservationSystem is the system of the identifier every ingested
// Observation carries; its value is the reading's Key.
const ObservationSystem = "urn:medbridge:ingest:observation"

// ErrNoMatch is the error of a message in which a mapper finds no reading.
var ErrNoMatch = errors.New("no template matches the message")

// keyTime is the time format of keys: UTC, to the millisecond, so that
// the same instant written with another offset makes the same key.
const keyTime = "20060102T150405.000Z"

// Key is the identity of a reading's Observation: device, type,
// correlation and effective window. Re-sending a reading gives the same
// key, so the same Observation.
func Key(r *Reading) string {
	parts := []string{
		r.Device.Identifier.System + "|" + r.Device.Identifier.Value,
		r.Type,
		r.Start.UTC().Format(keyTime),
		r.End.UTC().Format(keyTime),
	}
	if r.Correlation != "" {
		parts = append(parts, r.Correlation)
	}
	return strings.Join(parts, ".")
}

// ID derives a resource id from an identity string: 32 base32 characters
// of its SHA-256 (160 bits), valid as a FHIR id and the same on every run,
// so that parallel first readings of one device name one Device.
func ID(identity string) string {
	sum := sha256.Sum256([]byte(identity))
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:20]))
}

// IdentifierID is ID of an Identifier ("system|value").
func IdentifierID(id Identifier) string { return ID(id.System + "|" + id.Value) }

// Finish completes a reading's Observation: id and identifier from its
// Key, subject, device and encounter from res. The reading's own map is
// left unchanged.
func Finish(r *Reading, res Resolved) map[string]any {
	key := Key(r)
	obs := maps.Clone(r.Observation)
	obs["resourceType"] = "Observation"
	obs["id"] = ID(key)
	obs["identifier"] = []any{map[string]any{"system": ObservationSystem, "value": key}}
	obs["subject"] = map[string]any{"reference": res.Patient}
	obs["device"] = map[string]any{"reference": res.Device}
	if res.Encounter != "" {
		obs["encounter"] = map[string]any{"reference": res.Encounter}
	}
	return obs
}

// Effective returns the effective[x] element of a window: effectiveDateTime
// for an instant, effectivePeriod otherwise. Times keep the offset they
// were given in.
func Effective(start, end time.Time) (string, any) {
	if start.Equal(end) {
		return "effectiveDateTime", start.Format(time.RFC3339Nano)
	}
	return "effectivePeriod", map[string]any{"start": start.Format(time.RFC3339Nano), "end": end.Format(time.RFC3339Nano)}
}
