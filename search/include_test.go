package search

import (
	"fmt"
	"testing"
)

func TestInclude(t *testing.T) {
	incText := func(incs []Include) string {
		s := ""
		for _, inc := range incs {
			p := "*"
			if inc.Param != nil {
				p = inc.Param.Code + "@" + inc.Param.Base
			}
			s += fmt.Sprintf("[%s %s %s %v]", inc.SourceType, p, inc.TargetType, inc.Iterate)
		}
		return s
	}
	tests := []struct {
		types        []string
		query        string
		include, rev string
	}{
		{observation, "_include=Observation:subject", "[Observation subject@Observation  false]", ""},
		{observation, "_include=Observation:subject:Patient", "[Observation subject@Observation Patient false]", ""},
		{observation, "_include=Observation:subject,Observation:performer", "[Observation subject@Observation  false][Observation performer@Observation  false]", ""},
		{observation, "_include=Observation:subject&_include=Observation:encounter", "[Observation subject@Observation  false][Observation encounter@Observation  false]", ""},
		{observation, "_include=*", "[ *  false]", ""},
		{observation, "_include=Observation:*", "[Observation *  false]", ""},
		{observation, "_include:iterate=Patient:general-practitioner", "[Patient general-practitioner@Patient  true]", ""},
		{observation, "_include:recurse=Patient:organization", "[Patient organization@Patient  true]", ""},
		{observation, "_include=Patient:link:Patient:iterate", "[Patient link@Patient Patient true]", ""},
		{observation, "_include=Observation:subject&_include:iterate=Patient:organization", "[Observation subject@Observation  false][Patient organization@Patient  true]", ""},
		{patient, "_revinclude=Observation:subject", "", "[Observation subject@Observation  false]"},
		{patient, "_revinclude=Provenance:target:Patient", "", "[Provenance target@Provenance Patient false]"},
		{patient, "_revinclude:iterate=Observation:has-member", "", "[Observation has-member@Observation  true]"},
		{patient, "_revinclude=*", "", "[ *  false]"},
	}
	for _, tt := range tests {
		q := mustParse(t, tt.types, tt.query, Options{Strict: true})
		if got := incText(q.Include); got != tt.include {
			t.Errorf("%s: _include %s, want %s", tt.query, got, tt.include)
		}
		if got := incText(q.RevInclude); got != tt.rev {
			t.Errorf("%s: _revinclude %s, want %s", tt.query, got, tt.rev)
		}
	}
	runErrorCases(t, []errorCase{
		{observation, "_include=Observation", "_include"},
		{observation, "_include=Observation:code", "_include"}, // not a reference
		{observation, "_include=Observation:foo", "_include"},
		{observation, "_include=Foo:subject", "_include"},
		{observation, "_include=Observation:subject:Medication", "_include"},
		{observation, "_include=Observation:subject:Foo", "_include"},
		{observation, "_include=Observation:*:Patient", "_include"},
		{observation, "_include=a:b:c:d", "_include"},
		{observation, "_include:iterate=Observation:code", "_include:iterate"},
		{patient, "_revinclude=Observation:code", "_revinclude"},
		{patient, "_revinclude=Observation", "_revinclude"},
	})
	runUnknownCases(t, []unknownCase{
		{observation, "_include:foo=Observation:subject"},
	})
}
