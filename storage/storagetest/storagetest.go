// Package storagetest is the conformance suite every storage.Store passes.
//
// A store's own tests call Run with a function that opens it. The suite
// checks the contract documented on storage.Store and nothing beyond it, so
// the embedded and the production store behave alike wherever the rest of
// medbridge can tell. Data sets stay small (well under 200 versions per
// subtest) because some backends scan on every query.
package storagetest

import (
	"testing"

	"github.com/medbridge/medbridge/storage"
)

// Run runs the suite as subtests of t.
//
// open opens a store whose data lives in dir: a dir it has not seen gives an
// empty store, and the suite opens a dir again after closing its store to
// check that the data survived. open reports its own failures through t. The
// suite closes every store it opens.
func Run(t *testing.T, open func(t *testing.T, dir string) storage.Store) {
	s := suite{open: open}
	tests := []struct {
		name string
		run  func(t *testing.T, s suite)
	}{
		{"Create", testCreate},
		{"Update", testUpdate},
		{"RefusedWrites", testRefusedWrites},
		{"Delete", testDelete},
		{"NotFound", testNotFound},
		{"TypesAreIndependent", testTypesAreIndependent},
		{"History", testHistory},
		{"HistoryPagingWhileWriting", testHistoryPagingWhileWriting},
		{"HistoryRefusesBadQueries", testHistoryRefusesBadQueries},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"ConcurrentCreates", testConcurrentCreates},
		{"Durability", testDurability},
		{"CancelledContext", testCancelledContext},
		{"Ping", testPing},
		{"WriteBatch", testWriteBatch},
		{"WriteBatchConflicts", testWriteBatchConflicts},
		{"WriteBatchEmpty", testWriteBatchEmpty},
		{"WriteBatchSameResource", testWriteBatchSameResource},
		{"WriteBatchCancelled", testWriteBatchCancelled},
		{"WriteBatchDurability", testWriteBatchDurability},
		{"AtomicWrites", testAtomicWrites},
		{"AtomicConflict", testAtomicConflict},
		{"AtomicRefused", testAtomicRefused},
		{"AtomicSameResource", testAtomicSameResource},
		{"AtomicConcurrent", testAtomicConcurrent},
		{"AtomicReadersSeeAllOrNone", testAtomicReadersSeeAllOrNone},
		{"DeadLetters", testDeadLetters},
		{"DeadLetterReplaceDelete", testDeadLetterReplaceDelete},
		{"DeadLetterNotFound", testDeadLetterNotFound},
		{"DeadLetterPayloads", testDeadLetterPayloads},
		{"DeadLetterPagingWhilePutting", testDeadLetterPagingWhilePutting},
		{"DeadLetterBadCursor", testDeadLetterBadCursor},
		{"DeadLetterDurability", testDeadLetterDurability},
		{"RecordLifecycle", testRecordLifecycle},
		{"RecordExpiry", testRecordExpiry},
		{"RecordConcurrentCreates", testRecordConcurrentCreates},
		{"RecordConcurrentDeletes", testRecordConcurrentDeletes},
		{"RecordConcurrentUpdates", testRecordConcurrentUpdates},
		{"RecordKinds", testRecordKinds},
		{"RecordData", testRecordData},
		{"RecordDurability", testRecordDurability},
		{"LastN", testLastN},
		{"Stats", testStats},
	}
	for _, tt := range append(tests, searchTests...) {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, s) })
	}
}

// suite opens the stores the subtests use.
type suite struct {
	open func(t *testing.T, dir string) storage.Store
}

// fresh opens an empty store in a new directory and closes it when t ends.
func (s suite) fresh(t *testing.T) *fixture {
	t.Helper()
	st := s.open(t, t.TempDir())
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &fixture{s: st}
}
