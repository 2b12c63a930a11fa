package scope

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

// outcome is a Decision in a form tests write easily: refused (with a
// reason, matched exactly when it starts with "the "), or allowed with a
// compartment and constraints written as queries.
type outcome struct {
	allowed     bool
	reason      string
	compartment string
	constraints []string // nil: unconstrained
}

func allow(compartment string, constraints ...string) outcome {
	return outcome{allowed: true, compartment: compartment, constraints: constraints}
}

func refuse(reason string) outcome { return outcome{reason: reason} }

func checkDecision(t *testing.T, what string, got Decision, want outcome) {
	t.Helper()
	if got.Allowed != want.allowed {
		t.Fatalf("%s: Allowed = %v (reason %q), want %v", what, got.Allowed, got.Reason, want.allowed)
	}
	if !want.allowed {
		exact := strings.HasPrefix(want.reason, "the ")
		if got.Reason == "" || (exact && got.Reason != want.reason) || (!exact && !strings.Contains(got.Reason, want.reason)) {
			t.Errorf("%s: Reason = %q, want %q", what, got.Reason, want.reason)
		}
		if got.Compartment != "" || got.Constraints != nil {
			t.Errorf("%s: a refusal with compartment %q and constraints %v", what, got.Compartment, got.Constraints)
		}
		return
	}
	if got.Reason != "" {
		t.Errorf("%s: allowed with reason %q", what, got.Reason)
	}
	if got.Compartment != want.compartment {
		t.Errorf("%s: Compartment = %q, want %q", what, got.Compartment, want.compartment)
	}
	var gotQ []string
	for _, q := range got.Constraints {
		gotQ = append(gotQ, encodeQuery(q))
	}
	if (gotQ == nil) != (want.constraints == nil) || !slices.Equal(gotQ, want.constraints) {
		t.Errorf("%s: Constraints = %q, want %q", what, gotQ, want.constraints)
	}
}

var (
	readObs      = Request{Interaction: Read, Type: "Observation"}
	vreadObs     = Request{Interaction: VRead, Type: "Observation"}
	historyObs   = Request{Interaction: HistoryInstance, Type: "Observation"}
	historyType  = Request{Interaction: HistoryType, Type: "Observation"}
	historyAll   = Request{Interaction: HistorySystem}
	searchObs    = Request{Interaction: SearchType, Type: "Observation"}
	searchAll    = Request{Interaction: SearchSystem}
	createObs    = Request{Interaction: Create, Type: "Observation"}
	updateObs    = Request{Interaction: Update, Type: "Observation"}
	patchObs     = Request{Interaction: Patch, Type: "Observation"}
	deleteObs    = Request{Interaction: Delete, Type: "Observation"}
	lastn        = Request{Interaction: Operation, Type: "Observation", Name: "$lastn"}
	stats        = Request{Interaction: Operation, Type: "Observation", Name: "stats"}
	everything   = Request{Interaction: Operation, Type: "Patient", Name: "$everything"}
	validateObs  = Request{Interaction: Operation, Type: "Observation", Name: "$validate"}
	metaAddObs   = Request{Interaction: Operation, Type: "Observation", Name: "$meta-add", Writes: true}
	exportSystem = Request{Interaction: Operation, Name: "$export"}
	readPatient  = Request{Interaction: Read, Type: "Patient"}
)

