package storage

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir/fhirpath"
)

func testExtractor(t testing.TB) *Extractor {
	t.Helper()
	spec, err := conformance.Load()
	if err != nil {
		t.Fatal(err)
	}
	x, err := NewExtractor(spec)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestExtractAllExamples evaluates every search parameter of every type on
// every official example. It reports how many entries that gives and which
// values a parameter's expression selected that its type has no reading
// for (SampledData for a quantity, say).
func TestExtractAllExamples(t *testing.T) {
	x := testExtractor(t)
	files, err := filepath.Glob("../testdata/examples/*.json")
	if err != nil || len(files) != 705 {
		t.Fatalf("want the 705 official examples, found %d (%v)", len(files), err)
	}
	var entries int
	byType := map[string]int{}
	used := map[string]bool{} // type.code that produced an entry
	skipped := map[string]int{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		typ, _, _ := strings.Cut(filepath.Base(f), "-")
		got, err := x.Extract(typ, raw)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		entries += len(got)
		for _, e := range got {
			byType[e.Type]++
			used[typ+"."+e.Param] = true
		}
		// Values selected but not convertible.
		resource, err := decodeResource(raw)
		if err != nil {
			t.Fatal(err)
		}
		root := fhirpath.ResourceNode(resource)
		env := &fhirpath.Env{Model: x.model, Resource: root}
		for _, p := range x.plans[typ] {
			if p.typ == "composite" {
				continue
			}
			nodes, _ := p.expr.Eval(env, root)
			for _, n := range nodes {
				if len(x.appendValues(nil, p.code, p.typ, n)) == 0 {
					skipped[p.typ+" ← "+n.Type+" ("+typ+"."+p.code+")"]++
				}
			}
		}
	}
	params := 0
	for _, ps := range x.plans {
		params += len(ps)
	}
	t.Logf("%d examples: %d index entries; %d of %d (type, parameter) pairs have an entry in some example", len(files), entries, len(used), params)
	var kinds []string
	for k, n := range byType {
		kinds = append(kinds, k+"="+itoa(n))
	}
	sort.Strings(kinds)
	t.Logf("entries by parameter type: %s", strings.Join(kinds, " "))
	var sk []string
	for k, n := range skipped {
		sk = append(sk, k+" ×"+itoa(n))
	}
	sort.Strings(sk)
	t.Logf("selected values without an index reading (%d kinds):\n%s", len(sk), strings.Join(sk, "\n"))
}

// TestNarrativeIsText backs decodeResource's skipping of the top-level
// "text": in every resource type that has one it is the Narrative, which no
// search parameter reads.
func TestNarrativeIsText(t *testing.T) {
	x := testExtractor(t)
	for typ, plans := range x.plans {
		if el := x.model.Element(typ, "text"); el != nil && (len(el.Types) != 1 || el.Types[0].Name != "Narrative") {
			t.Errorf("%s.text is %v", typ, el.Types)
		}
		for _, p := range plans {
			if strings.Contains(p.expr.String(), typ+".text") {
				t.Errorf("%s.%s reads the narrative: %s", typ, p.code, p.expr)
			}
		}
	}
}
