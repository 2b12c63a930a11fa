package server

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/fhir"
)

// subset applies _summary and _elements to a resource's JSON; without
// them (or with _summary=false) the stored bytes are returned untouched.
func (s *Server) subset(c echo.Context, typ string, body []byte) ([]byte, error) {
	summary, elements := c.QueryParam("_summary"), c.QueryParam("_elements")
	if summary == "false" || summary == "" && elements == "" {
		return body, nil
	}
	var keep func(string) bool
	if summary != "" {
		var ok bool
		if keep, ok = s.spec.SummaryKeep(typ, summary); !ok {
			return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeInvalid,
				"_summary=%q is not supported here; use true, text, data or false", summary).At("_summary")
		}
	} else {
		var names []string
		for _, e := range strings.Split(elements, ",") {
			if e = strings.TrimPrefix(strings.TrimSpace(e), typ+"."); e != "" {
				names = append(names, e)
			}
		}
		keep = s.spec.ElementsKeep(typ, names)
	}
	return fhir.Subset(body, keep)
}
