package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/medbridge/medbridge/server/servertest"
)

// TestCRUD walks one resource through create, read, vread, update, delete
// and re-create, checking status codes and the HTTP headers of each step.
func TestCRUD(t *testing.T) {
	servertest.EachBackend(t, func(t *testing.T, b servertest.Backend) {
		srv := servertest.StartBackend(t, b)
		created := srv.Do(t, "POST", "/fhir/Patient", []byte(`{"resourceType":"Patient","id":"ignored","gender":"female"}`))
		if created.Status != 201 {
			t.Fatalf("create: %d %s", created.Status, created.Body)
		}
		body := created.JSON(t)
		id := body["id"].(string)
		if id == "ignored" || len(id) < 32 {
			t.Errorf("server-assigned id %q", id)
		}
		meta := body["meta"].(map[string]any)
		if meta["versionId"] != "1" || meta["lastUpdated"] == nil {
			t.Errorf("meta %v", meta)
		}
		if got, want := created.Header.Get("Location"), srv.Base+"/Patient/"+id+"/_history/1"; got != want {
			t.Errorf("Location %q, want %q", got, want)
		}
		if created.Header.Get("ETag") != `W/"1"` || created.Header.Get("Last-Modified") == "" {
			t.Errorf("ETag %q Last-Modified %q", created.Header.Get("ETag"), created.Header.Get("Last-Modified"))
		}
		lastUpdated, err := time.Parse(time.RFC3339Nano, meta["lastUpdated"].(string))
		if err != nil || time.Since(lastUpdated) > time.Minute {
			t.Errorf("lastUpdated %v (%v)", meta["lastUpdated"], err)
		}

		read := srv.Do(t, "GET", "/fhir/Patient/"+id, nil)
		if read.Status != 200 || read.Header.Get("ETag") != `W/"1"` || !strings.HasPrefix(read.Header.Get("Content-Type"), "application/fhir+json") {
			t.Fatalf("read: %d %v", read.Status, read.Header)
		}
		if string(read.Body) != string(created.Body) {
			t.Errorf("read differs from the create's representation")
		}
		if h := srv.Do(t, "HEAD", "/fhir/Patient/"+id, nil); h.Status != 200 || len(h.Body) != 0 || h.Header.Get("ETag") != `W/"1"` {
			t.Errorf("HEAD: %d %q %v", h.Status, h.Body, h.Header)
		}

		upd := srv.Do(t, "PUT", "/fhir/Patient/"+id, []byte(`{"resourceType":"Patient","id":"`+id+`","gender":"male"}`), "If-Match", `W/"1"`)
		if upd.Status != 200 || upd.Header.Get("ETag") != `W/"2"` || !strings.HasSuffix(upd.Header.Get("Location"), "/_history/2") {
			t.Fatalf("update: %d %v %s", upd.Status, upd.Header, upd.Body)
		}
		same := srv.Do(t, "PUT", "/fhir/Patient/"+id, []byte(`{"resourceType":"Patient","id":"`+id+`","gender":"male"}`))
		if same.Status != 200 || same.Header.Get("ETag") != `W/"2"` {
			t.Errorf("an unchanged update must not create a version: %d %s", same.Status, same.Header.Get("ETag"))
		}
		v1 := srv.Do(t, "GET", "/fhir/Patient/"+id+"/_history/1", nil)
		if v1.Status != 200 || v1.JSON(t)["gender"] != "female" {
			t.Errorf("vread 1: %d %s", v1.Status, v1.Body)
		}

		del := srv.Do(t, "DELETE", "/fhir/Patient/"+id, nil)
		if del.Status != 204 || del.Header.Get("ETag") != `W/"3"` {
			t.Fatalf("delete: %d %v", del.Status, del.Header)
		}
		if again := srv.Do(t, "DELETE", "/fhir/Patient/"+id, nil); again.Status != 204 || again.Header.Get("ETag") != `W/"3"` {
			t.Errorf("second delete: %d %v", again.Status, again.Header)
		}
		if gone := srv.Do(t, "GET", "/fhir/Patient/"+id, nil); gone.Status != 410 {
			t.Errorf("read after delete: %d", gone.Status)
		}
		if gone := srv.Do(t, "GET", "/fhir/Patient/"+id+"/_history/3", nil); gone.Status != 410 {
			t.Errorf("vread of the deletion: %d", gone.Status)
		}
		if v2 := srv.Do(t, "GET", "/fhir/Patient/"+id+"/_history/2", nil); v2.Status != 200 {
			t.Errorf("vread 2 after delete: %d", v2.Status)
		}
		back := srv.Do(t, "PUT", "/fhir/Patient/"+id, []byte(`{"resourceType":"Patient","id":"`+id+`"}`))
		if back.Status != 201 || back.Header.Get("ETag") != `W/"4"` {
			t.Errorf("re-create after delete: %d %v", back.Status, back.Header.Get("ETag"))
		}

		clientID := srv.Do(t, "PUT", "/fhir/Observation/bp-1", []byte(`{"resourceType":"Observation","id":"bp-1","status":"final","code":{"text":"bp"}}`))
		if clientID.Status != 201 || clientID.Header.Get("ETag") != `W/"1"` {
			t.Errorf("create on update: %d %s", clientID.Status, clientID.Body)
		}
	})
}

