package fhir_test

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/medbridge/medbridge/fhir"
)

// TestMarshalTwice: marshalling does not change the parsed resource, so an
// update can serialize it to compare and again to store. The official
// example has a dateTime that carries only an extension (_event), which
// google/fhir's marshaller used to leave unmarshallable.
func TestMarshalTwice(t *testing.T) {
	c, err := fhir.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../testdata/examples/ActivityDefinition-referralPrimaryCareMentalHealth-initial.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	var out [2][]byte
	for i := range out {
		p.SetMeta(1, at)
		if out[i], err = c.Marshal(p); err != nil {
			t.Fatalf("marshal %d: %v", i+1, err)
		}
	}
	if !bytes.Equal(out[0], out[1]) {
		t.Errorf("two marshals differ:\n%s\n%s", out[0], out[1])
	}
}
