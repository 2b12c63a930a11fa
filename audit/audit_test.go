package audit_test

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/medbridge/medbridge/audit"
	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// TestEventIsValidAndSearchable builds each kind of record, parses it with
// the R4 codec (structure and value checks) and extracts its search index
// with the spec's AuditEvent parameters: an auditor must find it by
// patient, agent, client (altid), entity, subtype, action, outcome and
// date.
func TestEventIsValidAndSearchable(t *testing.T) {
	codec, err := fhir.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := conformance.Load()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	end := start.Add(3 * time.Millisecond)
	cases := []struct {
		name  string
		event audit.Event
		want  []string // param=value index entries that must exist
	}{
		{
			name: "read by a practitioner through an app",
			event: audit.Event{
				Type: audit.REST, Subtype: []audit.Coding{audit.Interaction("read")}, Action: audit.Read,
				Start: start, End: end, Outcome: audit.Success,
				Who:      audit.Who{ClientID: "growth-chart", Subject: "alice", FHIRUser: "Practitioner/p1", Address: "10.0.0.7"},
				Source:   "http://127.0.0.1:8080/fhir",
				Entities: []audit.Entity{{Reference: "Observation/o1/_history/2"}},
				Patients: []string{"p7", "p7"},
			},
			want: []string{"patient=Patient/p7", "agent=Practitioner/p1", "altid=growth-chart", "altid=alice",
				"entity=Observation/o1", "subtype=read", "action=R", "outcome=0", "type=rest", "address=10.0.0.7", "entity-role=1", "entity-type=1"},
		},
		{
			name: "refused search without a token",
			event: audit.Event{
				Type: audit.REST, Subtype: []audit.Coding{audit.Interaction("search-type")}, Action: audit.Execute,
				Start: start, End: end, Outcome: audit.OutcomeOf(401), Description: "this server requires a bearer access token",
				Who:      audit.Who{Address: "::1"},
				Source:   "http://127.0.0.1:8080/fhir",
				Entities: []audit.Entity{{Query: "/fhir/Observation?subject=Patient/p7&code=8867-4"}},
				Patients: []string{"p7"},
			},
			want: []string{"patient=Patient/p7", "outcome=4", "entity-role=24", "subtype=search-type", "action=E", "address=::1"},
		},
		{
			name: "backend ingest",
			event: audit.Event{
				Type: audit.Import, Action: audit.Create, End: end, Outcome: audit.Success,
				Who:      audit.Who{ClientID: "gateway-3"},
				Source:   "http://127.0.0.1:8080/fhir",
				Entities: []audit.Entity{{Name: "omh"}, {Reference: "Binary/b1"}},
			},
			want: []string{"agent:identifier=" + audit.SystemClient + "|gateway-3", "type=110107", "entity=Binary/b1", "entity-name=omh"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.event.Resource("a1", end)
			if r.Type != "AuditEvent" || r.ID != "a1" || r.Version != 1 {
				t.Fatalf("resource %s/%s v%d", r.Type, r.ID, r.Version)
			}
			p, err := codec.Parse(r.JSON)
			if err != nil {
				t.Fatalf("not a valid AuditEvent: %v\n%s", err, r.JSON)
			}
			if p.Type != "AuditEvent" || p.ID() != "a1" {
				t.Errorf("parsed %s/%s", p.Type, p.ID())
			}
			idx, err := storage.Extract(spec, "AuditEvent", r.JSON)
			if err != nil {
				t.Fatal(err)
			}
			var have []string
			for _, e := range idx {
				switch {
				case e.RefType != "":
					have = append(have, e.Param+"="+e.RefType+"/"+e.RefID)
				case e.Type == conformance.ParamReference && e.Code != "":
					have = append(have, e.Param+":identifier="+e.System+"|"+e.Code)
				case e.Code != "":
					have = append(have, e.Param+"="+e.Code)
				case e.Exact != "":
					have = append(have, e.Param+"="+e.Exact)
				}
			}
			for _, w := range tc.want {
				if !slices.Contains(have, w) {
					t.Errorf("no index entry %s; have %v", w, have)
				}
			}
			if !slices.ContainsFunc(idx, func(e storage.IndexEntry) bool { return e.Param == "date" && e.Start == end.UnixMicro() }) {
				t.Errorf("date (recorded) not indexed at %v", end)
			}
		})
	}
}

// TestQueryEntity keeps the request readable and base64-encoded, as R4
// asks, and names each patient once.
func TestQueryEntity(t *testing.T) {
	e := audit.Event{Type: audit.REST, Action: audit.Execute, End: time.Now(), Outcome: audit.Success,
		Entities: []audit.Entity{{Query: "/fhir/Patient?name=Ann"}}, Patients: []string{"b", "a", "b"}}
	var doc struct {
		Entity []struct {
			What        *struct{ Reference string }
			Query       string
			Description string
		}
		Agent []struct{ Requestor bool }
	}
	if err := json.Unmarshal(e.Resource("x", time.Now()).JSON, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Entity) != 3 {
		t.Fatalf("want a query and 2 patients, got %+v", doc.Entity)
	}
	q, _ := base64.StdEncoding.DecodeString(doc.Entity[0].Query)
	if string(q) != "/fhir/Patient?name=Ann" || doc.Entity[0].Description != "/fhir/Patient?name=Ann" {
		t.Errorf("query entity %+v", doc.Entity[0])
	}
	if doc.Entity[1].What.Reference != "Patient/a" || doc.Entity[2].What.Reference != "Patient/b" {
		t.Errorf("patients %+v %+v", doc.Entity[1].What, doc.Entity[2].What)
	}
	if len(doc.Agent) != 1 || !doc.Agent[0].Requestor {
		t.Errorf("an unauthenticated request has one requestor agent: %+v", doc.Agent)
	}
}
