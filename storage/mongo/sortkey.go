package mongo

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"math"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/storage"
)

// Sort keys. A resource sorts by the smallest of its values of a parameter
// when ascending and by the largest when descending; resources without a
// value come last either way. The value is encoded as bytes whose order is
// the value's order (sortValue), and stored twice under o.<param>:
//
//	a  hex of the complement of the smallest value's bytes followed by a
//	   zero byte: its order is the reverse of the values' order
//	d  hex of the largest value's bytes
//
// Search always sorts these fields descending, so "_sort=x" is o.x.a
// descending and "_sort=-x" is o.x.d descending, and a missing field sorts
// after every string in both. Hex keeps the keys valid UTF-8 strings that
// compare bytewise like the values. Strings are cut at maxSortBytes: values
// that agree that far sort by resource id.
const maxSortBytes = 64

type sortRange struct{ min, max []byte }

func (r *sortRange) add(v []byte) {
	if bytes.Compare(v, r.min) < 0 {
		r.min = v
	}
	if bytes.Compare(v, r.max) > 0 {
		r.max = v
	}
}

// sortValue returns the order-preserving encoding of e's value, false for
// entries that do not sort (composites, empty values).
func sortValue(e *storage.IndexEntry) ([]byte, bool) {
	switch e.Type {
	case conformance.ParamString:
		return sortText(e.Norm)
	case conformance.ParamToken:
		return sortText(e.Code)
	case conformance.ParamReference:
		if e.RefID != "" && e.RefType != "" {
			return sortText(e.RefType + "/" + e.RefID)
		}
		return sortText(e.URL)
	case conformance.ParamURI:
		return sortText(e.Exact)
	case conformance.ParamDate:
		return binary.BigEndian.AppendUint64(nil, uint64(e.Start)^(1<<63)), true
	case conformance.ParamNumber, conformance.ParamQuantity:
		return sortFloat(e.Number), true
	}
	return nil, false
}

// sortText cuts s and replaces zero bytes, which the complement's
// terminator needs to be the smallest byte.
func sortText(s string) ([]byte, bool) {
	if s == "" {
		return nil, false
	}
	b := []byte(s[:min(len(s), maxSortBytes)])
	for i, c := range b {
		if c == 0 {
			b[i] = 1
		}
	}
	return b, true
}

// sortFloat encodes f so that the bytes compare like the numbers.
func sortFloat(f float64) []byte {
	bits := math.Float64bits(f)
	if bits>>63 == 1 {
		bits = ^bits
	} else {
		bits |= 1 << 63
	}
	return binary.BigEndian.AppendUint64(nil, bits)
}

func ascKey(v []byte) string {
	c := make([]byte, len(v)+1)
	for i, b := range v {
		c[i] = ^b
	}
	c[len(v)] = 0xff
	return hex.EncodeToString(c)
}

func descKey(v []byte) string { return hex.EncodeToString(v) }
