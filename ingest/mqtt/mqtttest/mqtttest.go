// Package mqtttest starts MQTT brokers for tests: mosquitto, the broker
// medbridge meets in production, when it is installed, and otherwise an
// in-process mochi broker, which also lets a test inspect a client's
// in-flight messages.
package mqtttest

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// timeout bounds each wait on a broker: start-up, connect, publish.
const timeout = 10 * time.Second

// Start starts a broker open to anonymous clients for the rest of the test
// and returns its URL (tcp://127.0.0.1:port): mosquitto when Mosquitto finds
// it, else mochi. It logs which.
func Start(t testing.TB) (url string) {
	t.Helper()
	if bin, ok := Mosquitto(); ok {
		t.Logf("MQTT broker: mosquitto (%s)", bin)
		return StartMosquitto(t, bin)
	}
	t.Log("MQTT broker: in-process mochi (mosquitto is not installed)")
	return StartMochi(t, "127.0.0.1:0").URL
}

// Mosquitto returns the path of the mosquitto binary: on PATH, or at
// /usr/sbin/mosquitto, where Debian installs it outside a user's PATH.
func Mosquitto() (bin string, ok bool) {
	if bin, err := exec.LookPath("mosquitto"); err == nil {
		return bin, true
	}
	const debian = "/usr/sbin/mosquitto"
	if fi, err := os.Stat(debian); err == nil && !fi.IsDir() {
		return debian, true
	}
	return "", false
}

// StartMosquitto runs bin on a free loopback port, without persistence and
// open to anonymous clients, until the test ends, and returns its URL. Its
// log is shown when the test fails.
func StartMosquitto(t testing.TB, bin string) (url string) {
	t.Helper()
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(dir, "mosquitto.conf")
	text := fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n", port)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	logs, err := os.Create(filepath.Join(dir, "mosquitto.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		logs.Close()
		if t.Failed() {
			text, _ := os.ReadFile(logs.Name())
			t.Logf("mosquitto log:\n%s", text)
		}
	})
	// mosquitto exits if the port was taken since it was found free: fail
	// at once, with its log, rather than at the deadline.
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return "tcp://" + addr
		}
		select {
		case <-exited:
			text, _ := os.ReadFile(logs.Name())
			t.Fatalf("mosquitto exited on start: %v\n%s", cmd.ProcessState, text)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto not accepting connections on %s after %v", addr, timeout)
		}
	}
}

// Broker is an in-process mochi broker.
type Broker struct {
	*mochi.Server
	// URL is tcp://host:port.
	URL  string
	once sync.Once
}

// StartMochi starts an in-process broker that lets everyone in, listening on
// addr ("127.0.0.1:0" for any port, or a stopped Broker's address to restart
// it), and stops it when the test ends.
func StartMochi(t testing.TB, addr string) *Broker {
	t.Helper()
	srv := mochi.New(&mochi.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := srv.AddHook(new(allowAll), nil); err != nil {
		t.Fatal(err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "tcp", Address: addr})
	if err := srv.AddListener(l); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	b := &Broker{Server: srv, URL: "tcp://" + l.Address()}
	t.Cleanup(b.Stop)
	return b
}

// Stop closes the broker and every connection to it; it may be called again.
func (b *Broker) Stop() {
	b.once.Do(func() { b.Close() })
}

// Inflight is how many messages b has sent to clientID and not had
// acknowledged.
func (b *Broker) Inflight(clientID string) int {
	cl, ok := b.Clients.Get(clientID)
	if !ok {
		return 0
	}
	return cl.State.Inflight.Len()
}

// allowAll lets every client connect, publish and subscribe. (mochi's own
// auth.AllowHook package needs a module medbridge does not otherwise use.)
type allowAll struct{ mochi.HookBase }

func (*allowAll) ID() string { return "allow-all" }

func (*allowAll) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}

func (*allowAll) OnConnectAuthenticate(*mochi.Client, packets.Packet) bool { return true }

func (*allowAll) OnACLCheck(*mochi.Client, string, bool) bool { return true }

// publishers numbers Publish's clients, so that concurrent Publish calls do
// not take each other's session.
var publishers atomic.Int64

// Publish sends payload to topic on the broker at url with QoS 1 and
// returns once the broker has acknowledged it (PUBACK), so the broker holds
// it for every subscription, including persistent sessions whose client is
// disconnected.
func Publish(t testing.TB, url, topic string, payload []byte) {
	t.Helper()
	id := fmt.Sprintf("mqtttest-publisher-%d-%d", os.Getpid(), publishers.Add(1))
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(id).SetProtocolVersion(4))
	if tok := c.Connect(); !tok.WaitTimeout(timeout) || tok.Error() != nil {
		t.Fatalf("publisher connect to %s: %v", url, tok.Error())
	}
	defer c.Disconnect(250)
	if tok := c.Publish(topic, 1, false, payload); !tok.WaitTimeout(timeout) || tok.Error() != nil {
		t.Fatalf("publish to %s: %v", topic, tok.Error())
	}
}
