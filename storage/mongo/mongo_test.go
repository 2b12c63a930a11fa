package mongo_test

import (
	"context"
	"testing"

	"github.com/medbridge/medbridge/storage"
	"github.com/medbridge/medbridge/storage/mongo"
	"github.com/medbridge/medbridge/storage/mongo/mongotest"
	"github.com/medbridge/medbridge/storage/storagetest"
)

// open starts FerretDB over dir (restarting it when dir was opened before)
// and opens the store on it.
func open(t *testing.T, dir string) storage.Store {
	t.Helper()
	s, err := mongo.Open(context.Background(), mongotest.Start(t, dir))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestStore(t *testing.T) {
	storagetest.Run(t, open)
}
