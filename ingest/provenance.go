package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medbridge/medbridge/audit"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/mappers"
	"github.com/medbridge/medbridge/storage"
)

// Provenance of device-derived Observations. Per request and per Device
// (and the Device's patient), the raw messages that made Observation
// versions are kept byte for byte in a Binary, and a Provenance names the
// versions written (target), the Device (agent "author": it originated
// the values) and the sending client (agent "informant": it reported
// them), with the Binary as source entity. Observations created and
// updated get separate Provenances, since activity is one code.
//
// Ids are hashes of content, so a message sent again is the same Binary
// and the same Provenance: a re-send that changes no Observation writes
// nothing, and one that does (the Observation changed in between) writes
// a new version of the same Provenance.

// Code systems of the Provenances.
const (
	systemParticipantType = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
	systemDataOperation   = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
)

// Activities (v3-DataOperation).
const (
	activityCreate = "CREATE"
	activityUpdate = "UPDATE"
)

// source is the messages of one Device and patient in one request: one
// Binary, and one Provenance per activity.
type source struct {
	device, patient string
	msgs            []int // positions in the request, ascending
	binary          *fhir.Resource
	provs           []*provenance
}

// provenance is one Provenance of a request on its way to the store.
type provenance struct {
	id       string
	activity string
	src      *source
	obs      []*obsState
	// written is the version in the batch's write, nil when the stored
	// one already says the same.
	written *fhir.Resource
	// expected is the stored version written replaces (0: none).
	expected int64
}

// sources groups the written Observations by Device and patient, in
// order of first sight.
func (b *batch) sources(written []*obsState) []*source {
	var out []*source
	byKey := map[string]*source{}
	for _, st := range written {
		last := st.readings[len(st.readings)-1]
		key := last.device + "\x00" + last.patient
		src := byKey[key]
		if src == nil {
			src = &source{device: last.device, patient: last.patient}
			byKey[key] = src
			out = append(out, src)
		}
		for _, rd := range st.readings {
			src.msgs = append(src.msgs, rd.msg)
		}
		activity := activityUpdate
		if st.created > 0 {
			activity = activityCreate
		}
		var p *provenance
		for _, q := range src.provs {
			if q.activity == activity {
				p = q
			}
		}
		if p == nil {
			p = &provenance{activity: activity, src: src}
			src.provs = append(src.provs, p)
		}
		p.obs = append(p.obs, st)
	}
	for _, src := range out {
		slices.Sort(src.msgs)
		src.msgs = slices.Compact(src.msgs)
		content, contentType := rawContent(b.messages, src.msgs)
		id := mappers.ID("Binary\x00" + b.m.Name + "\x00" + src.patient + "\x00" + contentType + "\x00" + string(content))
		src.binary = b.s.binary(id, contentType, src.patient, content)
		for _, p := range src.provs {
			p.id = mappers.ID("Provenance\x00" + id + "\x00" + src.device + "\x00" + p.activity)
		}
	}
	return out
}

// rawContent is the messages at positions msgs as received: one as it
// is (application/json); several one a line (application/x-ndjson), or,
// when one of them spans lines, as a JSON array.
func rawContent(messages [][]byte, msgs []int) ([]byte, string) {
	if len(msgs) == 1 {
		return messages[msgs[0]], "application/json"
	}
	multiline := false
	for _, i := range msgs {
		multiline = multiline || bytes.ContainsAny(messages[i], "\r\n")
	}
	var buf bytes.Buffer
	if multiline {
		buf.WriteByte('[')
		for j, i := range msgs {
			if j > 0 {
				buf.WriteByte(',')
			}
			buf.Write(messages[i])
		}
		buf.WriteByte(']')
		return buf.Bytes(), "application/json"
	}
	for _, i := range msgs {
		buf.Write(messages[i])
		buf.WriteByte('\n')
	}
	return buf.Bytes(), "application/x-ndjson"
}

