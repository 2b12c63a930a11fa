package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/server"
	"github.com/medbridge/medbridge/storage/sqlite"
)

// inProcess is a medbridge server on 127.0.0.1:0 over a SQLite store in a
// temporary directory, wired as `medbridge serve` wires it.
type inProcess struct {
	base   string
	dir    string
	store  *sqlite.Store
	hs     *http.Server
	served chan error
}

// currentPhase names the running phase for the profile labels of server
// requests.
var currentPhase atomic.Pointer[string]

func setPhase(name string) { currentPhase.Store(&name) }

// startServer starts the in-process server. With labelled, every goroutine
// it starts, and every request it serves, carries profile labels.
func startServer(ctx context.Context, labelled bool) (p *inProcess, err error) {
	p = &inProcess{served: make(chan error, 1)}
	p.dir, err = os.MkdirTemp("", "medbridge-bench-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, p.close())
			p = nil
		}
	}()
	// Goroutines inherit the labels of the goroutine that starts them: the
	// store's writer and the HTTP server's connections get role=server.
	pprof.Do(ctx, pprof.Labels("role", "server"), func(ctx context.Context) {
		err = p.start(ctx, labelled)
	})
	return p, err
}

func (p *inProcess) start(ctx context.Context, labelled bool) error {
	var err error
	if p.store, err = sqlite.Open(ctx, p.dir); err != nil {
		return fmt.Errorf("opening the store in %s: %w", p.dir, err)
	}
	spec, err := conformance.Load()
	if err != nil {
		return err
	}
	codec, err := fhir.NewCodec()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	p.base = "http://" + ln.Addr().String() + "/fhir"
	// The handler and level of `medbridge serve`'s defaults, so that the
	// cost of logging is the real one, but written nowhere.
	logger := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := server.New(server.Config{
		Store: p.store, Spec: spec, Codec: codec, BaseURL: p.base,
		Logger: logger, Version: "bench",
	})
	if err != nil {
		ln.Close()
		return err
	}
	h := srv.Handler()
	if labelled {
		h = labelPhase(h)
	}
	p.hs = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	if labelled {
		// pprof.Do in labelPhase restores the labels of the request's
		// context, so that context must carry role=server for the
		// connection's reads and writes between requests to keep it.
		p.hs.BaseContext = func(net.Listener) context.Context {
			return pprof.WithLabels(context.Background(), pprof.Labels("role", "server"))
		}
	}
	go func() { p.served <- p.hs.Serve(ln) }()
	return nil
}

// labelPhase adds the running phase to the profile labels of each request.
func labelPhase(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := "none"
		if p := currentPhase.Load(); p != nil {
			name = *p
		}
		pprof.Do(r.Context(), pprof.Labels("phase", name), func(context.Context) { h.ServeHTTP(w, r) })
	})
}

// close stops the server, closes the store and removes its directory.
func (p *inProcess) close() error {
	var errs []error
	if p.hs != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, p.hs.Shutdown(ctx))
		cancel()
		if err := <-p.served; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if p.store != nil {
		errs = append(errs, p.store.Close())
	}
	errs = append(errs, os.RemoveAll(p.dir))
	return errors.Join(errs...)
}
