package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/medbridge/medbridge/conformance/harness"
)

// checkConformance runs the conformance harness against a FHIR server
// (`medbridge conformance --base URL`): every claim of its
// CapabilityStatement checked live, the report written as Markdown and
// HTML. It fails when a claim fails.
func checkConformance(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("conformance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("base", "", "the FHIR base URL of the server to check (required)")
	token := fs.String("token", os.Getenv("MEDBRIDGE_TOKEN"), "bearer token sent with every request (default $MEDBRIDGE_TOKEN)")
	types := fs.String("types", "", "comma-separated resource types to check (default: every type the server lists)")
	markdown := fs.String("markdown", "", "write the Markdown report to this file")
	html := fs.String("html", "", "write the HTML report to this file")
	out := fs.String("out", "", "write conformance.md and conformance.html to this directory")
	budget := fs.Duration("timeout", 5*time.Minute, "time budget; claims not reached by then are skipped")
	concurrency := fs.Int("concurrency", 8, "requests in flight")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" {
		return errors.New("conformance: --base is required")
	}
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		*markdown = cmp.Or(*markdown, filepath.Join(*out, "conformance.md"))
		*html = cmp.Or(*html, filepath.Join(*out, "conformance.html"))
	}
	cfg := harness.Config{Base: *base, Token: *token, Concurrency: *concurrency}
	if *types != "" {
		cfg.Types = strings.Split(*types, ",")
	}
	runCtx, cancel := context.WithTimeout(ctx, *budget)
	defer cancel()
	report, err := harness.Run(runCtx, cfg)
	if err != nil {
		return err
	}
	for file, write := range map[string]func(io.Writer) error{*markdown: report.WriteMarkdown, *html: report.WriteHTML} {
		if file == "" {
			continue
		}
		if err := writeFile(file, write); err != nil {
			return err
		}
	}
	if *markdown == "" && *html == "" {
		if err := report.WriteMarkdown(stdout); err != nil {
			return err
		}
	}
	c := report.Counts()
	fmt.Fprintf(stderr, "conformance: %d claims: %d passed, %d failed, %d skipped (%s)\n", c.Claims, c.Passed, c.Failed, c.Skipped, report.Duration.Round(time.Millisecond))
	if c.Failed > 0 {
		return fmt.Errorf("conformance: %d of %d claims failed", c.Failed, c.Claims)
	}
	return nil
}

func writeFile(name string, write func(io.Writer) error) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