func TestConditionalRead(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite)
	srv.Do(t, "PUT", "/fhir/Patient/c", []byte(`{"resourceType":"Patient","id":"c"}`))
	lastMod := srv.Do(t, "GET", "/fhir/Patient/c", nil).Header.Get("Last-Modified")
	tests := []struct {
		header []string
		status int
	}{
		{[]string{"If-None-Match", `W/"1"`}, 304},
		{[]string{"If-None-Match", `"1"`}, 304},
		{[]string{"If-None-Match", `W/"2"`}, 200},
		{[]string{"If-None-Match", `*`}, 304},
		{[]string{"If-Modified-Since", lastMod}, 304},
		{[]string{"If-Modified-Since", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}, 304},
		{[]string{"If-Modified-Since", time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)}, 200},
	}
	for _, tt := range tests {
		res := srv.Do(t, "GET", "/fhir/Patient/c", nil, tt.header...)
		if res.Status != tt.status {
			t.Errorf("%v: %d, want %d", tt.header, res.Status, tt.status)
		}
		if res.Status == 304 && (len(res.Body) != 0 || res.Header.Get("ETag") != `W/"1"`) {
			t.Errorf("%v: 304 with body %q or ETag %q", tt.header, res.Body, res.Header.Get("ETag"))
		}
	}
}

func TestPreferAndFormat(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite)
	p := []byte(`{"resourceType":"Patient","gender":"other"}`)
	if res := srv.Do(t, "POST", "/fhir/Patient", p, "Prefer", "return=minimal"); res.Status != 201 || len(res.Body) != 0 || res.Header.Get("Location") == "" {
		t.Errorf("return=minimal: %d %q", res.Status, res.Body)
	}
	if res := srv.Do(t, "POST", "/fhir/Patient", p, "Prefer", "return=OperationOutcome"); res.Status != 201 || res.JSON(t)["resourceType"] != "OperationOutcome" {
		t.Errorf("return=OperationOutcome: %d %s", res.Status, res.Body)
	}
	res := srv.Do(t, "POST", "/fhir/Patient", p, "Prefer", "return=representation", "Content-Type", "application/json; charset=utf-8")
	if res.Status != 201 || res.JSON(t)["gender"] != "other" {
		t.Fatalf("return=representation with application/json: %d %s", res.Status, res.Body)
	}
	id := res.JSON(t)["id"].(string)
	pretty := srv.Do(t, "GET", "/fhir/Patient/"+id+"?_pretty=true&_format=json", nil, "Accept", "application/json")
	if pretty.Status != 200 || !strings.Contains(string(pretty.Body), "\n  \"resourceType\": \"Patient\"") {
		t.Errorf("_pretty: %d %s", pretty.Status, pretty.Body)
	}
	if res := srv.Do(t, "GET", "/fhir/Patient/"+id+"?_format=application/fhir%2Bjson", nil, "Accept", "text/html, */*;q=0.8"); res.Status != 200 {
		t.Errorf("_format=application/fhir+json: %d", res.Status)
	}
}

func TestElementsAndSummary(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite)
	srv.Do(t, "PUT", "/fhir/Patient/s", []byte(`{"resourceType":"Patient","id":"s","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},"name":[{"family":"A"}],"birthDate":"1970-01-01","photo":[{"contentType":"image/png"}],"gender":"male"}`))
	srv.Do(t, "PUT", "/fhir/Observation/o", []byte(`{"resourceType":"Observation","id":"o","status":"final","code":{"text":"hr"},"valueQuantity":{"value":60},"note":[{"text":"n"}]}`))
	tests := []struct {
		path       string
		want, lack []string
	}{
		{"/fhir/Patient/s?_elements=name", []string{"name", "id", "meta"}, []string{"birthDate", "photo", "text", "gender"}},
		{"/fhir/Patient/s?_elements=Patient.birthDate,gender", []string{"birthDate", "gender"}, []string{"name", "photo"}},
		{"/fhir/Patient/s?_summary=true", []string{"name", "birthDate", "gender"}, []string{"photo", "text"}},
		{"/fhir/Patient/s?_summary=text", []string{"text", "id"}, []string{"name", "photo"}},
		{"/fhir/Patient/s?_summary=data", []string{"name", "photo"}, []string{"text"}},
		{"/fhir/Observation/o?_elements=value", []string{"valueQuantity", "status", "code"}, []string{"note"}},
	}
	for _, tt := range tests {
		res := srv.Do(t, "GET", tt.path, nil)
		if res.Status != 200 {
			t.Errorf("%s: %d %s", tt.path, res.Status, res.Body)
			continue
		}
		body := res.JSON(t)
		for _, k := range tt.want {
			if _, ok := body[k]; !ok {
				t.Errorf("%s: lacks %s: %s", tt.path, k, res.Body)
			}
		}
		for _, k := range tt.lack {
			if _, ok := body[k]; ok {
				t.Errorf("%s: has %s: %s", tt.path, k, res.Body)
			}
		}
		if !strings.Contains(string(res.Body), "SUBSETTED") && !strings.Contains(tt.path, "_summary=false") {
			t.Errorf("%s: no SUBSETTED tag", tt.path)
		}
	}
	if full := srv.Do(t, "GET", "/fhir/Patient/s?_summary=false", nil); !strings.Contains(string(full.Body), "photo") {
		t.Errorf("_summary=false must return everything")
	}
}

