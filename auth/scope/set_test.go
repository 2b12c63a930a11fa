package scope

import "testing"

const vitals = "category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"

func TestNarrow(t *testing.T) {
	tests := []struct {
		name, requested, allowed, want string
	}{
		{"exact", "patient/Observation.rs", "patient/Observation.rs", "patient/Observation.rs"},
		{"wildcard allowed covers a type", "patient/Observation.r", "patient/*.rs", "patient/Observation.r"},
		{"permissions shrink", "patient/Observation.cruds", "patient/*.rs", "patient/Observation.rs"},
		{"wildcard request narrows to allowed types", "patient/*.rs", "patient/Observation.rs patient/Condition.r", "patient/Condition.r patient/Observation.rs"},
		{"wildcard both", "user/*.cruds", "user/*.rs", "user/*.rs"},
		{"nothing allowed", "patient/Observation.rs", "patient/Condition.rs", ""},
		{"no common permission", "patient/Observation.cud", "patient/*.rs", ""},
		{"levels do not mix", "patient/Observation.rs", "user/*.cruds system/*.cruds", ""},
		{"level by level", "patient/*.rs user/Patient.r", "user/*.rs patient/Observation.s", "patient/Observation.s user/Patient.r"},
		{"union of allowed", "patient/*.cruds", "patient/*.rs patient/Observation.c", "patient/*.rs patient/Observation.c"},
		{"permissions from several allowed merge", "patient/Observation.rs", "patient/*.r patient/Observation.s", "patient/Observation.rs"},

		{"v1 kept when fully granted", "patient/*.read", "patient/*.rs", "patient/*.read"},
		{"v1 kept from v1 allowed", "patient/*.read", "patient/*.*", "patient/*.read"},
		{"v1 becomes v2 when cut", "patient/Observation.*", "patient/*.rs patient/Observation.c", "patient/Observation.crs"},
		{"v1 cut to a v1 set", "patient/Observation.*", "patient/*.cud", "patient/Observation.write"},
		{"v2 stays v2", "patient/Observation.rs", "patient/*.read", "patient/Observation.rs"},

		{"query requested under unconstrained allowed", "patient/Observation.rs?" + vitals, "patient/*.rs", "patient/Observation.rs?" + vitals},
		{"query allowed constrains the request", "patient/Observation.rs", "patient/Observation.rs?" + vitals, "patient/Observation.rs?" + vitals},
		{"narrower query requested", "patient/Observation.rs?category=a&status=final", "patient/Observation.rs?category=a", "patient/Observation.rs?category=a&status=final"},
		{"queries add up", "patient/Observation.rs?category=a", "patient/Observation.r?status=final", "patient/Observation.r?category=a&status=final"},
		{"v1 request under a query", "patient/Observation.read", "patient/Observation.rs?category=a", "patient/Observation.rs?category=a"},
		{"two allowed queries", "patient/Observation.rs", "patient/Observation.rs?category=a patient/Observation.rs?category=b",
			"patient/Observation.rs?category=a patient/Observation.rs?category=b"},
		{"wildcard query on a type", "patient/Observation.rs", "patient/*.rs?_security=N", "patient/Observation.rs?_security=N"},

		{"non-clinical kept when allowed", "openid fhirUser launch/patient offline_access custom patient/*.rs",
			"openid fhirUser launch/patient online_access patient/*.rs", "fhirUser launch/patient openid patient/*.rs"},
		{"nothing requested", "", "patient/*.cruds openid", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, allowed := mustParse(t, tt.requested), mustParse(t, tt.allowed)
			got := Narrow(req, allowed)
			if got.String() != tt.want {
				t.Errorf("Narrow(%q, %q) = %q, want %q", tt.requested, tt.allowed, got, tt.want)
			}
			checkNarrow(t, req, allowed, got)
		})
	}
}

// checkNarrow checks the contract of Narrow on one result.
func checkNarrow(t *testing.T, req, allowed, got Set) {
	t.Helper()
	if !req.Covers(got) {
		t.Errorf("requested %q does not cover Narrow = %q", req, got)
	}
	if !allowed.Covers(got) {
		t.Errorf("allowed %q does not cover Narrow = %q", allowed, got)
	}
	if allowed.Covers(req) && !got.Equal(req) {
		t.Errorf("allowed %q covers requested %q, but Narrow = %q", allowed, req, got)
	}
}

func TestCovers(t *testing.T) {
	tests := []struct {
		name, grant, request string
		want                 bool
	}{
		{"same", "patient/*.rs offline_access", "patient/*.rs offline_access", true},
		{"subset", "patient/*.rs launch/patient openid", "patient/Observation.r", true},
		{"empty request", "patient/*.rs", "", true},
		{"empty grant", "", "patient/Observation.r", false},
		{"wider permission", "patient/Observation.rs", "patient/Observation.rus", false},
		{"wider type", "patient/Observation.rs", "patient/*.rs", false},
		{"other type", "patient/Observation.rs", "patient/Condition.r", false},
		{"other level", "user/*.cruds", "patient/Observation.r", false},
		{"system does not cover user", "system/*.cruds", "user/Observation.r", false},
		{"new non-clinical scope", "patient/*.rs openid", "patient/*.rs openid fhirUser", false},
		{"offline not granted", "patient/*.rs online_access", "patient/*.rs offline_access", false},
		{"v1 and v2", "patient/*.read", "patient/Observation.rs", true},
		{"v1 write does not read", "patient/*.write", "patient/Observation.r", false},
		{"union of scopes", "patient/*.r patient/Observation.s", "patient/Observation.rs", true},
		{"union lacks a letter", "patient/*.r patient/Condition.s", "patient/Observation.rs", false},

		{"narrower query", "patient/Observation.rs?category=a", "patient/Observation.rs?category=a&status=final", true},
		{"same query", "patient/Observation.rs?" + vitals, "patient/Observation.rs?" + vitals, true},
		{"unconstrained covers a query", "patient/Observation.rs", "patient/Observation.rs?" + vitals, true},
		{"query does not cover unconstrained", "patient/Observation.rs?" + vitals, "patient/Observation.rs", false},
		{"other query value", "patient/Observation.rs?category=a", "patient/Observation.rs?category=b", false},
		{"other query parameter", "patient/Observation.rs?category=a", "patient/Observation.rs?status=final", false},
		{"two queries do not cover none", "patient/Observation.rs?category=a patient/Observation.rs?category=b", "patient/Observation.rs", false},
		{"either query", "patient/Observation.rs?category=a patient/Observation.rs?category=b", "patient/Observation.r?category=b", true},
		{"queries compare as written", "patient/Observation.rs?category=a,b", "patient/Observation.rs?category=a", false},
		{"wildcard with query", "patient/*.rs?_security=N", "patient/Observation.r?_security=N&category=a", true},
		{"letters from differently constrained scopes", "patient/Observation.r?category=a patient/Observation.s", "patient/Observation.rs?category=a", true},
		{"a letter only under another query", "patient/Observation.r?category=a patient/Observation.s", "patient/Observation.rs", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			grant, req := mustParse(t, tt.grant), mustParse(t, tt.request)
			if got := grant.Covers(req); got != tt.want {
				t.Errorf("Parse(%q).Covers(%q) = %v, want %v", tt.grant, tt.request, got, tt.want)
			}
		})
	}
}