type binaryJSON struct {
	ResourceType    string     `json:"resourceType"`
	ID              string     `json:"id"`
	Meta            metaJSON   `json:"meta"`
	ContentType     string     `json:"contentType"`
	SecurityContext *reference `json:"securityContext,omitempty"`
	Data            []byte     `json:"data"`
}

type metaJSON struct {
	VersionID   string `json:"versionId"`
	LastUpdated string `json:"lastUpdated"`
}

type reference struct {
	Reference  string          `json:"reference,omitempty"`
	Identifier *identifierJSON `json:"identifier,omitempty"`
}

type identifierJSON struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value"`
}

type coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

type concept struct {
	Coding []coding `json:"coding"`
}

type provenanceJSON struct {
	ResourceType string         `json:"resourceType"`
	ID           string         `json:"id"`
	Meta         metaJSON       `json:"meta"`
	Target       []reference    `json:"target"`
	Recorded     string         `json:"recorded"`
	Activity     *concept       `json:"activity,omitempty"`
	Agent        []agentJSON    `json:"agent"`
	Entity       []provEntityJS `json:"entity"`
}

type agentJSON struct {
	Type *concept  `json:"type"`
	Who  reference `json:"who"`
}

type provEntityJS struct {
	Role string    `json:"role"`
	What reference `json:"what"`
}

var (
	author    = &concept{Coding: []coding{{System: systemParticipantType, Code: "author", Display: "Author"}}}
	informant = &concept{Coding: []coding{{System: systemParticipantType, Code: "informant", Display: "Informant"}}}
	displays  = map[string]string{activityCreate: "create", activityUpdate: "update"}
	// agentTypes are the types Provenance.agent.who may reference.
	agentTypes = []string{"Practitioner", "PractitionerRole", "RelatedPerson", "Patient", "Device", "Organization"}
)

// binary is version 1 of Binary/id holding content, in patient's security
// context (when known).
func (s *Service) binary(id, contentType, patient string, content []byte) *fhir.Resource {
	t := fhir.NextLastUpdated(s.now(), time.Time{})
	d := binaryJSON{
		ResourceType: "Binary", ID: id, Meta: metaJSON{VersionID: "1", LastUpdated: t.UTC().Format(fhir.InstantFormat)},
		ContentType: contentType, Data: content,
	}
	if patient != "" {
		d.SecurityContext = &reference{Reference: patient}
	}
	b, _ := json.Marshal(d) // strings and bytes only: cannot fail
	return &fhir.Resource{Type: "Binary", ID: id, Version: 1, LastUpdated: t, Method: http.MethodPut, JSON: b}
}

// provenanceDoc is p's Provenance naming the Observation versions
// targets, recorded at recorded, with the sender who (when known).
func provenanceDoc(p *provenance, targets []string, who *audit.Who, version int64, lastUpdated time.Time, recorded string) provenanceJSON {
	d := provenanceJSON{
		ResourceType: "Provenance", ID: p.id,
		Meta:     metaJSON{VersionID: strconv.FormatInt(version, 10), LastUpdated: lastUpdated.UTC().Format(fhir.InstantFormat)},
		Recorded: recorded,
		Activity: &concept{Coding: []coding{{System: systemDataOperation, Code: p.activity, Display: displays[p.activity]}}},
		Agent:    []agentJSON{{Type: author, Who: reference{Reference: p.src.device}}},
		Entity:   []provEntityJS{{Role: "source", What: reference{Reference: "Binary/" + p.src.binary.ID}}},
	}
	for _, t := range targets {
		d.Target = append(d.Target, reference{Reference: t})
	}
	if a, ok := sender(who); ok {
		d.Agent = append(d.Agent, a)
	}
	return d
}

