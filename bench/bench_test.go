package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// lastJSON decodes the last line of out, the machine-readable report.
func lastJSON(t *testing.T, out string) report {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var rep report
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("last line is not the JSON report: %v\n%s", err, out)
	}
	return rep
}

func TestRunInProcess(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"--clients", "2", "--duration", "300ms", "--warmup", "100ms"}, &out, io.Discard)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	rep := lastJSON(t, out.String())
	if len(rep.Phases) != 2 {
		t.Fatalf("phases = %+v, want create and read", rep.Phases)
	}
	for _, p := range rep.Phases {
		if p.Requests == 0 || p.Errors != 0 || p.WarmupErrors != 0 || p.RPS <= 0 || p.P50 <= 0 || p.P50 > p.P99 || p.P99 > p.Max {
			t.Errorf("%s: implausible result %+v", p.Name, p)
		}
	}
}

func TestRunAbortsOnErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"resourceType":"OperationOutcome"}`, http.StatusInternalServerError)
	}))
	defer srv.Close()
	var out bytes.Buffer
	start := time.Now()
	err := run(context.Background(), []string{"--base", srv.URL + "/fhir", "--clients", "2", "--duration", "10s", "--warmup", "0s"}, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "aborted") || !strings.Contains(err.Error(), "500") {
		t.Fatalf("run = %v, want an abort naming the 500", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("the abort took %v; it should not wait for the phase to end", time.Since(start))
	}
	rep := lastJSON(t, out.String())
	if len(rep.Phases) != 1 || rep.Phases[0].Errors == 0 {
		t.Errorf("phases = %+v, want create with its errors", rep.Phases)
	}
}

func TestPercentile(t *testing.T) {
	sorted := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5}, {0.9, 9}, {0.99, 10}, {1, 10}, {0, 1}} {
		if got := percentile(sorted, tc.q); got != tc.want {
			t.Errorf("percentile(1..10, %v) = %v, want %v", tc.q, got, tc.want)
		}
	}
}
