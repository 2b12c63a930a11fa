package ingest

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/medbridge/medbridge/audit"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/ingest/mqtt"
	"github.com/medbridge/medbridge/storage"
)

// The audit record of an ingest request. The caller describes the request
// (type, who, start, source, an entity naming it); the batch adds what it
// did — the mapping, the Binaries and Provenances it wrote, the patients
// of the readings, the outcome — and commits the AuditEvent in the same
// WriteBatch as the readings. A request whose record cannot be written
// fails (re-sending is safe). A request that changed nothing is recorded
// too: it is an attempt.

// complete fills in what the batch did: ev.Action, End, Outcome,
// Description, the mapping and the Binaries and Provenances of ws as
// entities, the readings' patients.
func (b *batch) complete(ev *audit.Event, ws []storage.Write) *audit.Event {
	ev.Action = audit.Create
	ev.End = b.s.now()
	ev.Outcome = audit.Success
	if n := len(b.rejected); n > 0 {
		ev.Outcome = audit.MinorFailure
		ev.Description = fmt.Sprintf("%d of %d messages rejected (dead-lettered)", n, len(b.messages))
	}
	ev.Entities = append(ev.Entities, audit.Entity{Name: "mapping " + b.m.Name})
	for _, w := range ws {
		r := w.Resource
		ev.Entities = append(ev.Entities, audit.Entity{Reference: r.Type + "/" + r.ID + "/_history/" + strconv.FormatInt(r.Version, 10)})
	}
	for _, id := range b.order {
		for _, rd := range b.obs[id].readings {
			if p, ok := strings.CutPrefix(rd.patient, "Patient/"); ok && !slices.Contains(ev.Patients, p) {
				ev.Patients = append(ev.Patients, p)
			}
		}
	}
	return ev
}

// auditWrite is the store write of ev as a new AuditEvent.
func (s *Service) auditWrite(ev *audit.Event) (storage.Write, error) {
	r := ev.Resource(uuid.NewString(), fhir.NextLastUpdated(s.now(), time.Time{}))
	return s.indexed(&r, 0)
}

// mqttEvent is the audit record of a message from the MQTT broker: the
// subscriber's session is the client, the broker the address, the topic
// names the request.
func (s *Service) mqttEvent(ctx context.Context) *audit.Event {
	ev := &audit.Event{Type: audit.Import, Start: s.now(), Source: s.baseURL, Who: audit.Who{ClientID: "mqtt"}}
	o, ok := mqtt.OriginOf(ctx)
	if !ok {
		ev.Entities = []audit.Entity{{Name: "mqtt message"}}
		return ev
	}
	ev.Who.ClientID = "mqtt:" + o.ClientID
	if u, err := url.Parse(o.Broker); err == nil {
		ev.Who.Address = u.Hostname()
	}
	ev.Entities = []audit.Entity{{Name: "mqtt message on topic " + o.Topic}}
	return ev
}
