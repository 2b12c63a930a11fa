package server_test

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"testing"

	"github.com/medbridge/medbridge/server/servertest"
)

// vital is one Observation the operation tests store.
type vital struct {
	patient, code string
	minute        int
	value         float64
}

func (v vital) json(id string) []byte {
	return fmt.Appendf(nil, `{"resourceType":"Observation","id":%q,"status":"final",
		"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
		"code":{"coding":[{"system":"http://loinc.org","code":%q}]},"subject":{"reference":"Patient/%s"},
		"effectiveDateTime":"2026-11-20T09:%02d:00Z","valueQuantity":{"value":%g,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`,
		id, v.code, v.patient, v.minute, v.value)
}

// vitals are two patients' heart rates (8867-4) and respiratory rates
// (9279-1) at distinct minutes.
func vitals() []vital {
	var out []vital
	for i := range 8 {
		out = append(out, vital{"a", "8867-4", i, 60 + float64(i*i%7)*3})
		out = append(out, vital{"b", "8867-4", i + 10, 90 - float64(i)})
		if i < 3 {
			out = append(out, vital{"a", "9279-1", i + 20, 12 + float64(i)})
		}
	}
	return out
}

func storeVitals(t *testing.T, srv *servertest.Server) []vital {
	vs := vitals()
	for i, v := range vs {
		id := fmt.Sprintf("v%d", i)
		if res := srv.Do(t, http.MethodPut, "/fhir/Observation/"+id, v.json(id)); res.Status != http.StatusCreated {
			t.Fatalf("PUT %s: %d %s", id, res.Status, res.Body)
		}
	}
	return vs
}

func TestLastN(t *testing.T) {
	servertest.EachBackend(t, func(t *testing.T, b servertest.Backend) {
		srv := servertest.StartBackend(t, b)
		vs := storeVitals(t, srv)
		// want computes the answer: per patient and code, the max latest.
		want := func(patient string, max int) []string {
			groups := map[string][]int{}
			for i, v := range vs {
				if patient == "" || v.patient == patient {
					groups[v.patient+v.code] = append(groups[v.patient+v.code], i)
				}
			}
			var out []string
			for _, g := range groups {
				sort.Slice(g, func(x, y int) bool { return vs[g[x]].minute > vs[g[y]].minute })
				for _, i := range g[:min(max, len(g))] {
					out = append(out, fmt.Sprintf("Observation/v%d", i))
				}
			}
			sort.Strings(out)
			return out
		}
		for _, tc := range []struct {
			query   string
			patient string
			max     int
		}{
			{"patient=a", "a", 1},
			{"patient=a&max=3", "a", 3},
			{"category=vital-signs&max=2", "", 2},
			{"subject=Patient/b&max=100", "b", 100},
		} {
			set := search(t, srv, "/fhir/Observation/$lastn?"+tc.query)
			var got []string
			for _, e := range set.Entry {
				got = append(got, e.ref())
			}
			sort.Strings(got)
			if w := want(tc.patient, tc.max); !slices.Equal(got, w) {
				t.Errorf("$lastn?%s = %v, want %v", tc.query, got, w)
			}
		}
		// A code narrows the groups, and _include brings the subjects' Patients.
		srv.Do(t, http.MethodPut, "/fhir/Patient/a", []byte(`{"resourceType":"Patient","id":"a"}`))
		set := search(t, srv, "/fhir/Observation/$lastn?code=http://loinc.org|9279-1&_include=Observation:subject")
		var modes []string
		for _, e := range set.Entry {
			modes = append(modes, e.Search.Mode+" "+e.ref())
		}
		if !slices.Equal(modes, []string{"match Observation/v" + fmt.Sprint(indexOf(vs, vital{"a", "9279-1", 22, 14})), "include Patient/a"}) {
			t.Errorf("$lastn by code with _include: %v", modes)
		}
		if res := srv.Do(t, http.MethodGet, "/fhir/Observation/$lastn?max=0", nil); res.Status != http.StatusBadRequest {
			t.Errorf("max=0: status %d, want 400", res.Status)
		}
	})
}

