package mongotest

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
)

// FerretDB v1 runs an update, findAndModify or delete as a query followed
// by a separate write by _id, so a filter such as {_id, version: n} is not
// checked atomically with the write: two concurrent compare-and-swaps can
// both match, and a $set can write back a stale copy of a document another
// command just replaced. MongoDB applies each single-document write
// atomically, and the Mongo store relies on that. serializer restores it
// for tests: a proxy in front of FerretDB that lets one command at a time
// through, which is stronger than MongoDB's per-document atomicity and
// otherwise transparent.
type serializer struct {
	ln      net.Listener
	backend string

	run sync.Mutex // held for each request/reply round trip

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func newSerializer(backend string) (*serializer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &serializer{ln: ln, backend: backend, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

func (p *serializer) addr() string { return p.ln.Addr().String() }

func (p *serializer) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", p.backend)
		if err != nil {
			c.Close()
			continue
		}
		if !p.track(c, b) {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.relay(c, b)
			p.untrack(c, b)
		}()
	}
}

func (p *serializer) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *serializer) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		c.Close()
		delete(p.conns, c)
	}
}

// relay forwards each request from client to backend and the backend's
// reply back, one round trip at a time across all connections. Neither
// FerretDB v1 nor the driver (against a server without topologyVersion)
// uses moreToCome/exhaust, so every request has exactly one reply.
func (p *serializer) relay(client, backend net.Conn) {
	for {
		req, err := readMessage(client)
		if err != nil {
			return
		}
		p.run.Lock()
		reply, err := roundTrip(backend, req)
		p.run.Unlock()
		if err != nil {
			return
		}
		if _, err := client.Write(reply); err != nil {
			return
		}
	}
}

func roundTrip(backend net.Conn, req []byte) ([]byte, error) {
	if _, err := backend.Write(req); err != nil {
		return nil, err
	}
	return readMessage(backend)
}

// readMessage reads one wire-protocol message: a little-endian int32
// length that counts itself, then the rest.
func readMessage(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(binary.LittleEndian.Uint32(hdr[:]))
	if n < 16 || n > 64<<20 {
		return nil, fmt.Errorf("mongotest: bad message length %d", n)
	}
	msg := make([]byte, n)
	copy(msg, hdr[:])
	if _, err := io.ReadFull(r, msg[4:]); err != nil {
		return nil, err
	}
	return msg, nil
}

// close stops accepting and drops every connection, as a crashed server
// would.
func (p *serializer) close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	_ = p.ln.Close()
	p.wg.Wait()
}
