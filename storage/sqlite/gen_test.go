package sqlite

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// Generated data for the plan test and the search benchmark: patients
// with names, identifiers and an organization, each with observations of
// a handful of vital signs spread over two years, one every ~17 hours.

var genExtractor = sync.OnceValues(func() (*storage.Extractor, error) {
	spec, err := conformance.Load()
	if err != nil {
		return nil, err
	}
	return storage.NewExtractor(spec)
})

var genFamilies = []string{"Smith", "Müller", "García", "Nguyen", "Okafor", "Johansson", "Rossi", "Kowalski",
	"Dubois", "Tanaka", "Ångström", "O'Brien", "Silva", "Cohen", "Ivanova", "Haddad", "Novak", "Fischer", "Khan", "Larsen"}

var genGiven = []string{"Anna", "Ben", "Chloé", "David", "Eva", "Farid", "Greta", "Hugo", "Ines", "Jonas"}

// genEpoch is the first observation's time; lastUpdated values follow
// the writes' order.
var genEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func genPatientID(i int) string { return fmt.Sprintf("p%05d", i) }

func genPatient(i int) (typ, id, json string) {
	id = genPatientID(i)
	gender := []string{"female", "male"}[i%2]
	return "Patient", id, fmt.Sprintf(`{"resourceType":"Patient","id":%q,"meta":{"versionId":"1","lastUpdated":"2026-01-01T00:00:00Z"},`+
		`"identifier":[{"system":"http://hospital.example.org/mrn","value":"MRN%05d"}],"active":true,`+
		`"name":[{"use":"official","family":"%s%d","given":[%q]}],"gender":%q,"birthDate":"%04d-%02d-%02d",`+
		`"address":[{"line":["%d Main Street"],"city":"Springfield","postalCode":"%05d","country":"US"}],`+
		`"managingOrganization":{"reference":"Organization/org%d"}}`,
		id, i, genFamilies[i%len(genFamilies)], i, genGiven[i/len(genFamilies)%len(genGiven)], gender,
		1940+i%60, 1+i%12, 1+i%28, i, i%100000, i%10)
}

// genVitals are the observation kinds: LOINC code, display, unit and a
// base value.
var genVitals = []struct {
	code, display, unit string
	base                float64
}{
	{"8867-4", "Heart rate", "/min", 60},
	{"8310-5", "Body temperature", "Cel", 36},
	{"29463-7", "Body weight", "kg", 50},
	{"9279-1", "Respiratory rate", "/min", 12},
	{"2708-6", "Oxygen saturation", "%", 90},
	{"8302-2", "Body height", "cm", 150},
	{"39156-5", "BMI", "kg/m2", 18},
	{"85354-9", "Blood pressure panel", "mm[Hg]", 0},
}

func genObservationID(patient, j int) string { return fmt.Sprintf("o%05d-%04d", patient, j) }

// genObservationTime is when observation j of a patient was made.
func genObservationTime(j int) time.Time {
	return genEpoch.Add(time.Duration(j) * 17 * time.Hour)
}

func genObservation(patient, j int) (typ, id, json string) {
	id = genObservationID(patient, j)
	v := genVitals[(patient+j)%len(genVitals)]
	when := genObservationTime(j).Format(time.RFC3339)
	value := fmt.Sprintf(`"valueQuantity":{"value":%.1f,"unit":%q,"system":"http://unitsofmeasure.org","code":%q}`,
		v.base+float64((patient*7+j*13)%40), v.unit, v.unit)
	if v.base == 0 {
		value = fmt.Sprintf(`"component":[`+
			`{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6","display":"Systolic blood pressure"}]},"valueQuantity":{"value":%d,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}},`+
			`{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4","display":"Diastolic blood pressure"}]},"valueQuantity":{"value":%d,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]`,
			100+(patient+j)%60, 60+(patient*3+j)%40)
	}
	return "Observation", id, fmt.Sprintf(`{"resourceType":"Observation","id":%q,"meta":{"versionId":"1","lastUpdated":"2026-01-01T00:00:00Z"},`+
		`"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs","display":"Vital Signs"}]}],`+
		`"code":{"coding":[{"system":"http://loinc.org","code":%q,"display":%q}],"text":%q},`+
		`"subject":{"reference":"Patient/%s"},"effectiveDateTime":%q,"issued":%q,`+
		`"performer":[{"reference":"Practitioner/pr%d"}],%s}`,
		id, v.code, v.display, v.display, genPatientID(patient), when, when, patient%50, value)
}

func genOrganization(i int) (typ, id, json string) {
	id = fmt.Sprintf("org%d", i)
	return "Organization", id, fmt.Sprintf(`{"resourceType":"Organization","id":%q,"name":"Hospital %d",`+
		`"identifier":[{"system":"http://example.org/org","value":"H%d"}]}`, id, i, i)
}

// genResource is the k-th resource of a data set of patients × perPatient
// observations: ten organizations, then each patient followed by its
// observations.
func genResource(k, perPatient int) (typ, id, json string) {
	if k < 10 {
		return genOrganization(k)
	}
	k -= 10
	patient, j := k/(perPatient+1), k%(perPatient+1)
	if j == 0 {
		return genPatient(patient)
	}
	return genObservation(patient, j-1)
}

// genLoad writes patients × perPatient observations (and ten
// organizations) through Write, from as many goroutines as make group
// commit pay, and returns how many resources it wrote.
func genLoad(tb testing.TB, s *Store, patients, perPatient int) int {
	tb.Helper()
	x, err := genExtractor()
	if err != nil {
		tb.Fatal(err)
	}
	total := 10 + patients*(perPatient+1)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Bool
	for range max(32, 4*runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			for !failed.Load() {
				k := int(next.Add(1) - 1)
				if k >= total {
					return
				}
				typ, id, js := genResource(k, perPatient)
				entries, err := x.Extract(typ, []byte(js))
				if err != nil {
					tb.Errorf("Extract %s/%s: %v", typ, id, err)
					failed.Store(true)
					return
				}
				r := fhir.Resource{Type: typ, ID: id, Version: 1, Method: "POST",
					LastUpdated: genEpoch.Add(time.Duration(k) * time.Millisecond), JSON: []byte(js)}
				if err := s.Write(context.Background(), storage.Write{Resource: r, Index: entries}); err != nil {
					tb.Errorf("Write %s/%s: %v", typ, id, err)
					failed.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() {
		tb.FailNow()
	}
	return total
}
