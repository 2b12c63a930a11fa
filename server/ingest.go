package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/medbridge/medbridge/audit"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// Device ingest (package ingest) over HTTP:
//
//	GET    /ingest/mappings              the mappings
//	POST   /ingest/{mapping}             one JSON message, a JSON array of them, or NDJSON
//	GET    /ingest/errors                dead letters, newest first (?mapping=, _count, cursor)
//	GET    /ingest/errors/{id}           one, with its payload
//	POST   /ingest/errors/{id}/replay    ingest it again with the mapping as it is now
//	DELETE /ingest/errors/{id}           discard it
//
// Answers are plain JSON; errors are OperationOutcomes like everywhere.

func (s *Server) ingestRoutes(e *echo.Echo) {
	route := func(method, path string, h echo.HandlerFunc, interaction string) {
		e.Add(method, "/ingest"+path, h, s.interaction(interaction), s.limitBody, s.audited(interaction), s.authorizeIngest)
	}
	route(http.MethodGet, "/mappings", s.ingestMappings, "ingest-mappings")
	route(http.MethodPost, "/:mapping", s.ingestMessages, "ingest")
	route(http.MethodGet, "/errors", s.deadLetters, "ingest-errors")
	route(http.MethodGet, "/errors/:id", s.deadLetter, "ingest-error")
	route(http.MethodPost, "/errors/:id/replay", s.replay, "ingest-replay")
	route(http.MethodDelete, "/errors/:id", s.discard, "ingest-discard")
}

type mappingJSON struct {
	Name        string `json:"name"`
	URL         string `json:"url"`
	Identity    string `json:"identityResolution"`
	Description any    `json:"description,omitempty"`
}

func (s *Server) ingestMappings(c echo.Context) error {
	var out []mappingJSON
	for _, m := range s.ingest.Mappings() {
		identity := "Create"
		if m.Lookup {
			identity = "Lookup"
		}
		out = append(out, mappingJSON{Name: m.Name, URL: s.root + "/ingest/" + m.Name, Identity: identity, Description: m.Description})
	}
	return c.JSON(http.StatusOK, map[string]any{"mappings": out})
}

func (s *Server) ingestMessages(c echo.Context) error {
	mapping := c.Param("mapping")
	if _, err := s.ingest.Mapping(mapping); err != nil {
		return err
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	messages, err := splitMessages(body)
	if err != nil {
		return err
	}
	res, err := s.ingest.Ingest(c.Request().Context(), mapping, messages, s.ingestEvent(c))
	if err != nil {
		return err
	}
	auditWritten(c)
	return c.JSON(http.StatusOK, res)
}

// ingestEvent is the audit record of an ingest or replay request, which
// the ingest service completes and commits with the readings (nil when
// the server does not audit).
func (s *Server) ingestEvent(c echo.Context) *audit.Event {
	if s.noAudit {
		return nil
	}
	return s.auditEvent(c) // of type Import: see interactionKinds
}

// splitMessages reads a request body as one JSON message, a JSON array of
// messages, or NDJSON (one message a line). Lines of NDJSON that are not
// JSON stay messages of their own (they are dead-lettered as sent); a body
// that is none of these is refused.
func splitMessages(body []byte) ([][]byte, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeStructure, "the request body is empty; send a JSON message, an array of them or NDJSON")
	}
	if json.Valid(trimmed) {
		if trimmed[0] != '[' {
			return [][]byte{trimmed}, nil
		}
		var raw []json.RawMessage
		if err := json.Unmarshal(trimmed, &raw); err != nil {
			return nil, err
		}
		out := make([][]byte, len(raw))
		for i, r := range raw {
			out[i] = r
		}
		return out, nil
	}
	var out [][]byte
	valid := false
	for line := range bytes.SplitSeq(trimmed, []byte("\n")) {
		if line = bytes.TrimSpace(line); len(line) > 0 {
			out = append(out, line)
			valid = valid || json.Valid(line)
		}
	}
	if !valid {
		// Not NDJSON either: report the JSON error of the whole body.
		var v any
		err := json.Unmarshal(trimmed, &v)
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeStructure, "the request body is not JSON, a JSON array or NDJSON: %v", err)
	}
	return out, nil
}

// deadLetterJSON is a dead letter as /ingest/errors shows it.
type deadLetterJSON struct {
	ID         string          `json:"id"`
	URL        string          `json:"url"`
	Mapping    string          `json:"mapping"`
	Received   string          `json:"received"`
	Reason     string          `json:"reason"`
	Expression string          `json:"expression,omitempty"`
	Attempts   int             `json:"attempts"`
	Payload    json.RawMessage `json:"payload,omitempty"`
	// PayloadText holds a payload that is not JSON, as sent.
	PayloadText string `json:"payloadText,omitempty"`
}

func (s *Server) deadLetterJSON(d *storage.DeadLetter, withPayload bool) deadLetterJSON {
	out := deadLetterJSON{
		ID: d.ID, URL: s.root + "/ingest/errors/" + d.ID, Mapping: d.Mapping,
		Received: d.Received.UTC().Format(time.RFC3339Nano), Reason: d.Reason, Expression: d.Expression, Attempts: d.Attempts,
	}
	if withPayload {
		if json.Valid(d.Payload) {
			out.Payload = d.Payload
		} else {
			out.PayloadText = string(d.Payload)
		}
	}
	return out
}

func (s *Server) deadLetters(c echo.Context) error {
	q := storage.DeadLetterQuery{Mapping: c.QueryParam("mapping"), Count: 50, After: c.QueryParam("cursor")}
	if v := c.QueryParam("_count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return fhir.Errorf(http.StatusBadRequest, fhir.CodeValue, "_count must be a number from 1 to 1000, not %q", v)
		}
		q.Count = n
	}
	page, err := s.ingest.DeadLetters(c.Request().Context(), q)
	if err != nil {
		return err
	}
	letters := make([]deadLetterJSON, len(page.Letters))
	for i := range page.Letters {
		letters[i] = s.deadLetterJSON(&page.Letters[i], true)
	}
	out := map[string]any{"deadLetters": letters}
	if page.Next != "" {
		next := url.Values{"_count": {strconv.Itoa(q.Count)}, "cursor": {page.Next}}
		if q.Mapping != "" {
			next.Set("mapping", q.Mapping)
		}
		out["next"] = s.root + "/ingest/errors?" + next.Encode()
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) deadLetter(c echo.Context) error {
	d, err := s.ingest.DeadLetter(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.deadLetterJSON(d, true))
}

func (s *Server) replay(c echo.Context) error {
	res, err := s.ingest.Replay(c.Request().Context(), c.Param("id"), s.ingestEvent(c))
	if err != nil {
		return err
	}
	auditWritten(c)
	return c.JSON(http.StatusOK, res)
}

func (s *Server) discard(c echo.Context) error {
	if err := s.ingest.Discard(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
