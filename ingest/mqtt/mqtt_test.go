package mqtt_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medbridge/medbridge/ingest/mqtt"
	"github.com/medbridge/medbridge/ingest/mqtt/mqtttest"
)

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
	b := mqtttest.StartMochi(t, "127.0.0.1:0")
	var st store
	sub := startSubscriber(t, b.URL, st.handle)
	sub.waitSubscribed(t)

	payload := "{\"name\":\"Jane Secret\"}\x00\xff\xfe"
	mqtttest.Publish(t, b.URL, "medbridge/ingest/bedside", []byte(payload))

	waitFor(t, "message stored", func() bool { return st.count() == 1 })
	if got, want := st.stored()[0], (stored{"bedside", payload}); got != want {
		t.Errorf("stored %q; want %q", got, want)
	}
	waitFor(t, "broker to receive the ack", func() bool { return b.Inflight(clientID) == 0 })
	waitFor(t, "acked count", func() bool { return sub.counters.Stats().Acked == 1 })
	if got, want := sub.counters.Stats(), (mqtt.Stats{Received: 1, Acked: 1, Connects: 1, Connected: true}); got != want {
		t.Errorf("Stats = %+v; want %+v", got, want)
	}
	if sub.logs.Contains("Jane Secret") {
		t.Errorf("log shows the payload:\n%s", sub.logs.String())
	}
}

func TestAcksOnlyAfterHandlerReturns(t *testing.T) {
	b := mqtttest.StartMochi(t, "127.0.0.1:0")
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
	sub := startSubscriber(t, b.URL, st.handle)
	sub.waitSubscribed(t)
	mqtttest.Publish(t, b.URL, "medbridge/ingest/bedside", []byte("m1"))
	waitClosed(t, "handler to be called", entered)

	// While the handler holds m1, the broker keeps it in flight, and m2
	// joins it: an early ack of m1 would have reached the broker before m2
	// was even published.
	mqtttest.Publish(t, b.URL, "medbridge/ingest/bedside", []byte("m2"))
	waitFor(t, "broker to hold m1 and m2 in flight", func() bool { return b.Inflight(clientID) == 2 })
	if s := sub.counters.Stats(); s.Acked != 0 {
		t.Errorf("while the handler runs Stats = %+v; want 0 acked", s)
	}

	close(release)
	waitFor(t, "broker to receive the acks", func() bool { return b.Inflight(clientID) == 0 })
	waitFor(t, "acked count", func() bool { return sub.counters.Stats().Acked == 2 })
	if got, want := st.stored(), []stored{{"bedside", "m1"}, {"bedside", "m2"}}; !slices.Equal(got, want) {
		t.Errorf("stored %q; want %q", got, want)
	}
}

func TestUnackedMessageGoesToNextSubscriber(t *testing.T) {
	b := mqtttest.StartMochi(t, "127.0.0.1:0")
	entered := make(chan struct{})
	first := store{before: func(ctx context.Context, call int) error {
		if call == 1 {
			close(entered)
		}
		<-ctx.Done()
		return ctx.Err()
	}}
	sub1 := startSubscriber(t, b.URL, first.handle)
	sub1.waitSubscribed(t)
	mqtttest.Publish(t, b.URL, "medbridge/ingest/pump", []byte("m1"))
	waitClosed(t, "first handler to be called", entered)
	sub1.stop(t)
	if s := sub1.counters.Stats(); s.Acked != 0 || s.Failed != 1 {
		t.Errorf("first subscriber Stats = %+v; want 0 acked, 1 failed", s)
	}
	if n := b.Inflight(clientID); n != 1 {
		t.Fatalf("after the first subscriber stopped the broker has %d messages in flight; want 1", n)
	}

	var second store
	startSubscriber(t, b.URL, second.handle)
	waitFor(t, "message stored by the second subscriber", func() bool { return second.count() == 1 })
	if got, want := second.stored(), []stored{{"pump", "m1"}}; !slices.Equal(got, want) {
		t.Errorf("second subscriber stored %q; want %q", got, want)
	}
	waitFor(t, "broker to receive the ack", func() bool { return b.Inflight(clientID) == 0 })
}

