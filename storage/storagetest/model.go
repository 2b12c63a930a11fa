package storagetest

import (
	"cmp"
	"slices"
	"time"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// model is the suite's reference store: every version written, in memory,
// answering queries by the letter of the storage.Store contract.
type model struct {
	versions []fhir.Resource
}

func (m *model) add(r fhir.Resource) { m.versions = append(m.versions, r) }

// current is the newest version of typ/id, if any.
func (m *model) current(typ, id string) (fhir.Resource, bool) {
	var cur fhir.Resource
	found := false
	for _, v := range m.versions {
		if v.Type == typ && v.ID == id && (!found || v.Version > cur.Version) {
			cur, found = v, true
		}
	}
	return cur, found
}

// version is version v of typ/id, if the model has it.
func (m *model) version(typ, id string, v int64) (fhir.Resource, bool) {
	for _, r := range m.versions {
		if r.Type == typ && r.ID == id && r.Version == v {
			return r, true
		}
	}
	return fhir.Resource{}, false
}

// superseded is when the version after r was written, or false when r is current.
func (m *model) superseded(r fhir.Resource) (time.Time, bool) {
	next, ok := m.version(r.Type, r.ID, r.Version+1)
	return next.LastUpdated, ok
}

// history is every version q selects, in history order, ignoring Count and After.
func (m *model) history(q storage.HistoryQuery) []fhir.Resource {
	var out []fhir.Resource
	for _, v := range m.versions {
		if q.Type != "" && v.Type != q.Type || q.ID != "" && v.ID != q.ID {
			continue
		}
		if !q.Since.IsZero() && v.LastUpdated.Before(q.Since) {
			continue
		}
		if !q.AtEnd.IsZero() && !v.LastUpdated.Before(q.AtEnd) {
			continue
		}
		if next, ok := m.superseded(v); ok && !q.AtStart.IsZero() && !next.After(q.AtStart) {
			continue
		}
		out = append(out, v)
	}
	slices.SortFunc(out, historyOrder)
	return out
}

// historyOrder is the order of storage.HistoryQuery: LastUpdated descending,
// then Type and ID ascending, then Version descending.
func historyOrder(a, b fhir.Resource) int {
	return cmp.Or(
		b.LastUpdated.Compare(a.LastUpdated),
		cmp.Compare(a.Type, b.Type),
		cmp.Compare(a.ID, b.ID),
		cmp.Compare(b.Version, a.Version),
	)
}