// TestDecideInteractions runs every interaction against typical grants.
func TestDecideInteractions(t *testing.T) {
	all := []Request{readObs, vreadObs, historyObs, historyType, historyAll, searchObs, searchAll,
		createObs, updateObs, patchObs, deleteObs, lastn, stats, everything, validateObs, metaAddObs, exportSystem, readPatient}
	tests := []struct {
		name    string
		scopes  string
		patient string
		want    []outcome // one per request of all
	}{
		{
			"patient app reading", "launch/patient openid patient/*.rs", "p1",
			[]outcome{
				allow("p1"), allow("p1"), allow("p1"), allow("p1"), allow("p1"), allow("p1"), allow("p1"),
				refuse("the token's scopes do not allow creating Observation (needs patient/Observation.c)"),
				refuse("the token's scopes do not allow updating Observation (needs patient/Observation.u)"),
				refuse("the token's scopes do not allow patching Observation (needs patient/Observation.u)"),
				refuse("the token's scopes do not allow deleting Observation (needs patient/Observation.d)"),
				allow("p1"), allow("p1"), allow("p1"), allow("p1"),
				refuse("the token's scopes do not allow running $meta-add on Observation (needs patient/Observation.cud)"),
				allow("p1"), allow("p1"),
			},
		},
		{
			"patient app v1 read", "patient/*.read", "p1",
			[]outcome{
				allow("p1"), allow("p1"), allow("p1"), allow("p1"), allow("p1"), allow("p1"), allow("p1"),
				refuse("creating"), refuse("updating"), refuse("patching"), refuse("deleting"),
				allow("p1"), allow("p1"), allow("p1"), allow("p1"), refuse("$meta-add"), allow("p1"), allow("p1"),
			},
		},
		{
			"patient app without patient context", "patient/*.cruds", "",
			[]outcome{
				refuse("the token has no patient context, so its patient/ scopes do not allow reading Observation"),
				refuse("no patient context"), refuse("no patient context"), refuse("no patient context"),
				refuse("the token has no patient context, so its patient/ scopes do not allow reading the history of the whole server"),
				refuse("no patient context"),
				refuse("the token has no patient context, so its patient/ scopes do not allow searching the whole server"),
				refuse("no patient context"), refuse("no patient context"), refuse("no patient context"), refuse("no patient context"),
				refuse("no patient context"), refuse("no patient context"), refuse("no patient context"), refuse("no patient context"),
				refuse("no patient context"), refuse("no patient context"), refuse("no patient context"),
			},
		},
		{
			"user full access", "launch openid fhirUser user/*.cruds", "p1",
			[]outcome{
				allow(""), allow(""), allow(""), allow(""), allow(""), allow(""), allow(""), allow(""), allow(""),
				allow(""), allow(""), allow(""), allow(""), allow(""), allow(""), allow(""), allow(""), allow(""),
			},
		},
		{
			"user v1 write only", "user/*.write", "",
			[]outcome{
				refuse("the token's scopes do not allow reading Observation (needs user/Observation.r)"),
				refuse("user/Observation.r)"), refuse("user/Observation.r)"),
				refuse("the token's scopes do not allow reading the history of all Observation resources (needs user/Observation.s)"),
				refuse("the token's scopes do not allow reading the history of the whole server (needs user/*.s)"),
				refuse("the token's scopes do not allow searching Observation (needs user/Observation.s)"),
				refuse("the token's scopes do not allow searching the whole server (needs user/*.s)"),
				allow(""), allow(""), allow(""), allow(""),
				refuse("the token's scopes do not allow running $lastn on Observation (needs user/Observation.s)"),
				refuse("running $stats on Observation"),
				refuse("the token's scopes do not allow running $everything on Patient (needs user/Patient.s)"),
				refuse("the token's scopes do not allow running $validate on Observation (needs user/Observation.rs)"),
				allow(""),
				refuse("the token's scopes do not allow running $export on the whole server (needs user/*.rs)"),
				refuse("reading Patient"),
			},
		},
		{
			"system one type", "system/Observation.rs", "",
			[]outcome{
				allow(""), allow(""), allow(""), allow(""),
				refuse("the token's scopes do not allow reading the history of the whole server (needs system/*.s)"),
				allow(""), refuse("system/*.s"),
				refuse("system/Observation.c"), refuse("system/Observation.u"), refuse("system/Observation.u"), refuse("system/Observation.d"),
				allow(""), allow(""), refuse("system/Patient.s"), allow(""), refuse("system/Observation.cud"), refuse("system/*.rs"),
				refuse("the token's scopes do not allow reading Patient (needs system/Patient.r)"),
			},
		},
		{
			"read without search", "patient/Observation.r patient/Patient.r", "p1",
			[]outcome{
				allow("p1"), allow("p1"), allow("p1"),
				refuse("the token's scopes do not allow reading the history of all Observation resources (needs patient/Observation.s)"),
				refuse("patient/*.s"), refuse("patient/Observation.s"), refuse("patient/*.s"),
				refuse("creating"), refuse("updating"), refuse("patching"), refuse("deleting"),
				refuse("patient/Observation.s"), refuse("patient/Observation.s"), refuse("patient/Patient.s"),
				refuse("the token's scopes do not allow running $validate on Observation (needs patient/Observation.rs)"),
				refuse("patient/Observation.cud"), refuse("patient/*.rs"), allow("p1"),
			},
		},
		{
			"write without read", "patient/Observation.cu patient/Observation.d", "p1",
			[]outcome{
				refuse("reading"), refuse("reading"), refuse("reading"), refuse("history"), refuse("history"),
				refuse("searching"), refuse("searching"),
				allow("p1"), allow("p1"), allow("p1"), allow("p1"),
				refuse("$lastn"), refuse("$stats"), refuse("$everything"), refuse("$validate"), allow("p1"), refuse("$export"),
				refuse("reading Patient"),
			},
		},
		{
			"no clinical scopes", "openid fhirUser offline_access", "p1",
			[]outcome{
				refuse("the token's scopes do not allow reading Observation (needs patient/Observation.r, user/Observation.r or system/Observation.r)"),
				refuse("reading"), refuse("reading"), refuse("history"),
				refuse("the token's scopes do not allow reading the history of the whole server (needs patient/*.s, user/*.s or system/*.s)"),
				refuse("searching"), refuse("searching"),
				refuse("creating"), refuse("updating"), refuse("patching"), refuse("deleting"),
				refuse("$lastn"), refuse("$stats"), refuse("$everything"), refuse("$validate"), refuse("$meta-add"), refuse("$export"),
				refuse("reading Patient"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.want) != len(all) {
				t.Fatalf("%d outcomes for %d requests", len(tt.want), len(all))
			}
			g := Grant{Scopes: mustParse(t, tt.scopes), Patient: tt.patient}
			for i, r := range all {
				checkDecision(t, string(r.Interaction)+" "+r.Type+" "+r.Name, Decide(g, r), tt.want[i])
			}
		})
	}
}