func TestHandlerErrorRedeliversAndStoresOnce(t *testing.T) {
	b := mqtttest.StartMochi(t, "127.0.0.1:0")
	st := store{before: func(ctx context.Context, call int) error {
		if call <= 2 {
			return errors.New("store unavailable")
		}
		return nil
	}}
	sub := startSubscriber(t, b.URL, st.handle)
	sub.waitSubscribed(t)

	mqtttest.Publish(t, b.URL, "medbridge/ingest/bedside", []byte("m1"))
	waitFor(t, "m1 stored after two failures", func() bool { return st.count() == 1 })
	// m2 comes after any redelivery of m1, so once m2 is stored a second
	// copy of m1 would have shown.
	mqtttest.Publish(t, b.URL, "medbridge/ingest/bedside", []byte("m2"))
	waitFor(t, "m2 stored", func() bool { return st.count() == 2 })

	if got, want := st.stored(), []stored{{"bedside", "m1"}, {"bedside", "m2"}}; !slices.Equal(got, want) {
		t.Errorf("stored %q; want %q", got, want)
	}
	waitFor(t, "broker to receive the acks", func() bool { return b.Inflight(clientID) == 0 })
	s := sub.counters.Stats()
	if s.Received != 4 || s.Failed != 2 || s.Acked != 2 || s.Connects < 3 {
		t.Errorf("Stats = %+v; want 4 received, 2 failed, 2 acked, at least 3 connects", s)
	}
	if !sub.logs.Contains("store unavailable") {
		t.Errorf("log does not show the handler error:\n%s", sub.logs.String())
	}
}

func TestDeliversMessagesPublishedWhileDown(t *testing.T) {
	b := mqtttest.StartMochi(t, "127.0.0.1:0")
	var first store
	sub1 := startSubscriber(t, b.URL, first.handle)
	sub1.waitSubscribed(t)
	sub1.stop(t)

	want := []stored{{"bedside", "m1"}, {"pump", "m2"}, {"bedside", "m3"}}
	for _, m := range want {
		mqtttest.Publish(t, b.URL, "medbridge/ingest/"+m.mapping, []byte(m.payload))
	}
	var second store
	sub2 := startSubscriber(t, b.URL, second.handle)
	waitFor(t, "queued messages stored", func() bool { return second.count() == len(want) })
	// mochi resends a session's queued messages sorted by the second they
	// arrived in, in no fixed order within a second: compare as a set.
	got := second.stored()
	slices.SortFunc(got, byPayload)
	if !slices.Equal(got, want) {
		t.Errorf("stored %q; want %q", got, want)
	}
	waitFor(t, "broker to receive the acks", func() bool { return b.Inflight(clientID) == 0 })
	if first.count() != 0 || sub2.counters.Stats().Failed != 0 {
		t.Errorf("first subscriber stored %d messages, second failed %d; want 0 and 0", first.count(), sub2.counters.Stats().Failed)
	}
}

func TestReconnectsAfterBrokerRestart(t *testing.T) {
	b1 := mqtttest.StartMochi(t, "127.0.0.1:0")
	var st store
	sub := startSubscriber(t, b1.URL, st.handle)
	sub.waitSubscribed(t)

	b1.Stop()
	waitFor(t, "subscriber to notice the broker is gone", func() bool { return !sub.counters.Stats().Connected })
	b2 := mqtttest.StartMochi(t, strings.TrimPrefix(b1.URL, "tcp://"))
	waitFor(t, "subscriber to resubscribe", func() bool {
		s := sub.counters.Stats()
		return s.Connected && s.Connects == 2
	})

	mqtttest.Publish(t, b2.URL, "medbridge/ingest/bedside", []byte("after restart"))
	waitFor(t, "message stored", func() bool { return st.count() == 1 })
	if got, want := st.stored()[0], (stored{"bedside", "after restart"}); got != want {
		t.Errorf("stored %q; want %q", got, want)
	}
}

// TestRedeliveryOnRealBroker runs the persistent-session and redelivery
// scenario against mosquitto when it is installed, and against mochi
// otherwise; the subtest's name says which ran.
func TestRedeliveryOnRealBroker(t *testing.T) {
	name := "mochi"
	if _, ok := mqtttest.Mosquitto(); ok {
		name = "mosquitto"
	}
	url := mqtttest.Start(t)
	t.Run(name, func(t *testing.T) {
		var first store
		sub1 := startSubscriber(t, url, first.handle)
		sub1.waitSubscribed(t)
		sub1.stop(t)
		queued := []stored{{"bedside", "m1"}, {"pump", "m2"}}
		for _, m := range queued {
			mqtttest.Publish(t, url, "medbridge/ingest/"+m.mapping, []byte(m.payload))
		}

		st := store{before: func(ctx context.Context, call int) error {
			if call == 1 {
				return errors.New("store unavailable")
			}
			return nil
		}}
		sub2 := startSubscriber(t, url, st.handle)
		waitFor(t, "queued messages stored", func() bool { return st.count() == 2 })
		mqtttest.Publish(t, url, "medbridge/ingest/bedside", []byte("m3"))
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
