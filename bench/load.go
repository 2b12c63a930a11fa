package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// A phase is one kind of request, sent by every client in a loop.
type phase struct {
	name string
	do   requestFunc
}

// requestFunc sends one request as w. It returns an error for a failed
// exchange and for any answer that is not 2xx.
type requestFunc func(ctx context.Context, w *worker) error

// worker is one client. Its state is its own, so the loop shares nothing
// with the other clients but two counters.
type worker struct {
	client *http.Client
	rng    *rand.Rand
	buf    []byte   // request body, reused
	ids    []string // Observations this worker created

	latencies            []time.Duration // of measured requests that succeeded
	errors, warmupErrors int
	firstErr             error
	lastDone             time.Time
}

// newClient returns a client whose transport keeps a connection per
// client alive. It uses no proxy and follows no redirect, so it talks to
// the base's host alone.
func newClient(clients int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        clients,
			MaxIdleConnsPerHost: clients,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// maxErrorRatio is the share of failed requests that aborts the run.
const maxErrorRatio = 0.01

// runPhase runs ph from cfg.clients clients for cfg.warmup, unmeasured,
// then for cfg.duration. A request belongs to the measurement when it
// starts after the warm-up. The ids of the Observations created are
// appended to ids when it is not nil. The phase stops early, with an error,
// once more than 1% of at least 10 failed requests have failed; it returns
// an error too when more than 1% of the measured requests failed.
func runPhase(ctx context.Context, cfg config, ph phase, ids *[]string) (phaseResult, error) {
	setPhase(ph.name)
	// A client per phase: its connections are dialled by this phase's
	// goroutines and so carry this phase's profile labels.
	client := newClient(cfg.clients)
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	start := time.Now()
	measureFrom := start.Add(cfg.warmup)
	end := measureFrom.Add(cfg.duration)
	var sent, failed atomic.Int64
	abortOnErrors := func(err error) {
		n, f := sent.Load(), failed.Add(1)
		if f >= 10 && float64(f) > maxErrorRatio*float64(n) {
			cancel(fmt.Errorf("%s: aborted after %d of %d requests failed; first: %w", ph.name, f, n, err))
		}
	}
	workers := make([]*worker, cfg.clients)
	var wg sync.WaitGroup
	pprof.Do(ctx, pprof.Labels("role", "client", "phase", ph.name), func(ctx context.Context) {
		for i := range workers {
			w := &worker{client: client, rng: rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano())))}
			workers[i] = w
			wg.Go(func() {
				for {
					began := time.Now()
					if !began.Before(end) || ctx.Err() != nil {
						return
					}
					sent.Add(1)
					err := ph.do(ctx, w)
					done := time.Now()
					if err != nil && ctx.Err() != nil {
						return // cut short by the abort or a signal, not the server's fault
					}
					measured := !began.Before(measureFrom)
					switch {
					case err != nil && measured:
						w.errors++
					case err != nil:
						w.warmupErrors++
					case measured:
						w.latencies = append(w.latencies, done.Sub(began))
					}
					if err != nil {
						if w.firstErr == nil {
							w.firstErr = err
						}
						abortOnErrors(err)
					}
					if measured {
						w.lastDone = done
					}
				}
			})
		}
	})
	wg.Wait()

	res := phaseResult{Name: ph.name}
	var latencies []time.Duration
	lastDone := measureFrom
	var firstErr error
	for _, w := range workers {
		latencies = append(latencies, w.latencies...)
		res.Errors += w.errors
		res.WarmupErrors += w.warmupErrors
		if w.lastDone.After(lastDone) {
			lastDone = w.lastDone
		}
		if firstErr == nil {
			firstErr = w.firstErr
		}
		if ids != nil {
			*ids = append(*ids, w.ids...)
		}
	}
	if firstErr != nil {
		res.FirstError = firstErr.Error()
	}
	res.summarize(latencies, lastDone.Sub(measureFrom))

	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("%s: interrupted: %w", ph.name, err)
	}
	if total := res.Requests + res.Errors; float64(res.Errors) > maxErrorRatio*float64(total) {
		return res, fmt.Errorf("%s: %d of %d measured requests failed; first: %s", ph.name, res.Errors, total, res.FirstError)
	}
	return res, nil
}

// summarize fills in r's counts, rate and latency percentiles from the
// latencies of the successful requests measured over elapsed.
func (r *phaseResult) summarize(latencies []time.Duration, elapsed time.Duration) {
	r.Requests = len(latencies)
	if r.Requests == 0 {
		return
	}
	if elapsed > 0 {
		r.RPS = round(float64(r.Requests) / elapsed.Seconds())
	}
	slices.Sort(latencies)
	r.P50 = ms(percentile(latencies, 0.50))
	r.P90 = ms(percentile(latencies, 0.90))
	r.P99 = ms(percentile(latencies, 0.99))
	r.Max = ms(latencies[len(latencies)-1])
}

// percentile is the nearest-rank q-quantile of sorted, which is not empty.
func percentile(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
