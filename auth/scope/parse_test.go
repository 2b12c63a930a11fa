package scope

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func mustParse(t testing.TB, text string) Set {
	t.Helper()
	s, err := Parse(text)
	if err != nil {
		t.Fatalf("Parse(%q): %v", text, err)
	}
	return s
}

func TestParseClinical(t *testing.T) {
	vital := url.Values{"category": {"http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"}}
	tests := []struct {
		in   string
		want Clinical
		text string // canonical text
	}{
		{"patient/*.read", Clinical{Patient, "*", PermRead | PermSearch, nil, true}, "patient/*.read"},
		{"patient/Observation.write", Clinical{Patient, "Observation", PermCreate | PermUpdate | PermDelete, nil, true}, "patient/Observation.write"},
		{"user/*.*", Clinical{User, "*", PermCreate | PermRead | PermUpdate | PermDelete | PermSearch, nil, true}, "user/*.*"},
		{"system/Patient.read", Clinical{System, "Patient", PermRead | PermSearch, nil, true}, "system/Patient.read"},
		{"patient/*.rs", Clinical{Patient, "*", PermRead | PermSearch, nil, false}, "patient/*.rs"},
		{"user/Observation.cruds", Clinical{User, "Observation", 31, nil, false}, "user/Observation.cruds"},
		{"patient/Observation.c", Clinical{Patient, "Observation", PermCreate, nil, false}, "patient/Observation.c"},
		{"patient/Observation.r", Clinical{Patient, "Observation", PermRead, nil, false}, "patient/Observation.r"},
		{"patient/Observation.u", Clinical{Patient, "Observation", PermUpdate, nil, false}, "patient/Observation.u"},
		{"patient/Observation.d", Clinical{Patient, "Observation", PermDelete, nil, false}, "patient/Observation.d"},
		{"patient/Observation.s", Clinical{Patient, "Observation", PermSearch, nil, false}, "patient/Observation.s"},
		{"system/Device.cu", Clinical{System, "Device", PermCreate | PermUpdate, nil, false}, "system/Device.cu"},
		{"user/Encounter.crd", Clinical{User, "Encounter", PermCreate | PermRead | PermDelete, nil, false}, "user/Encounter.crd"},
		{"user/Encounter.us", Clinical{User, "Encounter", PermUpdate | PermSearch, nil, false}, "user/Encounter.us"},
		{
			"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs",
			Clinical{Patient, "Observation", PermRead | PermSearch, vital, false},
			"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs",
		},
		{
			// parameters sort; values of one parameter sort and repeats go
			"patient/Observation.rs?status=final&category=b&category=a&category=b",
			Clinical{Patient, "Observation", PermRead | PermSearch, url.Values{"category": {"a", "b"}, "status": {"final"}}, false},
			"patient/Observation.rs?category=a&category=b&status=final",
		},
		{
			// escapes are read as in a URL query and written back only where needed
			"user/Observation.s?code%3Ain=http%3A%2F%2Fx%2FValueSet%2Fa&note=a%26b%2Bc%20d",
			Clinical{User, "Observation", PermSearch, url.Values{"code:in": {"http://x/ValueSet/a"}, "note": {"a&b+c d"}}, false},
			"user/Observation.s?code:in=http://x/ValueSet/a&note=a%26b%2Bc%20d",
		},
		{
			"patient/Observation.rs?patient.birthdate=1990&value=a=b",
			Clinical{Patient, "Observation", PermRead | PermSearch, url.Values{"patient.birthdate": {"1990"}, "value": {"a=b"}}, false},
			"patient/Observation.rs?patient.birthdate=1990&value=a=b",
		},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s := mustParse(t, tt.in)
			got := s.Clinical()
			if len(got) != 1 || !reflect.DeepEqual(got[0], tt.want) {
				t.Fatalf("Parse(%q).Clinical() = %#v, want [%#v]", tt.in, got, tt.want)
			}
			if s.String() != tt.text {
				t.Errorf("String() = %q, want %q", s.String(), tt.text)
			}
			if !s.Has(tt.text) {
				t.Errorf("Has(%q) = false", tt.text)
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	tests := []struct{ in, reason string }{
		// levels
		{"Patient/*.read", "level"},
		{"practitioner/Observation.rs", "level"},
		{"USER/Observation.read", "level"},
		{"patients/*.rs", "level"},
		// types
		{"patient/.read", "resource type"},
		{"patient/observation.read", "resource type"},
		{"patient/Observation1.read", "resource type"},
		{"user/**.read", "resource type"},
		{"system/", "resource type"},
		{"patient/Obs-ervation.rs", "resource type"},
		// permissions
		{"patient/*", "no permissions"},
		{"patient/Observation", "no permissions"},
		{"patient/*.", "neither"},
		{"patient/Observation.x", "neither"},
		{"patient/Observation.rsc", "neither"},
		{"patient/Observation.sr", "neither"},
		{"patient/Observation.dus", "neither"},
		{"patient/Observation.rr", "neither"},
		{"patient/Observation.crudss", "neither"},
		{"patient/Observation.R", "neither"},
		{"patient/Observation.Read", "neither"},
		{"patient/Observation.reads", "neither"},
		{"patient/Observation.rw", "neither"},
		{"patient/Observation.**", "neither"},
		{"patient/Observation.rs.x", "neither"},
		{"patient/Observation.?category=a", "neither"},
		// queries
		{"patient/Observation.read?category=a", "SMART v2"},
		{"patient/Observation.write?category=a", "SMART v2"},
		{"patient/Observation.*?category=a", "SMART v2"},
		{"patient/Observation.rs?", "empty query"},
		{"patient/Observation.rs?category", "not param=value"},
		{"patient/Observation.rs?category=a&", "not param=value"},
		{"patient/Observation.rs?category=a&&status=final", "not param=value"},
		{"patient/Observation.rs?=a", "both a parameter and a value"},
		{"patient/Observation.rs?category=", "both a parameter and a value"},
		{"patient/Observation.rs?category=%zz", "query value"},
		{"patient/Observation.rs?cat%g=a", "query parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			text := "openid " + tt.in + " launch"
			_, err := Parse(text)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error = %v, want a *SyntaxError", text, err)
			}
			if se.Scope != tt.in || !strings.Contains(err.Error(), tt.in) {
				t.Errorf("error %q does not name the scope %q", err, tt.in)
			}
			if !strings.Contains(se.Reason, tt.reason) {
				t.Errorf("reason %q does not say %q", se.Reason, tt.reason)
			}
		})
	}
}

