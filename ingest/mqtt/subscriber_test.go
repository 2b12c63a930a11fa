package mqtt_test

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medbridge/medbridge/ingest/mqtt"
)

const (
	topicFilter = "medbridge/ingest/+"
	clientID    = "medbridge-test"
)

// stored is one message a store kept.
type stored struct{ mapping, payload string }

// store is a Handler that keeps what it is given. Before keeping a message it
// calls before, if set, with the number of the call from 1; an error from
// before is returned and nothing is kept.
type store struct {
	before func(ctx context.Context, call int) error

	mu    sync.Mutex
	calls int
	msgs  []stored
}

func (s *store) handle(ctx context.Context, mapping string, payload []byte) error {
	s.mu.Lock()
	s.calls++
	call := s.calls
	s.mu.Unlock()
	if s.before != nil {
		if err := s.before(ctx, call); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, stored{mapping, string(payload)})
	return nil
}

func (s *store) stored() []stored {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

func (s *store) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

// subscriber is one Run in the background, with fast backoff.
type subscriber struct {
	counters mqtt.Counters
	logs     syncBuffer
	cancel   context.CancelFunc
	done     chan struct{}
	err      error // Run's result, once done is closed
}

// startSubscriber runs a subscriber with clientID on url until stop or the end
// of the test.
func startSubscriber(t *testing.T, url string, h mqtt.Handler) *subscriber {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &subscriber{cancel: cancel, done: make(chan struct{})}
	cfg := mqtt.Config{
		URL:        url,
		Topic:      topicFilter,
		ClientID:   clientID,
		Logger:     slog.New(slog.NewTextHandler(&s.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Counters:   &s.counters,
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond,
	}
	go func() {
		s.err = mqtt.Run(ctx, cfg, h)
		close(s.done)
	}()
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			t.Logf("subscriber log:\n%s", s.logs.String())
		}
	})
	return s
}

// stop ends Run and checks that it returned nil; it may be called again.
func (s *subscriber) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if s.err != nil {
		t.Errorf("Run = %v; want nil when its context ends", s.err)
	}
}

func (s *subscriber) waitSubscribed(t *testing.T) {
	t.Helper()
	waitFor(t, "subscriber to subscribe", func() bool { return s.counters.Stats().Connected })
}

// waitClosed waits for c to be closed, failing the test after 10 seconds.
func waitClosed(t *testing.T, what string, c <-chan struct{}) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// waitFor polls cond until it holds, failing the test after 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Contains reports whether s was written.
func (b *syncBuffer) Contains(s string) bool {
	return strings.Contains(b.String(), s)
}

func byPayload(a, b stored) int { return strings.Compare(a.payload, b.payload) }
