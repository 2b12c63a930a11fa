package mqtt

import "sync/atomic"

// Counters counts what Run does, for the server to export. The zero value is
// ready to use and it is safe for concurrent use; pass the same Counters to
// successive Runs to keep counting.
type Counters struct {
	received, acked, failed, connects atomic.Uint64
	connected                         atomic.Bool
}

// Stats is a snapshot of Counters. Received-Acked-Failed is the message being
// handled now, 0 or 1.
type Stats struct {
	Received  uint64 // messages handed to the Handler, redeliveries included
	Acked     uint64 // messages whose Handler returned nil, then acknowledged
	Failed    uint64 // messages whose Handler returned an error, left unacknowledged
	Connects  uint64 // sessions established: connected and subscribed
	Connected bool   // whether a session is established now
}

// Stats returns the current counts.
func (c *Counters) Stats() Stats {
	return Stats{
		Received:  c.received.Load(),
		Acked:     c.acked.Load(),
		Failed:    c.failed.Load(),
		Connects:  c.connects.Load(),
		Connected: c.connected.Load(),
	}
}
