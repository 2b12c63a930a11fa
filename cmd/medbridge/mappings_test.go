package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadTemplatesFailAtStartUp: a mapping template with a mistake stops
// `medbridge serve` before it listens, with a message naming the file and
// the JSON path of the mistake.
func TestBadTemplatesFailAtStartUp(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mappings")
	bad := filepath.Join(dir, "ward")
	if err := os.MkdirAll(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"devicecontent.json", "fhirmapping.json"} {
		b, err := os.ReadFile(filepath.Join("../../testdata/mappings/bedside", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "fhirmapping.json" {
			b = []byte(strings.Replace(string(b), `"valueType": "Quantity"`, `"valueType": "Quantiy"`, 1))
		}
		if err := os.WriteFile(filepath.Join(bad, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--mappings", dir)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("serve with a bad template started:\n%s", out)
	}
	for _, want := range []string{"ward/fhirmapping.json", "$.template[0].template.value.valueType", `"Quantiy"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("start-up error lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "medbridge serving") {
		t.Errorf("the server listened before refusing the templates:\n%s", out)
	}
}
