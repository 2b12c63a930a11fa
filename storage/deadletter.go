package storage

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// A dead-letter cursor is the position of the last letter of a page,
// "received.id" (received in microseconds), in unpadded base64url so that
// it passes through a URL as is. Both stores page by it.

// EncodeDeadLetterCursor is the cursor after the letter received at
// received (µs) with id.
func EncodeDeadLetterCursor(received int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(received, 10) + "." + id))
}

// DecodeDeadLetterCursor reads a cursor of EncodeDeadLetterCursor;
// anything else is ErrBadCursor.
func DecodeDeadLetterCursor(cursor string) (received int64, id string, err error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return 0, "", ErrBadCursor
	}
	n, id, ok := strings.Cut(string(raw), ".")
	if !ok || id == "" {
		return 0, "", ErrBadCursor
	}
	if received, err = strconv.ParseInt(n, 10, 64); err != nil {
		return 0, "", ErrBadCursor
	}
	return received, id, nil
}
