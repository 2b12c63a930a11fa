package mongo

import (
	"context"
	"sync"

	"github.com/medbridge/medbridge/storage"
)

// batchConcurrency bounds the Writes a WriteBatch runs at once: enough to
// overlap round trips to the server without flooding its connection pool.
const batchConcurrency = 8

// WriteBatch applies each of ws as Write does; see storage.Store. The store
// has no multi-document transactions (FerretDB, used in tests, has none), so
// a batch is neither atomic nor committed together: each write commits on
// its own, and a failure leaves the writes before and beside it committed.
// Up to batchConcurrency writes run at once; the writes of one resource
// run one after the other in the order of ws.
func (s *Store) WriteBatch(ctx context.Context, ws []storage.Write) []error {
	errs := make([]error, len(ws))
	// chains[c] lists the positions in ws of one resource's writes.
	var chains [][]int
	chainOf := make(map[string]int, len(ws))
	for i, w := range ws {
		key := currentKey(w.Resource.Type, w.Resource.ID)
		c, ok := chainOf[key]
		if !ok {
			c = len(chains)
			chainOf[key] = c
			chains = append(chains, nil)
		}
		chains[c] = append(chains[c], i)
	}
	slots := make(chan struct{}, batchConcurrency)
	var wg sync.WaitGroup
	for _, chain := range chains {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			for _, i := range chain {
				errs[i] = s.Write(ctx, ws[i])
			}
		})
	}
	wg.Wait()
	return errs
}
