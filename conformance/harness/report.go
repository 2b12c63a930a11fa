package harness

import (
	"cmp"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
)

// Counts are the numbers of claims by outcome.
type Counts struct {
	Claims, Passed, Failed, Skipped int
	// SearchParams counts the search parameter claims, Selected those
	// shown to select a resource by a value derived from it.
	SearchParams, Selected int
}

// Counts counts the report's claims.
func (r *Report) Counts() Counts {
	var c Counts
	for _, res := range r.Results {
		c.Claims++
		switch res.Status {
		case Pass:
			c.Passed++
		case Fail:
			c.Failed++
		case Skip:
			c.Skipped++
		}
		if res.Kind == KindSearchParam {
			c.SearchParams++
			if res.Selected {
				c.Selected++
			}
		}
	}
	return c
}

// SkipReason is one reason claims were skipped for, with how many.
type SkipReason struct {
	Reason string
	Count  int
}

// SkipReasons groups the skipped claims by reason, most frequent first.
func (r *Report) SkipReasons() []SkipReason {
	n := map[string]int{}
	for _, res := range r.Results {
		if res.Status == Skip {
			n[res.Reason]++
		}
	}
	out := make([]SkipReason, 0, len(n))
	for reason, count := range n {
		out = append(out, SkipReason{reason, count})
	}
	slices.SortFunc(out, func(a, b SkipReason) int {
		return cmp.Or(b.Count-a.Count, strings.Compare(a.Reason, b.Reason))
	})
	return out
}

// Scope is the results about one type (or the system), in report order.
type Scope struct {
	Name    string
	Counts  Counts
	Results []Result
}

// Scopes splits the results by scope.
func (r *Report) Scopes() []Scope {
	var out []Scope
	for _, res := range r.Results {
		if len(out) == 0 || out[len(out)-1].Name != res.Scope {
			out = append(out, Scope{Name: res.Scope})
		}
		s := &out[len(out)-1]
		s.Results = append(s.Results, res)
	}
	for i := range out {
		out[i].Counts = (&Report{Results: out[i].Results}).Counts()
	}
	return out
}

// Failures are the failed claims.
func (r *Report) Failures() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Status == Fail {
			out = append(out, res)
		}
	}
	return out
}

// WriteMarkdown writes the report as Markdown: summary, failures, skip
// reasons, then a table per type.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	c := r.Counts()
	fmt.Fprintf(&b, "# Conformance report: %s\n\n", mdEscape(r.Base))
	fmt.Fprintf(&b, "Server: %s (FHIR %s). Checked %s in %s against its CapabilityStatement.\n\n",
		mdEscape(r.Software), mdEscape(r.FHIRVersion), r.Started.UTC().Format("2006-01-02 15:04:05 UTC"), r.Duration.Round(100_000_000))
	fmt.Fprintf(&b, "| Claims | Passed | Failed | Skipped |\n|---:|---:|---:|---:|\n| %d | %d | %d | %d |\n\n", c.Claims, c.Passed, c.Failed, c.Skipped)
	fmt.Fprintf(&b, "Of %d search parameters, %d were shown to select the harness's resource by a value derived from it (and, where decidable, to exclude it by a value it cannot have); "+
		"for the others the harness's resource has no value (or none a search can state), so they were shown to answer and to exclude it.\n\n", c.SearchParams, c.Selected)
	if f := r.Failures(); len(f) > 0 {
		b.WriteString("## Failed claims\n\n| Scope | Kind | Claim | Reason | Evidence |\n|---|---|---|---|---|\n")
		for _, res := range f {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", res.Scope, res.Kind, mdEscape(res.Claim), mdEscape(res.Reason), evidence(res.Evidence))
		}
		b.WriteString("\n")
	}
	if s := r.SkipReasons(); len(s) > 0 {
		b.WriteString("## Skipped claims, by reason\n\n| Claims | Reason |\n|---:|---|\n")
		for _, s := range s {
			fmt.Fprintf(&b, "| %d | %s |\n", s.Count, mdEscape(s.Reason))
		}
		b.WriteString("\n")
	}
	if len(r.LeftBehind) > 0 {
		fmt.Fprintf(&b, "Resources the harness created but could not delete: %s\n\n", mdEscape(strings.Join(r.LeftBehind, ", ")))
	}
	for _, s := range r.Scopes() {
		fmt.Fprintf(&b, "## %s\n\n%d claims: %d passed, %d failed, %d skipped.\n\n| Kind | Claim | Result | Reason | Evidence |\n|---|---|---|---|---|\n",
			s.Name, s.Counts.Claims, s.Counts.Passed, s.Counts.Failed, s.Counts.Skipped)
		for _, res := range s.Results {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", res.Kind, mdEscape(res.Claim), mark(res.Status), mdEscape(res.Reason), evidence(res.Evidence))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mark(s Status) string {
	switch s {
	case Pass:
		return "pass"
	case Fail:
		return "**FAIL**"
	}
	return "skip"
}

func evidence(ex []Exchange) string {
	s := make([]string, len(ex))
	for i, e := range ex {
		s[i] = "`" + strings.ReplaceAll(e.String(), "`", "'") + "`"
	}
	return strings.ReplaceAll(strings.Join(s, "<br>"), "|", `\|`)
}

// mdEscape keeps text from breaking a table cell.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`).Replace(s)
}