func TestOperationsEndpoints(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite)
	if res := srv.Do(t, "GET", "/healthz", nil); res.Status != 200 {
		t.Errorf("healthz %d", res.Status)
	}
	if res := srv.Do(t, "GET", "/readyz", nil); res.Status != 200 {
		t.Errorf("readyz %d", res.Status)
	}
	srv.Do(t, "GET", "/fhir/Patient/nope", nil)
	srv.Do(t, "PUT", "/fhir/Patient/m", []byte(`{"resourceType":"Patient","id":"m"}`))
	metrics := srv.Do(t, "GET", "/metrics", nil)
	for _, want := range []string{
		`medbridge_http_requests_total{code="404",interaction="read",type="Patient"} 1`,
		`medbridge_http_requests_total{code="201",interaction="update",type="Patient"} 1`,
		`medbridge_http_request_duration_seconds_bucket{interaction="update",type="Patient"`,
	} {
		if !strings.Contains(string(metrics.Body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	res := srv.Do(t, "GET", "/fhir/Patient/m", nil, "X-Request-Id", "abc-123")
	if res.Header.Get("X-Request-Id") != "abc-123" {
		t.Errorf("request id not echoed: %q", res.Header.Get("X-Request-Id"))
	}
	if res := srv.Do(t, "GET", "/fhir/Patient/m", nil); len(res.Header.Get("X-Request-Id")) < 16 {
		t.Errorf("no generated request id")
	}
	pre := srv.Do(t, "OPTIONS", "/fhir/Patient/m", nil, "Origin", "https://app.example", "Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "authorization, if-match")
	if pre.Status != 204 || pre.Header.Get("Access-Control-Allow-Origin") == "" || !strings.Contains(strings.ToLower(pre.Header.Get("Access-Control-Allow-Headers")), "authorization") {
		t.Errorf("CORS preflight: %d %v", pre.Status, pre.Header)
	}
	if got := srv.Do(t, "GET", "/fhir/Patient/m", nil, "Origin", "https://app.example"); got.Header.Get("Access-Control-Expose-Headers") == "" {
		t.Errorf("CORS: no exposed headers on a simple request")
	}
}

func TestCapabilityStatement(t *testing.T) {
	srv := servertest.StartBackend(t, servertest.SQLite)
	res := srv.Do(t, "GET", "/fhir/metadata", nil)
	if res.Status != 200 {
		t.Fatalf("metadata: %d %s", res.Status, res.Body)
	}
	cs := res.JSON(t)
	if cs["resourceType"] != "CapabilityStatement" || cs["fhirVersion"] != "4.0.1" {
		t.Errorf("not an R4 CapabilityStatement: %v %v", cs["resourceType"], cs["fhirVersion"])
	}
	formats, _ := cs["format"].([]any)
	for _, f := range formats {
		if strings.Contains(f.(string), "xml") {
			t.Errorf("format lists %v", f)
		}
	}
	rest := cs["rest"].([]any)[0].(map[string]any)
	resources := rest["resource"].([]any)
	if len(resources) != 146 {
		t.Errorf("%d resource types, want 146", len(resources))
	}
}

// TestInternalErrorsDoNotLeak: when the store fails (here: closed under a
// running server), clients get a 500 OperationOutcome that quotes the
// request id and nothing of the cause; /readyz turns 503.
func TestInternalErrorsDoNotLeak(t *testing.T) {
	servertest.EachBackend(t, func(t *testing.T, b servertest.Backend) {
		store := b.Open(t, t.TempDir())
		srv := servertest.Start(t, store)
		srv.Do(t, "PUT", "/fhir/Patient/x", []byte(`{"resourceType":"Patient","id":"x"}`))
		if err := store.Close(); err != nil {
			t.Fatal(err)
		}
		res := srv.Do(t, "GET", "/fhir/Patient/x", nil)
		if res.Status != 500 {
			t.Fatalf("read on a closed store: %d %s", res.Status, res.Body)
		}
		is := firstIssue(t, res)
		rid := res.Header.Get("X-Request-Id")
		if is.Code != "exception" || rid == "" || !strings.Contains(is.Diagnostics, rid) {
			t.Errorf("500 outcome %+v does not quote request id %q", is, rid)
		}
		for _, leak := range []string{"sql", "closed", "mongo", "client", "database"} {
			if strings.Contains(strings.ToLower(string(res.Body)), leak) {
				t.Errorf("500 body leaks %q: %s", leak, res.Body)
			}
		}
		if ready := srv.Do(t, "GET", "/readyz", nil); ready.Status != 503 {
			t.Errorf("readyz on a closed store: %d", ready.Status)
		}
	})
}
