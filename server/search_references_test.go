package server_test

import (
	"net/url"
	"testing"

	"github.com/medbridge/medbridge/server/servertest"
)

// TestSearchExternalReferences: an absolute reference is the local
// resource only under the server's own base; one to another server never
// matches a local id, is never included and never satisfies a chain.
func TestSearchExternalReferences(t *testing.T) {
	servertest.EachBackend(t, func(t *testing.T, b servertest.Backend) {
		srv := servertest.StartBackend(t, b)
		obs := func(id, ref string) string {
			return `{"resourceType":"Observation","id":"` + id + `","status":"final","code":{"text":"x"},"subject":{"reference":"` + ref + `"}}`
		}
		put(t, srv,
			`{"resourceType":"Patient","id":"ext-1","name":[{"family":"Local"}]}`,
			obs("x-other", "http://other.example.org/fhir/Patient/ext-1"),
			obs("x-relative", "Patient/ext-1"),
			obs("x-own-base", srv.Base+"/Patient/ext-1"),
		)
		runIDCases(t, srv, []idCase{
			{query: "/fhir/Observation?subject=Patient/ext-1", want: []string{"x-relative", "x-own-base"}},
			{query: "/fhir/Observation?subject=ext-1", want: []string{"x-relative", "x-own-base"}},
			{query: "/fhir/Observation?subject=" + url.QueryEscape(srv.Base+"/Patient/ext-1"), want: []string{"x-relative", "x-own-base"}},
			{query: "/fhir/Observation?subject=" + url.QueryEscape("http://other.example.org/fhir/Patient/ext-1"), want: []string{"x-other"}},
			{query: "/fhir/Observation?subject.name=local", want: []string{"x-relative", "x-own-base"}},
			{query: "/fhir/Patient/ext-1/Observation", want: []string{"x-relative", "x-own-base"}},
		})
		for _, tc := range []struct {
			id       string
			included []string
		}{
			{"x-other", nil},
			{"x-relative", []string{"Patient/ext-1"}},
			{"x-own-base", []string{"Patient/ext-1"}},
		} {
			got := search(t, srv, "/fhir/Observation?_id="+tc.id+"&_include=Observation:subject").refs("include")
			if !sameSet(got, tc.included) {
				t.Errorf("_include from %s: %v, want %v", tc.id, got, tc.included)
			}
		}
		got := search(t, srv, "/fhir/Patient?_id=ext-1&_revinclude=Observation:subject").refs("include")
		if want := []string{"Observation/x-relative", "Observation/x-own-base"}; !sameSet(got, want) {
			t.Errorf("_revinclude of ext-1: %v, want %v", got, want)
		}
	})
}