// WriteHTML writes the report as one self-contained HTML page (no
// scripts, no external resources).
func (r *Report) WriteHTML(w io.Writer) error {
	return page.Execute(w, r)
}

var page = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Conformance report: {{.Base}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:0 0 1.5em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top;font-size:.9em}
th{background:#f3f3f3}
td.pass{color:#146c2e}td.fail{color:#b00020;font-weight:bold}td.skip{color:#8a6d00}
code{font-size:.85em;white-space:pre-wrap}
</style></head><body>
<h1>Conformance report: {{.Base}}</h1>
<p>Server: {{.Software}} (FHIR {{.FHIRVersion}}). Checked {{.Started.UTC.Format "2006-01-02 15:04:05 UTC"}} in {{.Duration.Round 100000000}} against its CapabilityStatement.</p>
{{with .Counts}}<table><tr><th>Claims</th><th>Passed</th><th>Failed</th><th>Skipped</th></tr>
<tr><td>{{.Claims}}</td><td class="pass">{{.Passed}}</td><td class="fail">{{.Failed}}</td><td class="skip">{{.Skipped}}</td></tr></table>
<p>Of {{.SearchParams}} search parameters, {{.Selected}} were shown to select the harness's resource by a value derived from it (and, where decidable, to exclude it by a value it cannot have); for the others the harness's resource has no value (or none a search can state), so they were shown to answer and to exclude it.</p>{{end}}
{{with .Failures}}<h2>Failed claims</h2><table><tr><th>Scope</th><th>Kind</th><th>Claim</th><th>Reason</th><th>Evidence</th></tr>
{{range .}}<tr><td>{{.Scope}}</td><td>{{.Kind}}</td><td>{{.Claim}}</td><td>{{.Reason}}</td><td>{{range .Evidence}}<code>{{.}}</code><br>{{end}}</td></tr>
{{end}}</table>{{end}}
{{with .SkipReasons}}<h2>Skipped claims, by reason</h2><table><tr><th>Claims</th><th>Reason</th></tr>
{{range .}}<tr><td>{{.Count}}</td><td>{{.Reason}}</td></tr>
{{end}}</table>{{end}}
{{with .LeftBehind}}<p>Resources the harness created but could not delete: {{range .}}{{.}} {{end}}</p>{{end}}
{{range .Scopes}}<h2 id="{{.Name}}">{{.Name}}</h2>
<p>{{.Counts.Claims}} claims: {{.Counts.Passed}} passed, {{.Counts.Failed}} failed, {{.Counts.Skipped}} skipped.</p>
<table><tr><th>Kind</th><th>Claim</th><th>Result</th><th>Reason</th><th>Evidence</th></tr>
{{range .Results}}<tr><td>{{.Kind}}</td><td>{{.Claim}}</td><td class="{{.Status}}">{{.Status}}</td><td>{{.Reason}}</td><td>{{range .Evidence}}<code>{{.}}</code><br>{{end}}</td></tr>
{{end}}</table>
{{end}}</body></html>
`))
