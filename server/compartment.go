package server

import (
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/search"
)

// searchCompartment serves GET /fhir/:type/:id/:target, a search for
// :target resources in the compartment of :type/:id (Patient/123/Observation):
// the resources whose compartment parameters (from the spec's
// CompartmentDefinition) reference the owner, and the owner itself when
// :target is its type.
func (s *Server) searchCompartment(c echo.Context) error {
	owner, id, target := c.Param("type"), c.Param("id"), c.Param("target")
	for _, typ := range []string{owner, target} {
		if err := s.checkType(typ); err != nil {
			return err
		}
	}
	if err := checkID(owner, id); err != nil {
		return err
	}
	member, ok, err := s.compartmentFilter(target, owner, id)
	if err != nil {
		return err
	}
	if !ok {
		return fhir.Errorf(http.StatusBadRequest, fhir.CodeNotSupported,
			"%s resources are not in the %s compartment", target, owner)
	}
	qp, err := searchParams(c)
	if err != nil {
		return err
	}
	return s.runSearch(c, []string{target}, qp, []search.Filter{member})
}

// compartmentFilter is the filter "in the compartment of owner/id" for
// resources of typ: one of its compartment parameters (from the spec's
// CompartmentDefinition) references the owner, or it is the owner. ok is
// false when typ is not in the compartment at all.
func (s *Server) compartmentFilter(typ, owner, id string) (search.Filter, bool, error) {
	codes := s.spec.CompartmentParams(owner, typ)
	if typ == owner && !slices.Contains(codes, conformance.CompartmentSelf) {
		codes = append(codes, conformance.CompartmentSelf)
	}
	params, err := s.spec.SearchParams(typ)
	if err != nil {
		return search.Filter{}, false, err
	}
	member := search.Filter{}
	for _, code := range codes {
		if code == conformance.CompartmentSelf {
			member.Or = append(member.Or, search.Filter{Param: params["_id"], Values: []search.Value{{Code: id}}})
			continue
		}
		if p := params[code]; p != nil {
			member.Or = append(member.Or, search.Filter{Param: p, Values: []search.Value{{RefType: owner, RefID: id}}})
		}
	}
	return member, len(member.Or) > 0, nil
}