func TestParseNonClinical(t *testing.T) {
	in := "  openid fhirUser\tprofile launch launch/patient launch/encounter offline_access online_access " +
		"launch/diagnosticreport admin/users.read https://api.example.org/Foo.read custom:scope openid "
	s := mustParse(t, in)
	if c := s.Clinical(); len(c) != 0 {
		t.Fatalf("Clinical() = %v, want none", c)
	}
	want := "admin/users.read custom:scope fhirUser https://api.example.org/Foo.read launch launch/diagnosticreport " +
		"launch/encounter launch/patient offline_access online_access openid profile"
	if s.String() != want {
		t.Errorf("String() = %q, want %q", s.String(), want)
	}
	for _, name := range strings.Fields(in) {
		if !s.Has(name) {
			t.Errorf("Has(%q) = false", name)
		}
	}
	for _, name := range []string{"", "launch/", "open", "openid fhirUser", " openid", "patient/*.rs", "patient/*.sr"} {
		if s.Has(name) {
			t.Errorf("Has(%q) = true", name)
		}
	}
	if !s.Offline() || !s.Online() {
		t.Errorf("Offline() = %v, Online() = %v, want both", s.Offline(), s.Online())
	}
	if s.Kind() != "" {
		t.Errorf("Kind() = %q, want none", s.Kind())
	}
}

func TestParseEmpty(t *testing.T) {
	for _, in := range []string{"", " ", "\t\n"} {
		s := mustParse(t, in)
		if !s.Equal(Set{}) || s.String() != "" || s.Offline() || s.Online() {
			t.Errorf("Parse(%q) = %q, want the empty set", in, s)
		}
	}
}

