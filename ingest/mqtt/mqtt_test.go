package mqtt_test

import (
	"context"
	"errors"
	"log/slog"
	"os/exec"
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

func TestRunRefusesBadConfig(t *testing.T) {
	stores := func(context.Context, string, []byte) error { return nil }
	tests := []struct {
		name    string
		cfg     mqtt.Config
		h       mqtt.Handler
		wantErr string
	}{
		{"filter without +", mqtt.Config{URL: "tcp://127.0.0.1:1", Topic: "medbridge/ingest"}, stores, "no + level"},
		{"filter with #", mqtt.Config{URL: "tcp://127.0.0.1:1", Topic: "medbridge/ingest/#"}, stores, "# is not allowed"},
		{"filter with two +", mqtt.Config{URL: "tcp://127.0.0.1:1", Topic: "medbridge/+/+"}, stores, "more than one +"},
		{"empty filter", mqtt.Config{URL: "tcp://127.0.0.1:1"}, stores, "empty topic filter"},
		{"empty URL", mqtt.Config{Topic: topicFilter}, stores, "want tcp://"},
		{"http URL", mqtt.Config{URL: "http://127.0.0.1:1", Topic: topicFilter}, stores, "want tcp://"},
		{"URL without host", mqtt.Config{URL: "tcp://", Topic: topicFilter}, stores, "no host"},
		{"nil handler", mqtt.Config{URL: "tcp://127.0.0.1:1", Topic: topicFilter}, nil, "nil Handler"},
		{"backoff min above max", mqtt.Config{URL: "tcp://127.0.0.1:1", Topic: topicFilter, MinBackoff: time.Minute, MaxBackoff: time.Second}, stores, "backoff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := mqtt.Run(ctx, tt.cfg, tt.h)
			if ctx.Err() != nil {
				t.Fatal("Run kept running on a bad config")
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Run = %v; want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDeliversToMappingAndAcks(t *testing.T) {
	b := startMochi(t, "127.0.0.1:0")
	var st store
	sub := startSubscriber(t, b.url, st.handle)
	sub.waitSubscribed(t)

	payload := "{\"name\":\"Jane Secret\"}\x00\xff\xfe"
	publish(t, b.url, "medbridge/ingest/bedside", []byte(payload))

	waitFor(t, "message stored", func() bool { return st.count() == 1 })
	if got, want := st.stored()[0], (stored{"bedside", payload}); got != want {
		t.Errorf("stored %q; want %q", got, want)
	}
	waitFor(t, "broker to receive the ack", func() bool { return inflight(b, clientID) == 0 })
	waitFor(t, "acked count", func() bool { return sub.counters.Stats().Acked == 1 })
	if got, want := sub.counters.Stats(), (mqtt.Stats{Received: 1, Acked: 1, Connects: 1, Connected: true}); got != want {
		t.Errorf("Stats = %+v; want %+v", got, want)
	}
	if sub.logs.Contains("Jane Secret") {
		t.Errorf("log shows the payload:\n%s", sub.logs.String())
	}
}

func TestAcksOnlyAfterHandlerReturns(t *testing.T) {
	b := startMochi(t, "127.0.0.1:0")
	entered, release := make(chan struct{}), make(chan struct{})
	st := store{before: func(ctx context.Context, call int) error {
		if call == 1 {
			close(entered)
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}}
	sub := startSubscriber(t, b.url, st.handle)
	sub.waitSubscribed(t)
	publish(t, b.url, "medbridge/ingest/bedside", []byte("m1"))
	waitClosed(t, "handler to be called", entered)

	// While the handler holds m1, the broker keeps it in flight, and m2
	// joins it: an early ack of m1 would have reached the broker before m2
	// was even published.
	publish(t, b.url, "medbridge/ingest/bedside", []byte("m2"))
	waitFor(t, "broker to hold m1 and m2 in flight", func() bool { return inflight(b, clientID) == 2 })
	if s := sub.counters.Stats(); s.Acked != 0 {
		t.Errorf("while the handler runs Stats = %+v; want 0 acked", s)
	}

	close(release)
	waitFor(t, "broker to receive the acks", func() bool { return inflight(b, clientID) == 0 })
	waitFor(t, "acked count", func() bool { return sub.counters.Stats().Acked == 2 })
	if got, want := st.stored(), []stored{{"bedside", "m1"}, {"bedside", "m2"}}; !slices.Equal(got, want) {
		t.Errorf("stored %q; want %q", got, want)
	}
}

func TestUnackedMessageGoesToNextSubscriber(t *testing.T) {
	b := startMochi(t, "127.0.0.1:0")
	entered := make(chan struct{})
	first := store{before: func(ctx context.Context, call int) error {
		if call == 1 {
			close(entered)
		}
		<-ctx.Done()
		return ctx.Err()
	}}
	sub1 := startSubscriber(t, b.url, first.handle)
	sub1.waitSubscribed(t)
	publish(t, b.url, "medbridge/ingest/pump", []byte("m1"))
	waitClosed(t, "first handler to be called", entered)
	sub1.stop(t)
	if s := sub1.counters.Stats(); s.Acked != 0 || s.Failed != 1 {
		t.Errorf("first subscriber Stats = %+v; want 0 acked, 1 failed", s)
	}
	if n := inflight(b, clientID); n != 1 {
		t.Fatalf("after the first subscriber stopped the broker has %d messages in flight; want 1", n)
	}

	var second store
	startSubscriber(t, b.url, second.handle)
	waitFor(t, "message stored by the second subscriber", func() bool { return second.count() == 1 })
	if got, want := second.stored(), []stored{{"pump", "m1"}}; !slices.Equal(got, want) {
		t.Errorf("second subscriber stored %q; want %q", got, want)
	}
	waitFor(t, "broker to receive the ack", func() bool { return inflight(b, clientID) == 0 })
}

func TestHandlerErrorRedeliversAndStoresOnce(t *testing.T) {
	b := startMochi(t, "127.0.0.1:0")
	st := store{before: func(ctx context.Context, call int) error {
		if call <= 2 {
			return errors.New("store unavailable")
		}
		return nil
	}}
	sub := startSubscriber(t, b.url, st.handle)
	sub.waitSubscribed(t)

	publish(t, b.url, "medbridge/ingest/bedside", []byte("m1"))
	waitFor(t, "m1 stored after two failures", func() bool { return st.count() == 1 })
	// m2 comes after any redelivery of m1, so once m2 is stored a second
	// copy of m1 would have shown.
	publish(t, b.url, "medbridge/ingest/bedside", []byte("m2"))
	waitFor(t, "m2 stored", func() bool { return st.count() == 2 })

	if got, want := st.stored(), []stored{{"bedside", "m1"}, {"bedside", "m2"}}; !slices.Equal(got, want) {
		t.Errorf("stored %q; want %q", got, want)
	}
	waitFor(t, "broker to receive the acks", func() bool { return inflight(b, clientID) == 0 })
	s := sub.counters.Stats()
	if s.Received != 4 || s.Failed != 2 || s.Acked != 2 || s.Connects < 3 {
		t.Errorf("Stats = %+v; want 4 received, 2 failed, 2 acked, at least 3 connects", s)
	}
	if !sub.logs.Contains("store unavailable") {
		t.Errorf("log does not show the handler error:\n%s", sub.logs.String())
	}
}

func TestDeliversMessagesPublishedWhileDown(t *testing.T) {
	b := startMochi(t, "127.0.0.1:0")
	var first store
	sub1 := startSubscriber(t, b.url, first.handle)
	sub1.waitSubscribed(t)
	sub1.stop(t)

	want := []stored{{"bedside", "m1"}, {"pump", "m2"}, {"bedside", "m3"}}
	for _, m := range want {
		publish(t, b.url, "medbridge/ingest/"+m.mapping, []byte(m.payload))
	}
	var second store
	sub2 := startSubscriber(t, b.url, second.handle)
	waitFor(t, "queued messages stored", func() bool { return second.count() == len(want) })
	// mochi resends a session's queued messages sorted by the second they
	// arrived in, in no fixed order within a second: compare as a set.
	got := second.stored()
	slices.SortFunc(got, byPayload)
	if !slices.Equal(got, want) {
		t.Errorf("stored %q; want %q", got, want)
	}
	waitFor(t, "broker to receive the acks", func() bool { return inflight(b, clientID) == 0 })
	if first.count() != 0 || sub2.counters.Stats().Failed != 0 {
		t.Errorf("first subscriber stored %d messages, second failed %d; want 0 and 0", first.count(), sub2.counters.Stats().Failed)
	}
}

func TestReconnectsAfterBrokerRestart(t *testing.T) {
	b1 := startMochi(t, "127.0.0.1:0")
	var st store
	sub := startSubscriber(t, b1.url, st.handle)
	sub.waitSubscribed(t)

	b1.stop()
	waitFor(t, "subscriber to notice the broker is gone", func() bool { return !sub.counters.Stats().Connected })
	b2 := startMochi(t, strings.TrimPrefix(b1.url, "tcp://"))
	waitFor(t, "subscriber to resubscribe", func() bool {
		s := sub.counters.Stats()
		return s.Connected && s.Connects == 2
	})

	publish(t, b2.url, "medbridge/ingest/bedside", []byte("after restart"))
	waitFor(t, "message stored", func() bool { return st.count() == 1 })
	if got, want := st.stored()[0], (stored{"bedside", "after restart"}); got != want {
		t.Errorf("stored %q; want %q", got, want)
	}
}

// TestRedeliveryOnRealBroker runs the persistent-session and redelivery
// scenario against mosquitto when its binary is on PATH, and against mochi
// otherwise; the subtest's name says which ran.
func TestRedeliveryOnRealBroker(t *testing.T) {
	name, url := "mochi", ""
	if bin, err := exec.LookPath("mosquitto"); err == nil {
		name = "mosquitto"
		t.Logf("broker: mosquitto (%s)", bin)
		url = startMosquitto(t, bin)
	} else {
		t.Log("broker: mochi (mosquitto is not on PATH)")
		url = startMochi(t, "127.0.0.1:0").url
	}
	t.Run(name, func(t *testing.T) {
		var first store
		sub1 := startSubscriber(t, url, first.handle)
		sub1.waitSubscribed(t)
		sub1.stop(t)
		queued := []stored{{"bedside", "m1"}, {"pump", "m2"}}
		for _, m := range queued {
			publish(t, url, "medbridge/ingest/"+m.mapping, []byte(m.payload))
		}

		st := store{before: func(ctx context.Context, call int) error {
			if call == 1 {
				return errors.New("store unavailable")
			}
			return nil
		}}
		sub2 := startSubscriber(t, url, st.handle)
		waitFor(t, "queued messages stored", func() bool { return st.count() == 2 })
		publish(t, url, "medbridge/ingest/bedside", []byte("m3"))
		waitFor(t, "m3 stored", func() bool { return st.count() == 3 })

		got, want := st.stored(), append(queued, stored{"bedside", "m3"})
		if name == "mochi" { // see TestDeliversMessagesPublishedWhileDown
			slices.SortFunc(got[:2], byPayload)
		}
		if !slices.Equal(got, want) {
			t.Errorf("stored %q; want %q", got, want)
		}
		if s := sub2.counters.Stats(); s.Failed != 1 || s.Acked != 3 {
			t.Errorf("Stats = %+v; want 1 failed, 3 acked", s)
		}
	})
}

func byPayload(a, b stored) int { return strings.Compare(a.payload, b.payload) }
