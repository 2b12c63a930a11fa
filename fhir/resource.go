package fhir

import (
	"regexp"
	"time"
)

// Resource is one stored version of a resource: the envelope the stores
// keep around the canonical JSON.
type Resource struct {
	Type string
	ID   string
	// Version is the meta.versionId, 1 for the first version.
	Version     int64
	LastUpdated time.Time
	// Deleted marks the version written by a delete; it has no JSON.
	Deleted bool
	// Method is the HTTP method that wrote this version (POST, PUT, DELETE),
	// reported in history bundles.
	Method string
	// JSON is the serializer's canonical output, meta included.
	JSON []byte
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

// ValidID reports whether id is a valid FHIR logical id.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// InstantFormat is how medbridge writes meta.lastUpdated and HTTP-facing
// instants: UTC with microseconds, the precision the stores keep.
const InstantFormat = "2006-01-02T15:04:05.000000Z07:00"

// NextLastUpdated is the lastUpdated of a new version written at now after
// a version last updated at prev (zero for none): now in microseconds, and
// always after prev, so versions of one resource are strictly ordered in
// time even when the clock steps back.
func NextLastUpdated(now, prev time.Time) time.Time {
	t := now.UTC().Truncate(time.Microsecond)
	if !t.After(prev) {
		t = prev.Add(time.Microsecond)
	}
	return t
}
