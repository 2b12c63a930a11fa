// Package mqtt feeds device messages from an MQTT broker to medbridge's ingest
// service, acknowledging each message only after it is durably stored.
//
// # Client
//
// It speaks MQTT 3.1.1 through github.com/eclipse/paho.mqtt.golang, the mature
// Eclipse Paho client: every common broker (mosquitto, EMQX, HiveMQ, AWS IoT
// Core) speaks 3.1.1, and the client lets the caller acknowledge a message
// itself (SetAutoAckDisabled, Message.Ack), which is all that storing before
// acknowledging needs. Nothing here needs MQTT 5, so the younger paho.golang
// client is not used.
//
// # Topics and mappings
//
// The subscription filter has exactly one "+" level, and the topic level it
// matches names the mapping: with medbridge/ingest/+, a message on
// medbridge/ingest/bedside goes to mapping "bedside". Run refuses filters
// without "+", with a second "+", with "#", or starting with "$", since the
// mapping of a message would be ambiguous or missing. A message whose topic
// does not match the filter (only possible through a subscription the
// persistent session kept from an earlier filter) goes to mapping "".
//
// # Delivery
//
// Run subscribes with QoS 1 in a persistent session (CleanSession false, a
// fixed client ID), so the broker keeps messages published while medbridge is
// down and delivers them when it reconnects. Messages are handled one at a time
// (no concurrency), in the order the broker delivers them, so per topic in the
// order published; mosquitto keeps that order when it redelivers, while mochi
// v2.7.9 may reorder messages that it queued within the same second. A message is acknowledged (PUBACK)
// only after the Handler returns nil. When the Handler returns an error, Run
// disconnects without acknowledging it, waits a backoff and reconnects; MQTT
// 3.1.1 requires the broker to resend every unacknowledged message of a
// persistent session on reconnect, so the message comes back, followed by
// whatever arrived after it. Delivery is therefore at least once: a PUBACK lost
// with the connection brings the message back after it was stored, and the
// Handler must tolerate that. Messages published with QoS 0 are not
// acknowledged by the protocol and are lost if their Handler fails.
package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Handler stores one message sent to a mapping. nil means the message is
// durably stored or durably dead-lettered: it is acknowledged. An error means
// nothing was stored: the message is not acknowledged and the broker
// redelivers it. A message whose mapping is unknown (or "", for a topic that
// does not match the filter) must be dead-lettered, not refused, or it comes
// back forever.
type Handler func(ctx context.Context, mapping string, payload []byte) error

// Config configures Run.
type Config struct {
	// URL is the broker: tcp://host:1883, ssl://host:8883, ws://host/mqtt or
	// wss://… (mqtt://, mqtts:// and tls:// are accepted too).
	URL string
	// Topic is the subscription filter, with one "+" level naming the mapping,
	// e.g. medbridge/ingest/+.
	Topic string
	// ClientID names the persistent session at the broker; default
	// "medbridge". Two subscribers with the same ID take the session from each
	// other. Changing Topic under the same ClientID keeps the old subscription
	// in the session: its messages reach the Handler with mapping "".
	ClientID string
	// Username and Password authenticate to the broker when Username is set.
	Username, Password string
	// TLS configures ssl:// and wss:// connections; nil means the defaults of
	// crypto/tls (system roots, server name from URL).
	TLS *tls.Config
	// Logger receives connection events and errors, never payloads; default
	// slog.Default().
	Logger *slog.Logger
	// Counters, when set, counts received, acknowledged and failed messages.
	Counters *Counters
	// MinBackoff and MaxBackoff bound the wait before reconnecting, which
	// doubles with each consecutive failure (connect refused, connection
	// lost, Handler error); defaults 1s and 1m. A stored message, or a
	// connection that stayed up for MaxBackoff, resets it.
	MinBackoff, MaxBackoff time.Duration
}

const (
	// maxInflight bounds the QoS 1 messages a broker can have sent and not
	// yet had acknowledged, since packet identifiers are 16 bits. A queue that
	// deep never blocks Paho's reader on QoS 1 traffic; a blocked reader would
	// also stall keepalive and drop the connection.
	maxInflight = 1<<16 - 1
	// disconnectQuiesce is how long Disconnect waits, in milliseconds, for
	// outstanding acknowledgements to be written.
	disconnectQuiesce = 500
	connectTimeout    = 10 * time.Second
)

// Check reports what Run would refuse in cfg, without connecting, so that
// a server can refuse a bad configuration before it starts serving.
func Check(cfg Config) error {
	_, err := newSubscriber(cfg, func(context.Context, string, []byte) error { return nil })
	return err
}

// Run subscribes to cfg.Topic and hands each message to h until ctx ends,
// reconnecting with backoff whenever the connection fails or h returns an
// error. It returns an error only for a bad Config (before connecting), and
// nil when ctx ends.
func Run(ctx context.Context, cfg Config, h Handler) error {
	s, err := newSubscriber(cfg, h)
	if err != nil {
		return err
	}
	for {
		err := s.session(ctx)
		if ctx.Err() != nil {
			s.log.Info("mqtt subscriber stopped")
			return nil
		}
		s.failures++
		delay := s.backoff()
		s.log.Warn("mqtt session ended; reconnecting", "error", err, "retry_in", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			s.log.Info("mqtt subscriber stopped")
			return nil
		case <-t.C:
		}
	}
}

// subscriber is the state of one Run.
type subscriber struct {
	cfg      Config
	broker   string // cfg.URL, redacted
	filter   filter
	handler  Handler
	log      *slog.Logger
	counters *Counters
	failures int // consecutive failures, for backoff
}

