package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// The index tables name a (resource type, parameter) pair by a pid from
// params, and a token or unit system by an id from terms, rather than
// repeating the text in every row. Ids, once committed, never change, so
// both sides cache them: the writer the ids it assigned or read, and the
// readers the ids they looked up.

// writerDict is the writer goroutine's cache of params and terms. Only
// that goroutine uses it. Ids assigned in a transaction that does not
// commit are forgotten again (rollback).
type writerDict struct {
	params map[paramKey]int64
	terms  map[string]int64
	// pendingParams and pendingTerms were assigned in the open transaction.
	pendingParams []paramKey
	pendingTerms  []string
}

type paramKey struct{ typ, code string }

func newWriterDict() *writerDict {
	return &writerDict{params: map[paramKey]int64{}, terms: map[string]int64{}}
}

// param returns the pid of typ's parameter code, adding it in tx if new.
func (d *writerDict) param(tx *sql.Tx, typ, code string) (int64, error) {
	k := paramKey{typ, code}
	if pid, ok := d.params[k]; ok {
		return pid, nil
	}
	pid, err := intern(tx,
		"SELECT pid FROM params WHERE code = ? AND type = ?",
		"INSERT INTO params (code, type) VALUES (?, ?)", code, typ)
	if err != nil {
		return 0, fmt.Errorf("parameter %s of %s: %w", code, typ, err)
	}
	d.params[k] = pid
	d.pendingParams = append(d.pendingParams, k)
	return pid, nil
}

// term returns the id of text, 0 for "", adding it in tx if new.
func (d *writerDict) term(tx *sql.Tx, text string) (int64, error) {
	if text == "" {
		return 0, nil
	}
	if id, ok := d.terms[text]; ok {
		return id, nil
	}
	id, err := intern(tx,
		"SELECT id FROM terms WHERE text = ?",
		"INSERT INTO terms (text) VALUES (?)", text)
	if err != nil {
		return 0, fmt.Errorf("term %q: %w", text, err)
	}
	d.terms[text] = id
	d.pendingTerms = append(d.pendingTerms, text)
	return id, nil
}

// intern reads an id with get, or inserts a row with put and returns its
// rowid. The statements are rare (a new parameter or system), so they are
// not prepared ahead.
func intern(tx *sql.Tx, get, put string, args ...any) (int64, error) {
	ctx := context.Background() // see apply
	var id int64
	err := tx.QueryRowContext(ctx, get, args...).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, put, args...)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// commit keeps the ids assigned in the transaction that just committed.
func (d *writerDict) commit() {
	d.pendingParams, d.pendingTerms = d.pendingParams[:0], d.pendingTerms[:0]
}

// rollback forgets the ids assigned in the transaction that was rolled back.
func (d *writerDict) rollback() {
	for _, k := range d.pendingParams {
		delete(d.params, k)
	}
	for _, t := range d.pendingTerms {
		delete(d.terms, t)
	}
	d.commit()
}

// readerDict caches the ids readers looked up. Only ids found are cached:
// one missing now may be added by a later write.
type readerDict struct {
	params sync.Map // paramKey → int64
	terms  sync.Map // string → int64
}

// paramIDs returns the pids of parameter code on types (every type when
// types is empty) that exist; none when no resource of those types ever
// had an entry for it.
func (s *Store) paramIDs(ctx context.Context, types []string, code string) ([]int64, error) {
	if len(types) == 0 {
		rows, err := s.reader.QueryContext(ctx, "SELECT pid FROM params WHERE code = ? ORDER BY pid", code)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var pids []int64
		for rows.Next() {
			var pid int64
			if err := rows.Scan(&pid); err != nil {
				return nil, err
			}
			pids = append(pids, pid)
		}
		return pids, rows.Err()
	}
	pids := make([]int64, 0, len(types))
	for _, typ := range types {
		k := paramKey{typ, code}
		if pid, ok := s.dict.params.Load(k); ok {
			pids = append(pids, pid.(int64))
			continue
		}
		var pid int64
		err := s.reader.QueryRowContext(ctx, "SELECT pid FROM params WHERE code = ? AND type = ?", code, typ).Scan(&pid)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			continue
		case err != nil:
			return nil, err
		}
		s.dict.params.Store(k, pid)
		pids = append(pids, pid)
	}
	return pids, nil
}

// termID returns the id of text (0 for ""), and false when no entry ever
// used it.
func (s *Store) termID(ctx context.Context, text string) (int64, bool, error) {
	if text == "" {
		return 0, true, nil
	}
	if id, ok := s.dict.terms.Load(text); ok {
		return id.(int64), true, nil
	}
	var id int64
	err := s.reader.QueryRowContext(ctx, "SELECT id FROM terms WHERE text = ?", text).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, err
	}
	s.dict.terms.Store(text, id)
	return id, true, nil
}
