package authz

import (
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// atobSafe keeps the JSON value and removes '-' and '_' from its base64
// encoding, whatever the strings hold and wherever they fall.
func TestAtobSafe(t *testing.T) {
	alphabet := []rune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/?~>_-O o\"\\<&é€😀\x7f\u2028")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		claims := map[string]any{}
		for j := range 1 + rng.IntN(6) {
			var b strings.Builder
			for range rng.IntN(40) {
				b.WriteRune(alphabet[rng.IntN(len(alphabet))])
			}
			claims[strings.Repeat("k", j+1)] = b.String()
		}
		claims["n"] = rng.IntN(1 << 40)
		claims["list"] = []any{true, nil, 1.5, "x/y"}
		compact, err := json.Marshal(claims)
		if err != nil {
			t.Fatal(err)
		}
		safe := atobSafe(compact)
		enc := base64.RawURLEncoding.EncodeToString(safe)
		if strings.ContainsAny(enc, "-_") {
			t.Fatalf("case %d: %s encodes to %s", i, safe, enc)
		}
		var back map[string]any
		if err := json.Unmarshal(safe, &back); err != nil {
			t.Fatalf("case %d: %s: %v", i, safe, err)
		}
		var want map[string]any
		_ = json.Unmarshal(compact, &want)
		if !reflect.DeepEqual(back, want) {
			t.Fatalf("case %d: %v, want %v", i, back, want)
		}
	}
}