func indexOf(vs []vital, v vital) int { return slices.Index(vs, v) }

func TestStats(t *testing.T) {
	servertest.EachBackend(t, func(t *testing.T, b servertest.Backend) {
		srv := servertest.StartBackend(t, b)
		vs := storeVitals(t, srv)
		var values []float64
		for _, v := range vs {
			if v.patient == "a" && v.code == "8867-4" && v.minute >= 2 && v.minute <= 6 {
				values = append(values, v.value)
			}
		}
		sort.Float64s(values)
		n := float64(len(values))
		var sum, sq float64
		for _, x := range values {
			sum += x
		}
		mean := sum / n
		for _, x := range values {
			sq += (x - mean) * (x - mean)
		}
		quantile := func(p float64) float64 {
			r := p * (n - 1)
			lo := math.Floor(r)
			hi := math.Min(lo+1, n-1)
			return values[int(lo)] + (r-lo)*(values[int(hi)]-values[int(lo)])
		}
		want := map[string]float64{
			"count": n, "average": mean, "minimum": values[0], "maximum": values[len(values)-1], "sum": sum,
			"median": quantile(0.5), "std-dev": math.Sqrt(sq / (n - 1)), "variance": sq / (n - 1), "20-percent": quantile(0.2),
		}
		path := "/fhir/Observation/$stats?subject=Patient/a&system=http://loinc.org&code=8867-4" +
			"&period=2026-11-20T09:02:00Z/2026-11-20T09:06:00Z&statistic=count,average,minimum,maximum,sum,median,std-dev,variance,20-percent"
		res := srv.Do(t, http.MethodGet, path, nil)
		if res.Status != http.StatusOK {
			t.Fatalf("$stats: %d %s", res.Status, res.Body)
		}
		params := res.JSON(t)["parameter"].([]any)
		if len(params) != 1 {
			t.Fatalf("$stats gave %d statistic Observations, want 1 (one code, one unit): %s", len(params), res.Body)
		}
		if name := params[0].(map[string]any)["name"]; name != "statistics" {
			t.Errorf("$stats output parameter %v, want R4's statistics", name)
		}
		obs := params[0].(map[string]any)["resource"].(map[string]any)
		got := map[string]float64{}
		for _, c := range obs["component"].([]any) {
			comp := c.(map[string]any)
			code := comp["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"].(string)
			got[code] = comp["valueQuantity"].(map[string]any)["value"].(float64)
		}
		for k, w := range want {
			if g, ok := got[k]; !ok || math.Abs(g-w) > 1e-9 {
				t.Errorf("%s = %v (present %v), want %v", k, g, ok, w)
			}
		}
		period := obs["effectivePeriod"].(map[string]any)
		if period["start"] != "2026-11-20T09:02:00Z" || period["end"] != "2026-11-20T09:06:00Z" {
			t.Errorf("effectivePeriod %v, want the requested period", period)
		}
		for _, bad := range []string{
			"/fhir/Observation/$stats?code=8867-4&statistic=average",                          // no subject
			"/fhir/Observation/$stats?subject=Patient/a&statistic=average",                    // no code
			"/fhir/Observation/$stats?subject=Patient/a&code=8867-4",                          // no statistic
			"/fhir/Observation/$stats?subject=Patient/a&code=8867-4&statistic=kurtosis",       // not supported
			"/fhir/Observation/$stats?subject=Patient/a&code=8867-4&statistic=count&period=x", // bad period
		} {
			res := srv.Do(t, http.MethodGet, bad, nil)
			if res.Status != http.StatusBadRequest || res.JSON(t)["resourceType"] != "OperationOutcome" {
				t.Errorf("%s: %d %s, want a 400 OperationOutcome", bad, res.Status, res.Body)
			}
		}
	})
}
