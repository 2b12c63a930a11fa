package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

const mimeFHIRJSON = "application/fhir+json"

// heartRate is a vital-signs heart rate as a device gateway would post it
// (FHIR R4 vital signs profile): patient, time and beats per minute vary.
const heartRate = `{"resourceType":"Observation",` +
	`"meta":{"profile":["http://hl7.org/fhir/StructureDefinition/heartrate"]},` +
	`"status":"final",` +
	`"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs","display":"Vital Signs"}],"text":"Vital Signs"}],` +
	`"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}],"text":"Heart rate"},` +
	`"subject":{"reference":"Patient/%d"},` +
	`"effectiveDateTime":"%s",` +
	`"valueQuantity":{"value":%d,"unit":"beats/minute","system":"http://unitsofmeasure.org","code":"/min"}}`

// patients is how many patients the Observations are spread over.
const patients = 1000

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// createObservation POSTs a heart rate to base/Observation and keeps the
// id the server assigned, read from the Location header.
func createObservation(base string) requestFunc {
	url := base + "/Observation"
	prefix := url + "/"
	return func(ctx context.Context, w *worker) error {
		effective := epoch.Add(time.Duration(w.rng.Int64N(30*24*3600)) * time.Second)
		w.buf = fmt.Appendf(w.buf[:0], heartRate,
			w.rng.IntN(patients)+1, effective.Format(time.RFC3339), 50+w.rng.IntN(90))
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(w.buf))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", mimeFHIRJSON)
		req.Header.Set("Accept", mimeFHIRJSON)
		res, err := exchange(w.client, req)
		if err != nil {
			return err
		}
		// Location is base/Observation/<id>/_history/1.
		loc := res.Header.Get("Location")
		id, _, _ := strings.Cut(strings.TrimPrefix(loc, prefix), "/")
		if !strings.HasPrefix(loc, prefix) || id == "" {
			return fmt.Errorf("POST %s: %s with Location %q, want %s<id>/_history/1", url, res.Status, loc, prefix)
		}
		w.ids = append(w.ids, id)
		return nil
	}
}

// readObservation GETs base/Observation/<id> for random ids.
func readObservation(base string, ids []string) requestFunc {
	prefix := base + "/Observation/"
	return func(ctx context.Context, w *worker) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, prefix+ids[w.rng.IntN(len(ids))], nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", mimeFHIRJSON)
		_, err = exchange(w.client, req)
		return err
	}
}

// exchange sends req and reads the whole answer, which lets the connection
// be reused. An answer that is not 2xx is an error quoting its start.
func exchange(c *http.Client, req *http.Request) (*http.Response, error) {
	res, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode/100 == 2 {
		_, err := io.Copy(io.Discard, res.Body)
		return res, err
	}
	head, _ := io.ReadAll(io.LimitReader(res.Body, 300))
	_, _ = io.Copy(io.Discard, res.Body)
	return nil, fmt.Errorf("%s %s: %s: %s", req.Method, req.URL, res.Status, bytes.TrimSpace(head))
}
