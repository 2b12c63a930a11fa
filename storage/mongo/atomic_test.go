package mongo

import (
	"context"
	"errors"
	"testing"

	"github.com/medbridge/medbridge/storage"
	"github.com/medbridge/medbridge/storage/mongo/mongotest"
)

// TestWriteAtomicWithoutTransactions checks that on FerretDB, which has no
// multi-document transactions, Open finds that out and WriteAtomic refuses
// every call with ErrNoTransactions, writing nothing. (This is what makes
// the storagetest suite skip its WriteAtomic tests for this store.)
func TestWriteAtomicWithoutTransactions(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, mongotest.Start(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.transactions {
		t.Fatal("Open found transactions on FerretDB")
	}
	if err := s.Write(ctx, storage.Write{Resource: patient(1, "a")}); err != nil {
		t.Fatal(err)
	}
	for _, ws := range [][]storage.Write{
		nil,
		{{Resource: patient(2, "b"), Expected: 1}},
		{{Resource: patient(2, "b"), Expected: 1}, {Resource: patient(3, "c"), Expected: 2}},
	} {
		if err := s.WriteAtomic(ctx, ws); !errors.Is(err, storage.ErrNoTransactions) {
			t.Errorf("WriteAtomic of %d writes: %v, want ErrNoTransactions", len(ws), err)
		}
	}
	cur, err := s.Read(ctx, "Patient", "p1")
	if err != nil || cur.Version != 1 {
		t.Errorf("Read: %v, %v; want version 1", cur, err)
	}
	if v, err := s.ReadVersion(ctx, "Patient", "p1", 2); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("ReadVersion 2: %v, %v; want ErrNotFound", v, err)
	}
}
