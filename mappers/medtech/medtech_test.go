package medtech

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medbridge/medbridge/mappers"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const (
	testdata = "../../testdata/mappers/medtech"
	// mappingsDir is the example --mappings directory of the README.
	mappingsDir = "../../testdata/mappings"
)

// checkGolden compares got with the golden file, or rewrites it under -update.
func checkGolden(t *testing.T, golden string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the mapping:\n%s", golden, got)
	}
}

// mapLines maps every line of payloads.ndjson with m. It returns the
// Observations (mappers.Finish with Device/d and Patient/p) and, per line,
// a summary: the error, or per reading its type, identities and whether
// it carries a Merger.
func mapLines(t *testing.T, m *Mapping, payloads string) (observations []map[string]any, summary []byte) {
	t.Helper()
	data, err := os.ReadFile(payloads)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for i, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		readings, err := m.Map([]byte(line))
		if err != nil {
			fmt.Fprintf(&b, "line %d: error: %v\n", i+1, err)
			continue
		}
		for j := range readings {
			r := &readings[j]
			observations = append(observations, mappers.Finish(r, mappers.Resolved{Device: "Device/d", Patient: "Patient/p"}))
			fmt.Fprintf(&b, "line %d: %s: device %s|%s, patient %s|%s", i+1, r.Type, r.Device.Identifier.System, r.Device.Identifier.Value, r.Patient.System, r.Patient.Value)
			if r.Encounter.Value != "" {
				fmt.Fprintf(&b, ", encounter %s|%s", r.Encounter.System, r.Encounter.Value)
			}
			if r.Correlation != "" {
				fmt.Fprintf(&b, ", correlation %s", r.Correlation)
			}
			if r.Merge != nil {
				b.WriteString(", merged")
			}
			b.WriteByte('\n')
		}
	}
	return observations, b.Bytes()
}

func marshalGolden(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestGolden maps every line of <case>/payloads.ndjson with the mapping in
// <case>/ (devicecontent.json, fhirmapping.json, settings.json); the
// goldens are <case>/golden.json, the Observations, and <case>/golden.txt,
// the summary of each line (see mapLines). The example mapping
// testdata/mappings/bedside has its goldens here as mappings-bedside.golden.*.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(testdata, "*", DeviceContentFile))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases in %s: %v", testdata, err)
	}
	type testCase struct{ name, dir, golden string }
	var cases []testCase
	for _, f := range dirs {
		dir := filepath.Dir(f)
		cases = append(cases, testCase{filepath.Base(dir), dir, filepath.Join(dir, "golden")})
	}
	cases = append(cases, testCase{"mappings-bedside", filepath.Join(mappingsDir, "bedside"), filepath.Join(testdata, "mappings-bedside.golden")})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := loadMapping(c.dir, filepath.Base(c.dir))
			if err != nil {
				t.Fatal(err)
			}
			obs, summary := mapLines(t, m, filepath.Join(c.dir, "payloads.ndjson"))
			checkGolden(t, c.golden+".json", marshalGolden(t, obs))
			checkGolden(t, c.golden+".txt", summary)
		})
	}
}

// TestLoadErrors parses every testdata/mappers/medtech/invalid/<case>.*:
// <case>.devicecontent.json, <case>.fhirmapping.json and
// <case>.settings.json replace the bedside mapping's file; the golden,
// <case>.error.txt, is the error.
func TestLoadErrors(t *testing.T) {
	dir := filepath.Join(testdata, "invalid")
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(testdata, "bedside")
	cases := map[string]bool{}
	for _, f := range files {
		if name, _, ok := strings.Cut(f.Name(), "."); ok {
			cases[name] = true
		}
	}
	for name := range cases {
		t.Run(name, func(t *testing.T) {
			read := func(file string) []byte {
				b, err := os.ReadFile(filepath.Join(dir, name+"."+file))
				if errors.Is(err, os.ErrNotExist) {
					if file == SettingsFile {
						return nil
					}
					b, err = os.ReadFile(filepath.Join(base, file))
				}
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			_, err := Parse(name, read(DeviceContentFile), read(FhirMappingFile), read(SettingsFile))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			checkGolden(t, filepath.Join(dir, name+".error.txt"), []byte(err.Error()+"\n"))
		})
	}
}

func TestLoad(t *testing.T) {
	ms, err := Load(mappingsDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Name != "bedside" || !strings.HasPrefix(ms[0].Settings.PatientIdentifierSystem, "http") {
		t.Fatalf("Load(%s) = %+v, want the bedside mapping with its settings", mappingsDir, ms)
	}
	checkGolden(t, filepath.Join(testdata, "mappings-bedside.description.json"), marshalGolden(t, ms[0].Describe()))

	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no mapping") {
		t.Errorf("Load(empty dir) = %v, want an error saying there is no mapping", err)
	}
	bad := t.TempDir()
	if err := os.Mkdir(filepath.Join(bad, "monitors"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "monitors/devicecontent.json") {
		t.Errorf("Load(dir without templates) = %v, want an error naming monitors/devicecontent.json", err)
	}
}

func TestNoMatch(t *testing.T) {
	m := loadBedside(t)
	_, err := m.Map([]byte(`{"mrn":"MRN-1","monitor":{"serial":"X"},"observedAt":"2026-11-20T09:15:00Z","battery":80}`))
	if !errors.Is(err, mappers.ErrNoMatch) {
		t.Errorf("Map(message without a measurement) = %v, want ErrNoMatch", err)
	}
}

func loadBedside(t testing.TB) *Mapping {
	t.Helper()
	m, err := loadMapping(filepath.Join(mappingsDir, "bedside"), "bedside")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// BenchmarkMap maps the accepted bedside payloads round robin and reports
// readings per second (one core).
func BenchmarkMap(b *testing.B) {
	m := loadBedside(b)
	data, err := os.ReadFile(filepath.Join(mappingsDir, "bedside", "payloads.ndjson"))
	if err != nil {
		b.Fatal(err)
	}
	var payloads [][]byte
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if _, err := m.Map(line); err == nil {
			payloads = append(payloads, line)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	readings := 0
	for i := 0; b.Loop(); i++ {
		rs, err := m.Map(payloads[i%len(payloads)])
		if err != nil {
			b.Fatal(err)
		}
		readings += len(rs)
	}
	b.ReportMetric(float64(readings)/b.Elapsed().Seconds(), "readings/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(readings), "ns/reading")
}
