package server

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/medbridge/medbridge/fhir"
)

// bundle is the JSON shape of the Bundles medbridge returns. Resources stay
// json.RawMessage: stored JSON is sent as stored, never re-parsed.
type bundle struct {
	ResourceType string        `json:"resourceType"`
	ID           string        `json:"id"`
	Meta         bundleMeta    `json:"meta"`
	Type         string        `json:"type"`
	Total        *int          `json:"total,omitempty"`
	Link         []bundleLink  `json:"link,omitempty"`
	Entry        []bundleEntry `json:"entry,omitempty"`
}

type bundleMeta struct {
	LastUpdated string `json:"lastUpdated"`
}

type bundleLink struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

type bundleEntry struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Search   *entrySearch    `json:"search,omitempty"`
	Request  *entryRequest   `json:"request,omitempty"`
	Response *entryResponse  `json:"response,omitempty"`
}

type entrySearch struct {
	Mode string `json:"mode,omitempty"`
}

// entryRequest is Bundle.entry.request: how history Bundles say what
// wrote a version, and what batch and transaction entries ask for.
type entryRequest struct {
	Method          string `json:"method"`
	URL             string `json:"url"`
	IfNoneMatch     string `json:"ifNoneMatch,omitempty"`
	IfModifiedSince string `json:"ifModifiedSince,omitempty"`
	IfMatch         string `json:"ifMatch,omitempty"`
	IfNoneExist     string `json:"ifNoneExist,omitempty"`
}

// entryResponse is Bundle.entry.response of batch and transaction
// responses; Outcome is the OperationOutcome of a failed entry.
type entryResponse struct {
	Status       string          `json:"status"`
	Location     string          `json:"location,omitempty"`
	Etag         string          `json:"etag,omitempty"`
	LastModified string          `json:"lastModified,omitempty"`
	Outcome      json.RawMessage `json:"outcome,omitempty"`
}

func newBundle(typ string, now time.Time) *bundle {
	return &bundle{
		ResourceType: "Bundle",
		ID:           uuid.NewString(),
		Meta:         bundleMeta{LastUpdated: now.UTC().Format(fhir.InstantFormat)},
		Type:         typ,
	}
}

func (s *Server) fullURL(r *fhir.Resource) string {
	return s.baseURL + "/" + r.Type + "/" + r.ID
}
