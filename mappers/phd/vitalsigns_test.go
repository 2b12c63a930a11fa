package phd

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestMapComponents: in a vital sign, the components the vitalsigns
// profile refuses that qualify the reading go to method or note; the
// measurements and every component of another Observation stay.
func TestMapComponents(t *testing.T) {
	const (
		spot   = `{"code":{"coding":[{"system":"urn:iso:std:iso:11073:10101","code":"68193","display":"MDC_ATTR_SUPPLEMENTAL_TYPES"}]},"valueCodeableConcept":{"coding":[{"system":"urn:iso:std:iso:11073:10101","code":"150588","display":"MDC_MODALITY_SPOT"}]}}`
		slow   = `{"code":{"coding":[{"system":"urn:iso:std:iso:11073:10101","code":"68193","display":"MDC_ATTR_SUPPLEMENTAL_TYPES"}]},"valueCodeableConcept":{"coding":[{"system":"urn:iso:std:iso:11073:10101","code":"150584","display":"MDC_MODALITY_SLOW"}]}}`
		spotCC = `{"coding":[{"system":"urn:iso:std:iso:11073:10101","code":"150588","display":"MDC_MODALITY_SPOT"}]}`
		sysKPa = `{"code":{"coding":[{"system":"urn:iso:std:iso:11073:10101","code":"150021"},{"system":"http://loinc.org","code":"8480-6","display":"Systolic blood pressure"}]},"valueQuantity":{"value":17.9,"unit":"kPa","system":"http://unitsofmeasure.org","code":"kPa"}}`
		absent = `{"code":{"text":"perfusion index"},"dataAbsentReason":{"text":"not measured"}}`
	)
	tests := []struct {
		name      string
		vitalSign bool
		in, want  string
	}{
		{"one supplemental type to method", true,
			`{"component":[` + spot + `]}`,
			`{"method":` + spotCC + `}`},
		{"method taken: to note", true,
			`{"method":{"text":"cuff"},"note":[{"text":"sent"}],"component":[` + spot + `]}`,
			`{"method":{"text":"cuff"},"note":[{"text":"sent"},{"text":"MDC_ATTR_SUPPLEMENTAL_TYPES: MDC_MODALITY_SPOT"}]}`},
		{"two supplemental types: both to note", true,
			`{"component":[` + spot + `,` + slow + `]}`,
			`{"note":[{"text":"MDC_ATTR_SUPPLEMENTAL_TYPES: MDC_MODALITY_SPOT"},{"text":"MDC_ATTR_SUPPLEMENTAL_TYPES: MDC_MODALITY_SLOW"}]}`},
		{"qualifiers to note, measurements and absent values stay", true,
			`{"component":[` + sysKPa + `,` + absent + `,` +
				`{"code":{"text":"Inhaled oxygen flow rate"},"valueQuantity":{"value":2,"unit":"L/min","system":"http://unitsofmeasure.org","code":"L/min"}},` +
				`{"code":{"coding":[{"system":"urn:example","code":"rest"}]},"valueString":"at rest"},` +
				`{"code":{"text":"cuff size"},"valueRange":{"low":{"value":22}}}]}`,
			`{"component":[` + sysKPa + `,` + absent + `],"note":[{"text":"Inhaled oxygen flow rate: 2 L/min"},{"text":"urn:example|rest: at rest"},{"text":"cuff size: {\"low\":{\"value\":22}}"}]}`},
		{"not a vital sign: as sent", false,
			`{"component":[` + spot + `]}`,
			`{"component":[` + spot + `]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var obs, want map[string]any
			if err := json.Unmarshal([]byte(tt.in), &obs); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatal(err)
			}
			mapComponents(obs, tt.vitalSign)
			if !reflect.DeepEqual(obs, want) {
				got, _ := json.Marshal(obs)
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
