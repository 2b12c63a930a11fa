package authz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/medbridge/medbridge/storage"
)

// Record kinds: every piece of the authorization server's state is a
// storage.Record of one of these kinds, so that it survives restarts and
// is shared by every server process on the same store.
const (
	kindClient  = "oauth.client"  // ID: client_id
	kindUser    = "oauth.user"    // ID: username
	kindKey     = "oauth.key"     // ID: key ID; expires once retired keys' tokens have
	kindAuthReq = "oauth.authreq" // ID: auth request ID (random)
	kindCode    = "oauth.code"    // ID: SHA-256 of the code
	kindRefresh = "oauth.refresh" // ID: SHA-256 of the refresh token
	kindRevoked = "oauth.revoked" // ID: grant ID; its tokens are refused
	kindLaunch  = "oauth.launch"  // ID: launch value
	kindJTI     = "oauth.jti"     // ID: client_id + " " + jti of a client assertion
)

// records reads and writes JSON-encoded records of one store.
type records struct {
	store storage.Store
}

// get decodes the record kind/id into v and returns its version;
// storage.ErrNotFound when there is none.
func (rs records) get(ctx context.Context, kind, id string, v any) (int64, error) {
	r, err := rs.store.GetRecord(ctx, kind, id)
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		return 0, fmt.Errorf("authz: decode %s record: %w", kind, err)
	}
	return r.Version, nil
}

// put stores v as kind/id with a compare-and-swap on expected (0: new).
func (rs records) put(ctx context.Context, kind, id string, v any, expected int64, expires time.Time) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("authz: encode %s record: %w", kind, err)
	}
	return rs.store.PutRecord(ctx, storage.Record{Kind: kind, ID: id, Data: data, Expires: expires}, expected)
}

// take consumes the single-use record kind/id: it decodes it into v and
// deletes it. Of concurrent takers exactly one succeeds; the others get
// storage.ErrNotFound.
func (rs records) take(ctx context.Context, kind, id string, v any) error {
	if _, err := rs.get(ctx, kind, id, v); err != nil {
		return err
	}
	return rs.store.DeleteRecord(ctx, kind, id)
}

// list decodes every unexpired record of kind; each calls add with the
// record's ID and a decoder for its data.
func (rs records) list(ctx context.Context, kind string, add func(id string, decode func(v any) error) error) error {
	all, err := rs.store.ListRecords(ctx, kind)
	if err != nil {
		return err
	}
	for _, r := range all {
		decode := func(v any) error {
			if err := json.Unmarshal(r.Data, v); err != nil {
				return fmt.Errorf("authz: decode %s record %s: %w", kind, r.ID, err)
			}
			return nil
		}
		if err := add(r.ID, decode); err != nil {
			return err
		}
	}
	return nil
}

// isNotFound reports whether err says a record does not exist.
func isNotFound(err error) bool { return errors.Is(err, storage.ErrNotFound) }

// isConflict reports whether a compare-and-swap lost.
func isConflict(err error) bool { return errors.Is(err, storage.ErrVersionConflict) }
