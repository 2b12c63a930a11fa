// Package mongotest runs an embedded FerretDB (MongoDB wire protocol over
// SQLite) for tests of the Mongo store and of anything built on it.
package mongotest

import (
	"context"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// running maps a data directory to the FerretDB serving it, so that a second
// Start on the same directory replaces the first instead of running two
// servers over one set of SQLite files.
var (
	mu      sync.Mutex
	running = map[string]*instance{}
)

type instance struct {
	cancel context.CancelFunc
	done   chan struct{}
	proxy  *serializer // nil until FerretDB listens
}

// stop drops every client connection and stops FerretDB.
func (in *instance) stop() {
	if in.proxy != nil {
		in.proxy.close()
	}
	in.cancel()
	<-in.done
}

// Start runs FerretDB with its SQLite files in dir and returns a MongoDB
// URI for it, on 127.0.0.1 and without a database name, so the store's
// default database is used. The URI points at a proxy that passes one
// command at a time (see serializer), because FerretDB v1's conditional
// updates are not atomic. FerretDB stops when the test ends, or
// earlier when Start is called again for the same dir: that restarts the
// server over the same files, which is how durability tests "reopen" a
// store. A store still open on the old server sees its connections drop,
// like a crashed database.
func Start(t testing.TB, dir string) (uri string) {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatalf("mongotest: %v", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		t.Fatalf("mongotest: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	if old := running[abs]; old != nil {
		old.stop()
		delete(running, abs)
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
		// INFO logs every connection and WARN every error reply.
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		t.Fatalf("mongotest: starting FerretDB: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(in.done)
		_ = f.Run(ctx)
	}()
	running[abs] = in

	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if running[abs] == in {
			delete(running, abs)
		}
		select {
		case <-in.done:
		default:
			in.stop()
		}
	})

	// MongoDBURI blocks until Run has bound the listener.
	uriCh := make(chan string, 1)
	go func() { uriCh <- f.MongoDBURI() }()
	var direct string
	select {
	case direct = <-uriCh:
	case <-in.done:
		t.Fatalf("mongotest: FerretDB stopped before it listened")
	case <-time.After(30 * time.Second):
		t.Fatalf("mongotest: FerretDB did not start listening")
	}
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatalf("mongotest: FerretDB URI %q: %v", direct, err)
	}
	in.proxy, err = newSerializer(u.Host)
	if err != nil {
		t.Fatalf("mongotest: %v", err)
	}
	return "mongodb://" + in.proxy.addr() + "/"
}
