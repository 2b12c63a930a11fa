package authz_test

import (
	"log/slog"
	"os"
	"testing"
)

// TestMain keeps the library's request logging (every refused request
// is a warning) out of the test output.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	os.Exit(m.Run())
}