// sender is the agent of the client that sent the messages: its user
// when that is a resource an agent may be, else the client by id.
func sender(who *audit.Who) (agentJSON, bool) {
	if who == nil {
		return agentJSON{}, false
	}
	if typ, _, ok := strings.Cut(who.FHIRUser, "/"); ok && slices.Contains(agentTypes, typ) {
		return agentJSON{Type: informant, Who: reference{Reference: who.FHIRUser}}, true
	}
	if who.ClientID != "" {
		return agentJSON{Type: informant, Who: reference{Identifier: &identifierJSON{System: audit.SystemClient, Value: who.ClientID}}}, true
	}
	return agentJSON{}, false
}

// targets are the versioned references of p's Observations that this
// request wrote.
func (p *provenance) targets() []string {
	var out []string
	for _, st := range p.obs {
		if st.next != nil {
			out = append(out, "Observation/"+st.id+"/_history/"+strconv.FormatInt(st.next.Version, 10))
		}
	}
	return out
}

// build makes p's next version over stored (nil: none), or nil when stored
// already says the same.
func (s *Service) buildProvenance(p *provenance, targets []string, who *audit.Who, stored *fhir.Resource) (*fhir.Resource, error) {
	var version int64 = 1
	var prev time.Time
	if stored != nil {
		version, prev = stored.Version+1, stored.LastUpdated
		if !stored.Deleted {
			var old struct {
				Recorded string `json:"recorded"`
			}
			if err := json.Unmarshal(stored.JSON, &old); err != nil {
				return nil, fmt.Errorf("ingest: stored Provenance/%s: %w", stored.ID, err)
			}
			same, _ := json.Marshal(provenanceDoc(p, targets, who, stored.Version, stored.LastUpdated, old.Recorded))
			if bytes.Equal(same, stored.JSON) {
				return nil, nil
			}
		}
	}
	t := fhir.NextLastUpdated(s.now(), prev)
	b, err := json.Marshal(provenanceDoc(p, targets, who, version, t, t.UTC().Format(fhir.InstantFormat)))
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	return &fhir.Resource{Type: "Provenance", ID: p.id, Version: version, LastUpdated: t, Method: http.MethodPut, JSON: b}, nil
}

// provenanceWrites are the writes of the Binaries and Provenances of
// srcs that the store does not hold yet.
func (s *Service) provenanceWrites(ctx context.Context, srcs []*source, who *audit.Who) ([]storage.Write, error) {
	var refs []storage.Ref
	for _, src := range srcs {
		refs = append(refs, storage.Ref{Type: "Binary", ID: src.binary.ID})
		for _, p := range src.provs {
			refs = append(refs, storage.Ref{Type: "Provenance", ID: p.id})
		}
	}
	current, err := s.store.ReadCurrent(ctx, refs)
	if err != nil {
		return nil, err
	}
	stored := map[string]*fhir.Resource{}
	for i := range current {
		stored[current[i].Type+"/"+current[i].ID] = &current[i]
	}
	var ws []storage.Write
	seen := map[string]bool{}
	for _, src := range srcs {
		// Two devices of one message in one patient share the Binary.
		if key := "Binary/" + src.binary.ID; stored[key] == nil && !seen[key] {
			seen[key] = true
			w, err := s.indexed(src.binary, 0)
			if err != nil {
				return nil, err
			}
			ws = append(ws, w)
		}
		for _, p := range src.provs {
			cur := stored["Provenance/"+p.id]
			if p.written, err = s.buildProvenance(p, p.targets(), who, cur); err != nil {
				return nil, err
			}
			if p.written == nil {
				continue
			}
			if cur != nil {
				p.expected = cur.Version
			}
			w, err := s.indexed(p.written, p.expected)
			if err != nil {
				return nil, err
			}
			ws = append(ws, w)
		}
	}
	return ws, nil
}

// indexed is the write of r over version expected, with its index.
func (s *Service) indexed(r *fhir.Resource, expected int64) (storage.Write, error) {
	idx, err := s.extractor.Extract(r.Type, r.JSON)
	if err != nil {
		return storage.Write{}, err
	}
	return storage.Write{Resource: *r, Expected: expected, Index: idx}, nil
}
