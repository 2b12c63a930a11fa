package mqtt

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	s := &subscriber{cfg: Config{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}}
	tests := []struct {
		failures int
		want     time.Duration
	}{
		{1, 100 * time.Millisecond},
		{2, 200 * time.Millisecond},
		{4, 800 * time.Millisecond},
		{5, time.Second},
		{1000, time.Second},
	}
	for _, tt := range tests {
		s.failures = tt.failures
		if got := s.backoff(); got != tt.want {
			t.Errorf("backoff after %d failures = %v; want %v", tt.failures, got, tt.want)
		}
	}
}