// TestEquivalence checks SMART's scope equivalences: v1 words mean v2
// letters, and scopes compound or expand without changing access.
func TestEquivalence(t *testing.T) {
	tests := []struct {
		a, b  string
		equal bool // the same canonical set, not just the same access
	}{
		{"patient/*.read", "patient/*.rs", false},
		{"user/Observation.write", "user/Observation.cud", false},
		{"system/*.*", "system/*.cruds", false},
		{"patient/Observation.read patient/Observation.write", "patient/Observation.*", true},
		{"patient/Observation.read patient/Observation.write", "patient/Observation.cruds", false},
		{"patient/Observation.r patient/Observation.s", "patient/Observation.rs", true},
		{"patient/Observation.c patient/Observation.rs patient/Observation.ud", "patient/Observation.cruds", true},
		{"patient/Observation.rs patient/Observation.rs", "patient/Observation.rs", true},
		{"patient/Observation.read patient/Observation.rs", "patient/Observation.rs", true},
		{"patient/Observation.r?category=a patient/Observation.s?category=a", "patient/Observation.rs?category=a", true},
		{"patient/Observation.rs?status=final&category=a", "patient/Observation.rs?category=a&status=final", true},
		{"patient/Observation.rs?category=a%7Cb", "patient/Observation.rs?category=a|b", true},
		{"user/Patient.rs openid", "openid user/Patient.rs openid", true},
	}
	for _, tt := range tests {
		a, b := mustParse(t, tt.a), mustParse(t, tt.b)
		if !a.Covers(b) || !b.Covers(a) {
			t.Errorf("%q and %q do not cover each other", tt.a, tt.b)
		}
		if a.Equal(b) != tt.equal {
			t.Errorf("Equal(%q, %q) = %v, want %v (%q vs %q)", tt.a, tt.b, !tt.equal, tt.equal, a, b)
		}
	}
	// Different queries never merge: each is a separate grant.
	s := mustParse(t, "patient/Observation.rs?category=a patient/Observation.rs?category=b")
	if n := len(s.Clinical()); n != 2 {
		t.Errorf("two queries merged into %d scopes: %q", n, s)
	}
}

func TestStringRoundTrip(t *testing.T) {
	tests := []struct{ in, want string }{
		{
			"patient/Observation.rs openid launch/patient fhirUser offline_access patient/*.read",
			"fhirUser launch/patient offline_access openid patient/*.read patient/Observation.rs",
		},
		{
			"system/*.rs user/Patient.cruds patient/Observation.s?code=x patient/Observation.s",
			"patient/Observation.s patient/Observation.s?code=x user/Patient.cruds system/*.rs",
		},
		{
			"patient/Observation.read patient/Observation.c",
			"patient/Observation.crs",
		},
		{
			"patient/Observation.rs?note=%E2%9C%93%25",
			"patient/Observation.rs?note=%E2%9C%93%25",
		},
	}
	for _, tt := range tests {
		s := mustParse(t, tt.in)
		if s.String() != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, s, tt.want)
		}
		if again := mustParse(t, s.String()); !again.Equal(s) {
			t.Errorf("Parse(%q) = %q, want %q", s, again, s)
		}
	}
}

func TestKind(t *testing.T) {
	tests := []struct {
		in   string
		want Level
	}{
		{"openid fhirUser", ""},
		{"launch/patient patient/*.rs", Patient},
		{"launch patient/*.rs user/Practitioner.rs", User},
		{"system/*.rs", System},
		{"patient/Observation.rs system/Patient.r", System},
	}
	for _, tt := range tests {
		s := mustParse(t, tt.in)
		if got := s.Kind(); got != tt.want {
			t.Errorf("Parse(%q).Kind() = %q, want %q", tt.in, got, tt.want)
		}
		if tt.want != "" && !s.HasLevel(tt.want) {
			t.Errorf("Parse(%q).HasLevel(%q) = false", tt.in, tt.want)
		}
	}
	if s := mustParse(t, "user/*.rs"); s.HasLevel(Patient) {
		t.Error("user/*.rs has a patient/ scope")
	}
}

func TestClinicalIsACopy(t *testing.T) {
	s := mustParse(t, "patient/Observation.rs?category=a")
	c := s.Clinical()
	c[0].Query["category"][0] = "b"
	c[0].Query.Set("status", "final")
	if got := s.String(); got != "patient/Observation.rs?category=a" {
		t.Errorf("changing Clinical() changed the set: %q", got)
	}
}

func TestPermsString(t *testing.T) {
	tests := map[Perms]string{0: "", PermCreate: "c", PermRead | PermSearch: "rs", 31: "cruds", PermUpdate | PermDelete: "ud"}
	for p, want := range tests {
		if got := p.String(); got != want {
			t.Errorf("Perms(%d).String() = %q, want %q", p, got, want)
		}
	}
}