// TestDecideScopes covers how scopes combine: wildcards, levels, patient
// context and query constraints.
func TestDecideScopes(t *testing.T) {
	const lab = "category=laboratory"
	tests := []struct {
		name    string
		scopes  string
		patient string
		req     Request
		want    outcome
	}{
		{"type scope", "patient/Observation.rs", "p1", searchObs, allow("p1")},
		{"other type", "patient/Observation.rs", "p1", Request{Interaction: SearchType, Type: "Condition"},
			refuse("the token's scopes do not allow searching Condition (needs patient/Condition.s)")},
		{"type scope does not reach the server", "user/Observation.s", "", searchAll, refuse("user/*.s")},
		{"wildcard reaches the server", "system/*.s", "", searchAll, allow("")},
		{"suggestions follow the grant's levels", "patient/Condition.rs user/Condition.rs", "p1", readObs,
			refuse("the token's scopes do not allow reading Observation (needs patient/Observation.r or user/Observation.r)")},

		{"user scope lifts the compartment", "patient/*.rs user/Observation.rs", "p1", readObs, allow("")},
		{"system scope lifts the compartment", "patient/*.rs system/Observation.r", "p1", readObs, allow("")},
		{"user scope works without patient context", "patient/*.rs user/Observation.rs", "", readObs, allow("")},
		{"user scope of another type does not lift", "patient/*.rs user/Condition.rs", "p1", readObs, allow("p1")},
		{"user scope prevails with its query", "patient/Observation.rs user/Observation.rs?" + lab, "p1", searchObs, allow("", lab)},
		{"compartment from one letter", "user/Observation.r patient/Observation.s", "p1", validateObs, allow("p1")},

		{"query constrains", "patient/Observation.rs?" + vitals, "p1", searchObs, allow("p1", vitals)},
		{"query constrains reads", "patient/Observation.rs?" + vitals, "p1", readObs, allow("p1", vitals)},
		{"query constrains writes", "user/Observation.cu?" + lab, "", createObs, allow("", lab)},
		{"query on a wildcard", "patient/*.rs?_security=N", "p1", searchObs, allow("p1", "_security=N")},
		{"unconstrained scope lifts the query", "patient/Observation.rs?" + vitals + " patient/Observation.s", "p1", searchObs, allow("p1")},
		{"wildcard lifts the query", "patient/Observation.rs?" + vitals + " patient/*.s", "p1", searchObs, allow("p1")},
		{"lift is per permission", "patient/Observation.rs?" + vitals + " patient/Observation.s", "p1", readObs, allow("p1", vitals)},
		{"queries are ORed", "patient/Observation.rs?category=b patient/Observation.rs?category=a", "p1", searchObs,
			allow("p1", "category=a", "category=b")},
		{"narrower query is redundant", "patient/Observation.rs?category=a patient/Observation.s?category=a&status=final", "p1", searchObs,
			allow("p1", "category=a")},
		{"same query twice", "patient/Observation.s?category=a patient/*.s?category=a", "p1", searchObs, allow("p1", "category=a")},
		{"queries of two permissions are ANDed", "patient/Observation.r?category=a patient/Observation.s?status=final", "p1", validateObs,
			allow("p1", "category=a&status=final")},
		{"ORed and ANDed", "patient/Observation.r?category=a patient/Observation.r?category=b patient/Observation.s?status=final", "p1", validateObs,
			allow("p1", "category=a&status=final", "category=b&status=final")},
		{"query with a query-less permission", "patient/Observation.r?category=a patient/Observation.s", "p1", validateObs,
			allow("p1", "category=a")},

		{"update that creates needs u", "patient/Observation.u", "p1", updateObs, allow("p1")},
		{"create is not update", "patient/Observation.c", "p1", updateObs, refuse("needs patient/Observation.u")},
		{"operation name without $", "patient/Observation.s", "p1", Request{Interaction: Operation, Type: "Observation", Name: "lastn"}, allow("p1")},

		{"read without type", "user/*.cruds", "", Request{Interaction: Read}, refuse("invalid request: read needs a resource type")},
		{"system search with type", "user/*.cruds", "", Request{Interaction: SearchSystem, Type: "Observation"},
			refuse("invalid request: search-system takes no resource type")},
		{"history-system with type", "user/*.cruds", "", Request{Interaction: HistorySystem, Type: "Observation"}, refuse("takes no resource type")},
		{"wildcard type", "user/*.cruds", "", Request{Interaction: Read, Type: "*"}, refuse(`invalid request: "*" is not a resource type`)},
		{"lower-case type", "user/*.cruds", "", Request{Interaction: Read, Type: "observation"}, refuse("is not a resource type")},
		{"unknown interaction", "user/*.cruds", "", Request{Interaction: "transaction"}, refuse(`invalid request: unknown interaction "transaction"`)},
		{"operation without name", "user/*.cruds", "", Request{Interaction: Operation, Type: "Observation", Name: "$"},
			refuse("invalid request: operation without a name")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := Grant{Scopes: mustParse(t, tt.scopes), Patient: tt.patient}
			checkDecision(t, tt.scopes, Decide(g, tt.req), tt.want)
		})
	}
}

