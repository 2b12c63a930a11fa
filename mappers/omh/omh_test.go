package omh

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medbridge/medbridge/mappers"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const testdata = "../../testdata/mappers/omh"

// TestGolden maps every testdata/mappers/omh/<case>.input.json. A valid
// case's golden, <case>.golden.json, is the JSON array of
// mappers.Finish(reading, {Device: "Device/d", Patient: "Patient/p"}); an
// invalid-* case's golden, <case>.error.txt, is the error text.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join(testdata, "*.input.json"))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs in %s: %v", testdata, err)
	}
	m := New(Options{})
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".input.json")
		t.Run(name, func(t *testing.T) {
			payload, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			readings, err := m.Map(payload)
			var got []byte
			golden := filepath.Join(testdata, name+".golden.json")
			switch {
			case strings.HasPrefix(name, "invalid-"):
				if err == nil {
					t.Fatalf("Map succeeded, want an error")
				}
				golden = filepath.Join(testdata, name+".error.txt")
				got = []byte(err.Error() + "\n")
			case err != nil:
				t.Fatalf("Map: %v", err)
			default:
				obs := make([]map[string]any, len(readings))
				for i := range readings {
					obs[i] = mappers.Finish(&readings[i], mappers.Resolved{Device: "Device/d", Patient: "Patient/p"})
				}
				if got, err = json.MarshalIndent(obs, "", "  "); err != nil {
					t.Fatal(err)
				}
				got = append(got, '\n')
			}
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
		})
	}
}

func heartRatePoint(user, source string) []byte {
	return []byte(`{"header":{"schema_id":{"namespace":"omh","name":"heart-rate","version":"1.1"},"user_id":"` + user +
		`","acquisition_provenance":{"source_name":"` + source + `"}},
	"body":{"heart_rate":{"value":60,"unit":"beats/min"},"effective_time_frame":{"date_time":"2026-11-20T10:00:00Z"}}}`)
}

func TestIdentity(t *testing.T) {
	tests := []struct {
		name, user, source string
		opts               Options
		want               mappers.Reading
	}{
		{"any patient system", "u1", "Fitbit", Options{},
			mappers.Reading{Patient: mappers.Identifier{Value: "u1"}, Device: mappers.Device{Identifier: mappers.Identifier{System: DeviceSystem, Value: "u1/Fitbit"}}}},
		{"patient system", "u1", "Fitbit", Options{PatientSystem: "urn:example:users"},
			mappers.Reading{Patient: mappers.Identifier{System: "urn:example:users", Value: "u1"}, Device: mappers.Device{Identifier: mappers.Identifier{System: DeviceSystem, Value: "u1/Fitbit"}}}},
		{"slash in user id", "org/u%1", "a/b", Options{},
			mappers.Reading{Patient: mappers.Identifier{Value: "org/u%1"}, Device: mappers.Device{Identifier: mappers.Identifier{System: DeviceSystem, Value: "org%2Fu%251/a/b"}}}},
		{"no source", "u1", "", Options{},
			mappers.Reading{Patient: mappers.Identifier{Value: "u1"}, Device: mappers.Device{Identifier: mappers.Identifier{System: DeviceSystem, Value: "u1/unknown source"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := New(tt.opts).Map(heartRatePoint(tt.user, tt.source))
			if err != nil {
				t.Fatal(err)
			}
			r := rs[0]
			if r.Patient != tt.want.Patient || r.Device.Identifier != tt.want.Device.Identifier || r.Type != "heart-rate" || r.Correlation != "" {
				t.Errorf("got patient %+v, device %+v, type %q, correlation %q; want %+v, %+v, heart-rate, \"\"",
					r.Patient, r.Device.Identifier, r.Type, r.Correlation, tt.want.Patient, tt.want.Device.Identifier)
			}
		})
	}
}

// TestSameDevice: the readings of one wearable of one patient share one
// Device and differ in key; another patient's wearable of the same model
// is another Device.
func TestSameDevice(t *testing.T) {
	m := New(Options{})
	a, _ := m.Map(heartRatePoint("u1", "Pulseband 4"))
	b, _ := m.Map(bytes.Replace(heartRatePoint("u1", "Pulseband 4"), []byte("10:00:00Z"), []byte("10:05:00Z"), 1))
	c, _ := m.Map(heartRatePoint("u2", "Pulseband 4"))
	if a[0].Device.Identifier != b[0].Device.Identifier || mappers.Key(&a[0]) == mappers.Key(&b[0]) {
		t.Errorf("one wearable: devices %v, %v; keys %s, %s", a[0].Device.Identifier, b[0].Device.Identifier, mappers.Key(&a[0]), mappers.Key(&b[0]))
	}
	if a[0].Device.Identifier == c[0].Device.Identifier {
		t.Errorf("two patients share device %v", a[0].Device.Identifier)
	}
}

func BenchmarkMap(b *testing.B) {
	payload, err := os.ReadFile(filepath.Join(testdata, "blood-pressure.input.json"))
	if err != nil {
		b.Fatal(err)
	}
	m := New(Options{})
	b.ReportAllocs()
	for b.Loop() {
		rs, err := m.Map(payload)
		if err != nil {
			b.Fatal(err)
		}
		mappers.Finish(&rs[0], mappers.Resolved{Device: "Device/d", Patient: "Patient/p"})
	}
}
