package server_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/medbridge/medbridge/server/servertest"
)

// BenchmarkAuditCost measures what the audit trail costs single requests
// on the embedded store, from 2 and 16 clients: a read and a search
// (their record is written before the answer leaves) and a create (its
// record commits with it), with and without auditing, in requests/s.
// Records of concurrent requests share a commit (group commit), so the
// cost per request falls as clients are added.
//
//	go test ./server -run '^$' -bench BenchmarkAuditCost -benchtime 2000x
func BenchmarkAuditCost(b *testing.B) {
	for _, kind := range []string{"read", "search", "create"} {
		for _, clients := range []int{2, 16} {
			for _, audited := range []bool{true, false} {
				b.Run(fmt.Sprintf("%s/clients=%d/audit=%v", kind, clients, audited), func(b *testing.B) {
					benchmarkAuditCost(b, kind, clients, audited)
				})
			}
		}
	}
}

func benchmarkAuditCost(b *testing.B, kind string, clients int, audited bool) {
	var opts []servertest.Option
	if !audited {
		opts = append(opts, servertest.WithoutAudit())
	}
	srv := servertest.StartBackend(b, servertest.SQLite, opts...)
	for i := range 20 {
		put(b, srv, strings.Replace(txObservation(fmt.Sprintf("Patient/p%d", i%5), 60+i), `"Observation"`, fmt.Sprintf(`"Observation","id":"o%d"`, i), 1))
	}
	do := func(i int) error {
		var req *http.Request
		switch kind {
		case "read":
			req, _ = http.NewRequest(http.MethodGet, fmt.Sprintf("%s/Observation/o%d", srv.Base, i%20), nil)
		case "search":
			req, _ = http.NewRequest(http.MethodGet, fmt.Sprintf("%s/Observation?subject=Patient/p%d&code=8867-4", srv.Base, i%5), nil)
		default:
			req, _ = http.NewRequest(http.MethodPost, srv.Base+"/Observation", bytes.NewReader([]byte(txObservation(fmt.Sprintf("Patient/p%d", i%5), 60))))
			req.Header.Set("Content-Type", "application/fhir+json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		_, _ = io.Copy(io.Discard, res.Body)
		if res.StatusCode >= 300 {
			return fmt.Errorf("%s: %s", kind, res.Status)
		}
		return nil
	}
	elapsed := runClients(b, clients, do)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "requests/s")
	b.ReportMetric(0, "ns/op")
}