func TestDecideConstraintsAreCopies(t *testing.T) {
	g := Grant{Scopes: mustParse(t, "user/Observation.rs?category=a")}
	d := Decide(g, searchObs)
	d.Constraints[0].Set("category", "b")
	if got := g.Scopes.String(); got != "user/Observation.rs?category=a" {
		t.Errorf("changing Constraints changed the grant: %q", got)
	}
	if again := Decide(g, searchObs); encodeQuery(again.Constraints[0]) != "category=a" {
		t.Errorf("changing Constraints changed later decisions: %v", again.Constraints)
	}
}

func TestIngest(t *testing.T) {
	tests := []struct {
		name        string
		scopes      string
		patient     string
		obs, device outcome
	}{
		{"patient device app", "patient/Observation.c patient/Device.cu", "p1", allow("p1"), allow("p1")},
		{"system ingester", "system/Observation.c system/Device.cu", "", allow(""), allow("")},
		{"wildcard", "system/*.cruds", "", allow(""), allow("")},
		{"device create only", "system/Observation.c system/Device.c", "",
			allow(""), refuse("the token's scopes do not allow creating and updating Device (needs system/Device.cu)")},
		{"no observation create", "system/Observation.rs system/Device.cu", "",
			refuse("the token's scopes do not allow creating Observation (needs system/Observation.c)"), allow("")},
		{"no patient context", "patient/Observation.c patient/Device.cu", "",
			refuse("the token has no patient context, so its patient/ scopes do not allow creating Observation"),
			refuse("the token has no patient context, so its patient/ scopes do not allow creating and updating Device")},
		{"device confined by one letter", "patient/Observation.c user/Device.c patient/Device.u", "p1", allow("p1"), allow("p1")},
		{"constraints", "user/Observation.c?" + vitals + " user/Device.c?type=a user/Device.u", "",
			allow("", vitals), allow("", "type=a")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs, dev := Ingest(Grant{Scopes: mustParse(t, tt.scopes), Patient: tt.patient})
			checkDecision(t, "observation", obs, tt.obs)
			checkDecision(t, "device", dev, tt.device)
		})
	}
}

func TestAnd(t *testing.T) {
	q := func(s string) url.Values {
		v, err := parseQuery(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	got := and([]url.Values{q("a=1"), q("a=2")}, []url.Values{q("b=1"), q("a=1")})
	var enc []string
	for _, v := range got {
		enc = append(enc, encodeQuery(v))
	}
	// a=1&b=1 and a=1&a=2 are narrower than a=1 (from a=1 AND a=1): they go.
	want := []string{"a=1", "a=2&b=1"}
	if !slices.Equal(enc, want) {
		t.Errorf("and = %q, want %q", enc, want)
	}
	if and(nil, nil) != nil {
		t.Error("and(nil, nil) is not nil")
	}
}
