package harness

import (
	"testing"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
)

// TestFixtures: every R4 resource type has a fixture, valid for the R4
// rules fhir.Codec enforces, carrying the harness tag.
func TestFixtures(t *testing.T) {
	spec, err := conformance.Load()
	if err != nil {
		t.Fatal(err)
	}
	codec, err := fhir.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range spec.ResourceTypes() {
		body, ok := fixture(typ, "x1", "tag-1")
		if !ok {
			t.Errorf("no fixture for %s", typ)
			continue
		}
		p, err := codec.Parse(body)
		if err != nil {
			t.Errorf("%s: %v", typ, err)
			continue
		}
		if ri := parseResource(body); p.Type != typ || ri.ID != "x1" || !ri.hasTag("tag-1") {
			t.Errorf("%s fixture: type %s, id %q, tags %v", typ, p.Type, ri.ID, ri.Meta.Tag)
		}
	}
}