func newSubscriber(cfg Config, h Handler) (*subscriber, error) {
	if h == nil {
		return nil, errors.New("mqtt: nil Handler")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("mqtt: broker URL: %w", err)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
	default:
		return nil, fmt.Errorf("mqtt: broker URL %q: want tcp://, ssl://, ws:// or wss://", u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("mqtt: broker URL %q has no host", u.Redacted())
	}
	f, err := parseFilter(cfg.Topic)
	if err != nil {
		return nil, err
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "medbridge"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Counters == nil {
		cfg.Counters = new(Counters)
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = time.Minute
	}
	if cfg.MinBackoff < 0 || cfg.MaxBackoff < cfg.MinBackoff {
		return nil, fmt.Errorf("mqtt: backoff from %v to %v: want 0 < min <= max", cfg.MinBackoff, cfg.MaxBackoff)
	}
	return &subscriber{
		cfg:      cfg,
		broker:   u.Redacted(),
		filter:   f,
		handler:  h,
		log:      cfg.Logger.With("broker", u.Redacted(), "client_id", cfg.ClientID, "topic", f.text),
		counters: cfg.Counters,
	}, nil
}

// backoff is the wait after s.failures consecutive failures: MinBackoff
// doubled for each failure after the first, at most MaxBackoff.
func (s *subscriber) backoff() time.Duration {
	d := s.cfg.MinBackoff
	for i := 1; i < s.failures && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, s.cfg.MaxBackoff)
}

// session connects, subscribes and handles messages until the connection is
// lost, the Handler fails or ctx ends; it says which in its error. Every
// session uses a fresh Paho client without its own reconnect logic, so that
// messages it had received but not acknowledged are simply dropped with it:
// the broker resends them to the next session.
func (s *subscriber) session(ctx context.Context) error {
	queue := make(chan paho.Message, maxInflight)
	lost := make(chan error, 1)
	done := make(chan struct{})
	opts := paho.NewClientOptions().
		AddBroker(s.cfg.URL).
		SetClientID(s.cfg.ClientID).
		SetUsername(s.cfg.Username).
		SetPassword(s.cfg.Password).
		SetTLSConfig(s.cfg.TLS).
		SetProtocolVersion(4).
		SetCleanSession(false).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(connectTimeout).
		SetAutoAckDisabled(true).
		SetOrderMatters(true).
		// The default handler, not a per-subscription one, because a
		// persistent session's queued messages arrive before Subscribe
		// returns.
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			select {
			case queue <- m:
			case <-done:
			}
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			select {
			case lost <- err:
			default:
			}
		})
	client := paho.NewClient(opts)
	defer client.Disconnect(disconnectQuiesce)
	defer close(done) // before Disconnect, which waits for the publish handler

	connect := client.Connect()
	if err := await(ctx, connect); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	sessionPresent := connect.(*paho.ConnectToken).SessionPresent()
	if !sessionPresent && s.counters.connects.Load() > 0 {
		s.log.Warn("mqtt broker had no session for this client: messages published while disconnected are lost")
	}
	// A present session keeps its subscription, so subscribing again only
	// matters when Topic changed; some brokers (mochi) refuse it when the
	// packet identifier that Paho picks collides with one of their own
	// in-flight messages.
	if err := s.subscribe(ctx, client); err != nil {
		if !sessionPresent || ctx.Err() != nil {
			return err
		}
		s.log.Warn("mqtt resubscribe failed; the session keeps its subscription", "error", err)
	}
	up := time.Now()
	s.log.Info("mqtt subscribed", "session_present", sessionPresent)
	s.counters.connects.Add(1)
	s.counters.connected.Store(true)
	defer s.counters.connected.Store(false)

	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-lost:
			if time.Since(up) >= s.cfg.MaxBackoff {
				s.failures = 0
			}
			return fmt.Errorf("connection lost: %w", err)
		case m := <-queue:
			if err := s.handle(ctx, m); err != nil {
				return err
			}
		}
	}
}

// subscribe subscribes to the filter with QoS 1.
func (s *subscriber) subscribe(ctx context.Context, client paho.Client) error {
	sub := client.Subscribe(s.filter.text, 1, nil)
	if err := await(ctx, sub); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if qos := sub.(*paho.SubscribeToken).Result()[s.filter.text]; qos != 1 {
		return fmt.Errorf("subscribe: broker granted QoS %#x, want 1", qos)
	}
	return nil
}

// handle hands m to the Handler and acknowledges it if the Handler stored it.
func (s *subscriber) handle(ctx context.Context, m paho.Message) error {
	s.counters.received.Add(1)
	mapping, ok := s.filter.mapping(m.Topic())
	if !ok {
		s.log.Warn("mqtt message topic does not match the filter; handing it over with mapping \"\"", "message_topic", m.Topic())
	}
	hctx := withOrigin(ctx, Origin{ClientID: s.cfg.ClientID, Broker: s.broker, Topic: m.Topic()})
	if err := s.handler(hctx, mapping, m.Payload()); err != nil {
		s.counters.failed.Add(1)
		return fmt.Errorf("handler for mapping %q (message id %d, qos %d): %w", mapping, m.MessageID(), m.Qos(), err)
	}
	m.Ack()
	s.counters.acked.Add(1)
	s.failures = 0
	return nil
}

// await waits for a Paho token or for ctx to end.
func await(ctx context.Context, t paho.Token) error {
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}
