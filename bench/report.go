package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"
)

// report is the run's result; its JSON is the machine-readable line.
type report struct {
	Target     string        `json:"target"`
	Base       string        `json:"base"`
	Clients    int           `json:"clients"`
	DurationS  float64       `json:"duration_s"`
	WarmupS    float64       `json:"warmup_s"`
	GOMAXPROCS int           `json:"gomaxprocs"`
	Go         string        `json:"go"`
	Phases     []phaseResult `json:"phases"`
}

// phaseResult is one phase's measurement. Requests and the latencies count
// successful requests only; Errors counts the measured failures and
// WarmupErrors those of the warm-up.
type phaseResult struct {
	Name         string  `json:"phase"`
	Requests     int     `json:"requests"`
	Errors       int     `json:"errors"`
	WarmupErrors int     `json:"warmup_errors"`
	RPS          float64 `json:"rps"`
	P50          float64 `json:"p50_ms"`
	P90          float64 `json:"p90_ms"`
	P99          float64 `json:"p99_ms"`
	Max          float64 `json:"max_ms"`
	FirstError   string  `json:"first_error,omitempty"`
}

func (r *report) writeHeader(w io.Writer) {
	fmt.Fprintf(w, "medbridge bench: %s at %s\n", r.Target, r.Base)
	fmt.Fprintf(w, "%d clients, %gs warm-up + %gs measured per phase, GOMAXPROCS=%d, %s\n\n",
		r.Clients, r.WarmupS, r.DurationS, r.GOMAXPROCS, r.Go)
}

// writeResults prints the table, any phase's first error, and the JSON line.
func (r *report) writeResults(w io.Writer) {
	// Numbers align right; names are padded so that they align left.
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase \trequests\treq/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\terrors\t")
	for _, p := range r.Phases {
		fmt.Fprintf(tw, "%-6s\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t\n",
			p.Name, p.Requests, p.RPS, p.P50, p.P90, p.P99, p.Max, p.Errors)
	}
	tw.Flush()
	for _, p := range r.Phases {
		if p.FirstError != "" {
			fmt.Fprintf(w, "%s: %d measured and %d warm-up errors; first: %s\n", p.Name, p.Errors, p.WarmupErrors, p.FirstError)
		}
	}
	line, err := json.Marshal(r)
	if err != nil {
		panic(err) // a report always marshals
	}
	fmt.Fprintf(w, "\n%s\n", line)
}

// ms is d in milliseconds, to the microsecond.
func ms(d time.Duration) float64 { return round(float64(d) / float64(time.Millisecond)) }

func round(f float64) float64 { return math.Round(f*1000) / 1000 }
