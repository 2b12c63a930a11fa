package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// response is a finished exchange.
type response struct {
	status int
	header http.Header
	body   []byte
	ex     Exchange
}

// do sends one request. path is relative to the base ("Patient/1?x=y")
// or absolute (a next link). A body is sent as application/fhir+json
// unless header sets a Content-Type. Searches ask for strict handling, so
// that an unsupported parameter is an error, not silently ignored.
func (r *runner) do(ctx context.Context, method, path string, body []byte, header map[string]string) (*response, error) {
	target := path
	switch {
	case strings.HasPrefix(path, "?"):
		target = r.base + path
	case !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://"):
		target = r.base + "/" + path
	}
	ex := Exchange{Method: method, URL: strings.TrimPrefix(strings.TrimPrefix(target, r.base), "/")}
	if ctx.Err() != nil {
		return &response{ex: ex}, errBudget
	}
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return &response{ex: ex}, errBudget
	}
	defer func() { <-r.sem }()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return &response{ex: ex}, err
	}
	req.Header.Set("Accept", "application/fhir+json")
	req.Header.Set("Prefer", "handling=strict")
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	res, err := r.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			err = errBudget
		}
		return &response{ex: ex}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	ex.Status = res.StatusCode
	if err != nil {
		return &response{ex: ex, status: res.StatusCode}, err
	}
	return &response{status: res.StatusCode, header: res.Header, body: b, ex: ex}, nil
}

// check collects the evidence of one claim and records its outcome once.
type check struct {
	r    *runner
	res  Result
	done bool
}

func (r *runner) claim(scope, kind, name string) *check {
	return &check{r: r, res: Result{Scope: scope, Kind: kind, Claim: name}}
}

// do is runner.do with the exchange added to the evidence.
func (c *check) do(ctx context.Context, method, path string, body []byte, header map[string]string) (*response, error) {
	res, err := c.r.do(ctx, method, path, body, header)
	c.res.Evidence = append(c.res.Evidence, res.ex)
	return res, err
}

// expect sends a request and returns the response when its status is one
// of want; otherwise it fails the claim (or skips it when the budget ran
// out) and returns nil.
func (c *check) expect(ctx context.Context, method, path string, body []byte, header map[string]string, want ...int) *response {
	res, err := c.do(ctx, method, path, body, header)
	if err != nil {
		c.error(err)
		return nil
	}
	for _, w := range want {
		if res.status == w {
			return res
		}
	}
	c.fail("%s %s answered %d, want %s%s", method, res.ex.URL, res.status, statuses(want), outcome(res.body))
	return nil
}

func statuses(want []int) string {
	s := make([]string, len(want))
	for i, w := range want {
		s[i] = fmt.Sprint(w)
	}
	return strings.Join(s, " or ")
}

// error fails the claim for a request that got no answer, or skips it when
// the time budget is the reason.
func (c *check) error(err error) {
	if err == errBudget {
		c.skip("%s", errBudget)
		return
	}
	c.fail("%v", err)
}

func (c *check) finish(s Status, reason string) {
	if c.done {
		return
	}
	c.done = true
	c.res.Status, c.res.Reason = s, reason
	c.r.record(c.res)
}

func (c *check) pass(format string, args ...any) { c.finish(Pass, fmt.Sprintf(format, args...)) }
func (c *check) fail(format string, args ...any) { c.finish(Fail, fmt.Sprintf(format, args...)) }
func (c *check) skip(format string, args ...any) { c.finish(Skip, fmt.Sprintf(format, args...)) }

// outcome is ": " and the diagnostics of an OperationOutcome body, short.
func outcome(body []byte) string {
	var oo struct {
		ResourceType string `json:"resourceType"`
		Issue        []struct {
			Code        string `json:"code"`
			Diagnostics string `json:"diagnostics"`
		} `json:"issue"`
	}
	if json.Unmarshal(body, &oo) != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
		return ""
	}
	s := oo.Issue[0].Code
	if d := oo.Issue[0].Diagnostics; d != "" {
		s += ": " + d
	}
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return " (" + s + ")"
}

// query encodes parameters given as name, value pairs in order.
func query(pairs ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(pairs[i]) + "=" + url.QueryEscape(pairs[i+1]))
	}
	return b.String()
}

// maxPages bounds the pages followed to find a resource in a result.
const maxPages = 10

// find sends a search or history request (a Bundle of type bundleType)
// and reports whether typ/id is among its matches, following next links
// up to maxPages when follow is set; ok is false when the claim failed.
func (c *check) find(ctx context.Context, path, bundleType, typ, id string, follow bool) (found, ok bool) {
	for page := 0; page < maxPages && path != ""; page++ {
		res := c.expect(ctx, http.MethodGet, path, nil, nil, http.StatusOK)
		if res == nil {
			return false, false
		}
		b, isBundle := parseBundle(res.body)
		if !isBundle || b.Type != bundleType {
			c.fail("GET %s answered 200 without a %s Bundle", res.ex.URL, bundleType)
			return false, false
		}
		if b.contains(typ, id, bundleType == "searchset") {
			return true, true
		}
		if !follow {
			break
		}
		path = b.next()
	}
	return false, true
}
