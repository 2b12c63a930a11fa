package server

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

const (
	// maxIncluded bounds the resources _include/_revinclude add to one page.
	maxIncluded = 1000
	// maxIterations bounds :iterate rounds.
	maxIterations = 4
)

// includes resolves q's _include and _revinclude for the matches of one
// page: the first round starts from the matches, :iterate rounds from what
// the previous round added. A resource already in the page is never added
// twice.
func (s *Server) includes(ctx context.Context, q *search.Query, matches []fhir.Resource) ([]fhir.Resource, error) {
	if len(q.Include) == 0 && len(q.RevInclude) == 0 {
		return nil, nil
	}
	seen := map[storage.Ref]bool{}
	for _, r := range matches {
		seen[storage.Ref{Type: r.Type, ID: r.ID}] = true
	}
	var out []fhir.Resource
	from := matches
	for round := 0; round <= maxIterations && len(from) > 0 && len(out) < maxIncluded; round++ {
		var added []fhir.Resource
		for _, inc := range q.Include {
			if round > 0 && !inc.Iterate {
				continue
			}
			rs, err := s.includeForward(ctx, inc, from)
			if err != nil {
				return nil, err
			}
			added = appendNew(added, rs, seen)
		}
		for _, inc := range q.RevInclude {
			if round > 0 && !inc.Iterate {
				continue
			}
			rs, err := s.includeReverse(ctx, inc, from)
			if err != nil {
				return nil, err
			}
			added = appendNew(added, rs, seen)
		}
		out = append(out, added...)
		from = added
	}
	if len(out) > maxIncluded {
		out = out[:maxIncluded]
	}
	return out, nil
}

// dropRevIncludeAll handles _revinclude=* without a source type, which
// would search every type that can refer to the matches, one search per
// type: it is not supported. Like any unsupported parameter it is a 400
// in strict handling and otherwise ignored and listed in q.Unknown.
func dropRevIncludeAll(q *search.Query, strict bool) error {
	kept := q.RevInclude[:0]
	for _, inc := range q.RevInclude {
		if inc.SourceType == "" {
			if strict {
				return fhir.Errorf(http.StatusBadRequest, fhir.CodeNotSupported,
					"_revinclude=* is not supported: name the referring type, as in _revinclude=Observation:*").At("_revinclude")
			}
			if !slices.Contains(q.Unknown, "_revinclude") {
				q.Unknown = append(q.Unknown, "_revinclude")
			}
			continue
		}
		kept = append(kept, inc)
	}
	q.RevInclude = kept
	return nil
}

func appendNew(dst, rs []fhir.Resource, seen map[storage.Ref]bool) []fhir.Resource {
	for _, r := range rs {
		ref := storage.Ref{Type: r.Type, ID: r.ID}
		if !seen[ref] {
			seen[ref] = true
			dst = append(dst, r)
		}
	}
	return dst
}

// includeForward reads the resources that inc's reference parameter points
// to from the given sources.
func (s *Server) includeForward(ctx context.Context, inc search.Include, from []fhir.Resource) ([]fhir.Resource, error) {
	var refs []storage.Ref
	for _, r := range from {
		if inc.SourceType != "" && r.Type != inc.SourceType {
			continue
		}
		entries, err := s.extractor.Extract(r.Type, r.JSON)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.Type != conformance.ParamReference || e.RefType == "" || e.RefID == "" || !s.local(e.URL) {
				continue
			}
			if inc.Param != nil && e.Param != inc.Param.Code {
				continue
			}
			if inc.TargetType != "" && e.RefType != inc.TargetType {
				continue
			}
			refs = append(refs, storage.Ref{Type: e.RefType, ID: e.RefID})
		}
	}
	if len(refs) == 0 {
		return nil, nil
	}
	return s.store.ReadCurrent(ctx, refs)
}

// local reports whether a reference's absolute URL ("" for a relative
// reference) is under the server's base: one to another server names a
// resource there, never the local resource with the same type and id.
func (s *Server) local(url string) bool {
	return url == "" || strings.HasPrefix(url, s.baseURL+"/")
}

// includeReverse finds the resources of inc's source type whose reference
// parameter points at one of the given resources.
func (s *Server) includeReverse(ctx context.Context, inc search.Include, to []fhir.Resource) ([]fhir.Resource, error) {
	params, err := s.spec.SearchParams(inc.SourceType)
	if err != nil {
		return nil, err
	}
	var refParams []*conformance.SearchParam
	if inc.Param != nil {
		refParams = []*conformance.SearchParam{inc.Param}
	} else {
		for _, code := range s.spec.SearchParamCodes(inc.SourceType) {
			if p := params[code]; p.Type == conformance.ParamReference {
				refParams = append(refParams, p)
			}
		}
	}
	values := make([]search.Value, 0, len(to))
	for _, r := range to {
		values = append(values, search.Value{RefType: r.Type, RefID: r.ID})
	}
	filter := search.Filter{}
	for _, p := range refParams {
		filter.Or = append(filter.Or, search.Filter{Param: p, Values: values})
	}
	if len(filter.Or) == 0 {
		return nil, nil
	}
	if len(filter.Or) == 1 {
		filter = filter.Or[0]
	}
	page, err := s.store.Search(ctx, &search.Query{
		Types: []string{inc.SourceType}, Filters: []search.Filter{filter}, Count: maxIncluded, Total: "none",
	})
	if err != nil {
		return nil, err
	}
	return page.Resources, nil
}
