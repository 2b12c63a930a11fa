// Command bench measures medbridge's HTTP throughput. N clients on
// keep-alive connections first create vital-sign Observations, then read
// them back by id; each phase runs for a warm-up and then a measured
// duration. It prints a table and one JSON line, and exits non-zero when
// more than 1% of a phase's requests fail.
//
//	go run ./bench [--base URL] [--clients 8] [--duration 10s] [--warmup 2s] [--cpuprofile FILE]
//
// Without --base it starts medbridge in-process on 127.0.0.1:0 over a fresh
// embedded SQLite store in a temp dir, which it removes at the end. It sends
// requests to nothing but that base, follows no redirects, uses no proxy,
// and stops by itself.
//
// --cpuprofile profiles the in-process server and, since they share the
// process, the clients. Samples carry the labels role=server|client and
// phase=create|read, so `go tool pprof -tagfocus=role=server FILE` shows the
// server alone. Two kinds of server samples have role=server but no phase:
// the store's writer goroutine, which only creates reach, and the HTTP
// connections' work between handlers (reading requests, flushing answers).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"
)

type config struct {
	base       string
	clients    int
	duration   time.Duration
	warmup     time.Duration
	cpuprofile string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.base, "base", "", "FHIR base of a running server, e.g. http://127.0.0.1:8080/fhir; empty starts one in-process on a temporary SQLite store")
	fs.IntVar(&cfg.clients, "clients", 8, "concurrent clients, each on its own keep-alive connection")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured time per phase")
	fs.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "unmeasured time before each phase's measurement")
	fs.StringVar(&cfg.cpuprofile, "cpuprofile", "", "write a CPU profile of the in-process server during the phases to this file")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	switch {
	case fs.NArg() > 0:
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	case cfg.clients < 1:
		return cfg, errors.New("--clients must be at least 1")
	case cfg.duration <= 0:
		return cfg, errors.New("--duration must be positive")
	case cfg.warmup < 0:
		return cfg, errors.New("--warmup must not be negative")
	case cfg.cpuprofile != "" && cfg.base != "":
		return cfg, errors.New("--cpuprofile profiles the in-process server; it cannot be used with --base")
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	rep := report{
		Target: "external", Base: cfg.base, Clients: cfg.clients,
		DurationS: cfg.duration.Seconds(), WarmupS: cfg.warmup.Seconds(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), Go: runtime.Version(),
	}
	if cfg.base == "" {
		srv, err := startServer(ctx, cfg.cpuprofile != "")
		if err != nil {
			return err
		}
		defer func() {
			if cerr := srv.close(); cerr != nil {
				fmt.Fprintln(stderr, "bench: stopping the in-process server:", cerr)
			}
		}()
		rep.Target, rep.Base = "in-process, embedded SQLite store", srv.base
	}
	if cfg.cpuprofile != "" {
		f, err := os.Create(cfg.cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		// Stops before the server does, so shutdown is not profiled.
		defer func() {
			pprof.StopCPUProfile()
			if cerr := f.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}()
	}
	rep.writeHeader(stdout)
	// The results are printed even when a phase aborts: a partial table
	// and its error say more than the error alone.
	defer rep.writeResults(stdout)

	var ids []string
	create := phase{name: "create", do: createObservation(rep.Base)}
	res, err := runPhase(ctx, cfg, create, &ids)
	rep.Phases = append(rep.Phases, res)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return errors.New("create made no Observations to read")
	}
	read := phase{name: "read", do: readObservation(rep.Base, ids)}
	res, err = runPhase(ctx, cfg, read, nil)
	rep.Phases = append(rep.Phases, res)
	return err
}
