package phd

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/medbridge/medbridge/mappers"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const testdata = "../../testdata/mappers/phd"

// golden returns what a case's golden holds: for a Bundle that maps, the
// JSON array of mappers.Finish(reading, {Device: "Device/d", Patient:
// "Patient/p"}) (<case>.golden.json); for an invalid-* case, the error
// text (<case>.error.txt).
func golden(t *testing.T, name string) (file string, got []byte) {
	payload, err := os.ReadFile(filepath.Join(testdata, name+".input.json"))
	if err != nil {
		t.Fatal(err)
	}
	readings, err := Mapper{}.Map(payload)
	if strings.HasPrefix(name, "invalid-") {
		if err == nil {
			t.Fatal("Map succeeded, want an error")
		}
		return name + ".error.txt", []byte(err.Error() + "\n")
	}
	if err != nil {
		t.Fatalf("Map: %v", err)
	}
	var out []map[string]any
	for i := range readings {
		out = append(out, mappers.Finish(&readings[i], mappers.Resolved{Device: "Device/d", Patient: "Patient/p"}))
	}
	got, err = json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return name + ".golden.json", append(got, '\n')
}

func TestGolden(t *testing.T) {
	inputs, _ := filepath.Glob(filepath.Join(testdata, "*.input.json"))
	if len(inputs) == 0 {
		t.Fatalf("no inputs in %s", testdata)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".input.json")
		t.Run(name, func(t *testing.T) {
			file, got := golden(t, name)
			file = filepath.Join(testdata, file)
			if *update {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if want, err := os.ReadFile(file); err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s differs (%v; go test -update rewrites it); the mapping gives:\n%s", file, err, got)
			}
		})
	}
}

// TestTerms: every MDC code of the table adds the LOINC code of the
// R4 vital-signs profile (or the glucose code) an EHR searches by.
func TestTerms(t *testing.T) {
	want := map[string]string{
		"150020": "85354-9", "150021": "8480-6", "150022": "8462-4", "150023": "8478-0",
		"149530": "8867-4", "149546": "8867-4", "149514": "8867-4", "147842": "8867-4",
		"150456": "2708-6 59408-5", "150324": "2708-6",
		"150364": "8310-5", "150392": "8310-5 8333-7", "188420": "8310-5 8332-9", "188424": "8310-5 8331-1", "188452": "8310-5 8328-7",
		"151562": "9279-1", "188736": "29463-7", "188740": "8302-2", "188752": "39156-5",
		"160184 mg/dL": "41653-7", "160184 mmol/L": "14743-9",
		"160188 mg/dL": "2345-7", "160188 mmol/L": "14749-6",
		"160196 mg/dL": "2345-7", "160196 mmol/L": "14749-6",
		"160368 mg/dL": "2345-7", "160368 mmol/L": "14749-6",
		"160192 mg/dL": "2339-0", "160192 mmol/L": "15074-8",
		"160020 mg/dL": "2339-0", "160020 mmol/L": "15074-8",
	}
	for key, tm := range terms {
		var got []string
		for _, l := range tm.loinc {
			got = append(got, l[0])
		}
		if strings.Join(got, " ") != want[key] {
			t.Errorf("%s (%s): LOINC %v, want %s", key, tm.name, got, want[key])
		}
		if vital := !strings.Contains(key, " "); tm.vital != vital {
			t.Errorf("%s: vital %v, want %v", key, tm.vital, vital)
		}
	}
	for key := range want {
		if _, ok := terms[key]; !ok {
			t.Errorf("%s is missing from the table", key)
		}
	}
}

func TestIdentity(t *testing.T) {
	payload, err := os.ReadFile(filepath.Join(testdata, "spo2-pulse-gateway-bundle.input.json"))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Mapper{}.Map(payload)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 {
		t.Fatalf("%d readings, want 2 (the time stamp Observation is about the device)", len(rs))
	}
	gateway := mappers.Identifier{System: EUI64System, Value: "EC-DE-3D-4E-58-53-2D-31"}
	for _, r := range rs {
		if r.Patient != (mappers.Identifier{System: "http://hospital.example.org/mrn", Value: "MRN-100234"}) {
			t.Errorf("%s: patient %v", r.Type, r.Patient)
		}
		if r.Device.Identifier != (mappers.Identifier{System: EUI64System, Value: "00-1C-05-04-00-00-78-25"}) || r.Device.Resource["id"] != nil {
			t.Errorf("%s: device %v, resource id %v", r.Type, r.Device.Identifier, r.Device.Resource["id"])
		}
		if len(r.Gateways) != 1 || r.Gateways[0].Identifier != gateway {
			t.Fatalf("%s: gateways %v, want %v", r.Type, r.Gateways, gateway)
		}
		ids, _ := r.Gateways[0].Resource["identifier"].([]any)
		if v := ids[0].(map[string]any)["value"]; v != gateway.Value {
			t.Errorf("stored gateway EUI-64 %v, want %s", v, gateway.Value)
		}
		ext, _ := r.Observation["extension"].([]any)
		if len(ext) != 1 || ext[0].(map[string]any)["valueReference"].(map[string]any)["reference"] != "Device/"+mappers.IdentifierID(gateway) {
			t.Errorf("%s: extension %v, want only the gateway's, rewritten", r.Type, ext)
		}
	}
	if !slices.Equal([]string{rs[0].Type, rs[1].Type}, []string{"150456", "149530"}) {
		t.Errorf("types %s, %s", rs[0].Type, rs[1].Type)
	}
}

func TestNoMatch(t *testing.T) {
	payload, err := os.ReadFile(filepath.Join(testdata, "invalid-no-patient-observation.input.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (Mapper{}).Map(payload); !errors.Is(err, mappers.ErrNoMatch) {
		t.Errorf("err %v, want ErrNoMatch", err)
	}
}

// BenchmarkMap reports the time per reading of the weight scale Bundle
// (three readings, three other entries), compacted as a gateway sends it.
func BenchmarkMap(b *testing.B) {
	indented, err := os.ReadFile(filepath.Join(testdata, "weight-scale-bundle.input.json"))
	if err != nil {
		b.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, indented); err != nil {
		b.Fatal(err)
	}
	payload := compact.Bytes()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		rs, err := Mapper{}.Map(payload)
		if err != nil {
			b.Fatal(err)
		}
		for i := range rs {
			mappers.Finish(&rs[i], mappers.Resolved{Device: "Device/d", Patient: "Patient/p"})
		}
		n += len(rs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/reading")
}
