package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPragmas checks the settings durability and concurrency rest on, on
// the writer and on every reader connection.
func TestPragmas(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	common := map[string]string{"journal_mode": "wal", "busy_timeout": "10000", "foreign_keys": "1"}
	writer := map[string]string{"synchronous": "2", "query_only": "0"} // 2 is FULL
	reader := map[string]string{"query_only": "1"}

	check := func(t *testing.T, conn *sql.Conn, want ...map[string]string) {
		t.Helper()
		for _, w := range want {
			for pragma, value := range w {
				var got string
				if err := conn.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
					t.Fatalf("PRAGMA %s: %v", pragma, err)
				}
				if !strings.EqualFold(got, value) {
					t.Errorf("PRAGMA %s = %s, want %s", pragma, got, value)
				}
			}
		}
	}
	t.Run("writer", func(t *testing.T) {
		conn, err := s.writer.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		check(t, conn, common, writer)
	})
	t.Run("readers", func(t *testing.T) {
		// Hold every reader connection at once so that each is checked.
		var conns []*sql.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for range s.reader.Stats().MaxOpenConnections {
			conn, err := s.reader.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, conn)
			check(t, conn, common, reader)
		}
		if _, err := conns[0].ExecContext(ctx, "DELETE FROM resources"); err == nil {
			t.Error("a reader connection can write")
		}
	})
}

// TestMigrate checks that Open brings a new database to the newest schema
// and refuses one from a newer medbridge.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		version int // user_version before Open; -1: no database yet
		wantErr bool
	}{
		{"new database", -1, false},
		{"current schema", len(migrations), false},
		{"newer schema", len(migrations) + 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.version >= 0 {
				s, err := Open(ctx, dir)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.writer.Exec(fmt.Sprintf("PRAGMA user_version = %d", tt.version)); err != nil {
					t.Fatal(err)
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
			s, err := Open(ctx, dir)
			if tt.wantErr {
				if err == nil {
					s.Close()
					t.Fatal("Open succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var version int
			if err := s.reader.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
				t.Fatal(err)
			}
			if version != len(migrations) {
				t.Errorf("schema version %d, want %d", version, len(migrations))
			}
			var n int
			if err := s.reader.QueryRow("SELECT count(*) FROM history INDEXED BY history_instance").Scan(&n); err != nil {
				t.Errorf("schema incomplete: %v", err)
			}
			if err := s.reader.QueryRow("SELECT count(*) FROM records INDEXED BY records_expires WHERE expires <= 0").Scan(&n); err != nil {
				t.Errorf("schema incomplete: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
				t.Errorf("database file: %v", err)
			}
		})
	}
}
