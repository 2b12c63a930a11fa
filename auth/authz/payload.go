package authz

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/crypto"
)

// signJWT signs claims as a compact JWS whose payload, base64url-encoded,
// contains neither '-' nor '_'. The browser build of SMART's fhirclient
// decodes token payloads with atob, which rejects both; a payload holding
// them makes getFhirUser() throw in browsers only. The claims are the same
// JSON value either way: only the escaping inside strings differs.
func signJWT(claims any, signer jose.Signer) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("authz: encode claims: %w", err)
	}
	return crypto.SignPayload(atobSafe(payload), signer)
}

// atobSafe rewrites compact JSON so that its base64 encoding uses neither
// of the two characters that differ between base64 and base64url.
//
// A 6-bit group is 62 or 63 only when some byte b has b&63 >= 62 (the last
// group of a triple), b&15 == 15 followed by a byte >= 0x40 (the third), or
// b >= 0x80. JSON outside strings ({}[]:,", digits, true, false, null) and
// the escapes encoding/json writes never contain such bytes; inside strings
// every byte that could is written as a \u escape, whose characters (\, u,
// hex digits) cannot either.
func atobSafe(compact []byte) []byte {
	out := make([]byte, 0, len(compact)+len(compact)/4)
	inString, escaped := false, false
	for i := 0; i < len(compact); {
		c := compact[i]
		switch {
		case !inString:
			inString = c == '"'
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case c == '"':
			inString = false
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(compact[i:])
			if r >= 0x10000 {
				r -= 0x10000
				out = fmt.Appendf(out, `\u%04X\u%04X`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
			} else {
				out = fmt.Appendf(out, `\u%04X`, r)
			}
			i += size
			continue
		case c&63 >= 62 || c&15 == 15:
			out = fmt.Appendf(out, `\u%04X`, c)
			i++
			continue
		}
		out = append(out, c)
		i++
	}
	return out
}
