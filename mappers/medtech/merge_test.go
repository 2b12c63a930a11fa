package medtech

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/mappers"
)

var fixedTime = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// stored is obs as the store returns it: validated and serialized by the
// codec, then decoded, with meta set.
func stored(t *testing.T, codec *fhir.Codec, obs map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(obs)
	if err != nil {
		t.Fatal(err)
	}
	p, err := codec.Parse(b)
	if err != nil {
		t.Fatalf("the Observation is not valid R4: %v\n%s", err, b)
	}
	p.SetMeta(1, fixedTime)
	if b, err = codec.Marshal(p); err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMerge merges the grouped case's messages as the ingest service
// does: a message's hourly readings into the Observation stored for their
// key. The golden, grouped/merge.golden.json, is the merged heart-rate
// and blood-pressure Observations; merging a message already merged
// changes nothing.
func TestMerge(t *testing.T) {
	codec, err := fhir.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(testdata, "grouped")
	m, err := loadMapping(dir, "grouped")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "payloads.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	extra := `{"device":"abpm-2","patient":"MRN-9","samples":[{"t":"2026-11-20T09:35:00Z","sys":140},{"t":"2026-11-20T09:05:30Z","sys":133,"dia":86}]}`
	store := map[string]map[string]any{}
	var order []string
	apply := func(line string) (changes int) {
		t.Helper()
		readings, err := m.Map([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		for i := range readings {
			r := &readings[i]
			if r.Merge == nil {
				continue
			}
			obs := mappers.Finish(r, mappers.Resolved{Device: "Device/d", Patient: "Patient/p"})
			key := mappers.Key(r)
			cur, ok := store[key]
			if !ok {
				store[key] = stored(t, codec, obs)
				order = append(order, key)
				changes++
				continue
			}
			merged, changed, err := r.Merge(cur, obs)
			if err != nil {
				t.Fatal(err)
			}
			if changed {
				store[key] = stored(t, codec, merged)
				changes++
			}
		}
		return changes
	}
	all := []string{lines[0], lines[1], lines[2], extra}
	for _, line := range all {
		if apply(line) == 0 {
			t.Fatalf("merging %s changed nothing", line)
		}
	}
	for _, line := range slices.Backward(all) {
		if n := apply(line); n != 0 {
			t.Errorf("merging %s again changed %d Observations, want none", line, n)
		}
	}
	var out []map[string]any
	for _, key := range order {
		out = append(out, store[key])
	}
	checkGolden(t, filepath.Join(dir, "merge.golden.json"), marshalGolden(t, out))
}
