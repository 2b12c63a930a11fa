package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// stmtCache holds prepared search statements by SQL text. The text
// depends on the query's shape (which filters, modifiers and how many
// values), not on the values, so the common searches are prepared once;
// past maxCachedStatements, statements are not kept.
type stmtCache struct {
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
	// trace, when set (by tests), sees every statement before it runs.
	trace func(q expr)
}

const maxCachedStatements = 256

func (c *stmtCache) query(ctx context.Context, db *sql.DB, q expr) (*sql.Rows, error) {
	if c.trace != nil {
		c.trace(q)
	}
	c.mu.Lock()
	stmt, ok := c.stmts[q.sql]
	full := len(c.stmts) >= maxCachedStatements
	c.mu.Unlock()
	if !ok {
		if full {
			return db.QueryContext(ctx, q.sql, q.args...)
		}
		var err error
		if stmt, err = db.PrepareContext(ctx, q.sql); err != nil {
			return nil, err
		}
		c.mu.Lock()
		if prev, dup := c.stmts[q.sql]; dup {
			stmt.Close()
			stmt = prev
		} else {
			if c.stmts == nil {
				c.stmts = map[string]*sql.Stmt{}
			}
			c.stmts[q.sql] = stmt
		}
		c.mu.Unlock()
	}
	return stmt.QueryContext(ctx, q.args...)
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, stmt := range c.stmts {
		errs = append(errs, stmt.Close())
	}
	c.stmts = nil
	return errors.Join(errs...)
}
