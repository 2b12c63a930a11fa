// Package omh maps Open mHealth data points (header + body, schemas of the
// omh namespace) to FHIR R4 Observations. Vital signs follow the R4
// vital-signs profiles: their LOINC codes, category vital-signs and the
// profile's UCUM unit, converted where the data point uses another unit.
// Those profiles allow components only with a value in vital-signs units,
// so a vital sign's qualifiers (temporal relationships, posture, oxygen
// therapy) are notes, "Temporal relationship to sleep: on waking"; other
// Observations carry them as components.
//
// Map takes one data point; splitting a JSON array of data points is the
// caller's business.
package omh

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/medbridge/medbridge/mappers"
)

// DeviceSystem is the system of the identifier of a data point's Device.
// Its value is "<user_id>/<source>": the user id with "%" and "/"
// percent-encoded, a slash, and the source name as sent (header
// acquisition_provenance.source_name, else the first external datasheet's
// reference, else "unknown source"). So the readings of one source of one
// user share one Device, and two users' wearables of one model do not.
const DeviceSystem = "urn:medbridge:omh:device"

// unknownSource names the source of a data point whose header names none.
const unknownSource = "unknown source"

// Options configure a Mapper.
type Options struct {
	// PatientSystem is the system of the patient identifier whose value is
	// header.user_id; "" means any system.
	PatientSystem string
}

// Mapper maps Open mHealth data points. It implements mappers.Mapper.
type Mapper struct{ opts Options }

// New returns a Mapper with the options opts.
func New(opts Options) *Mapper { return &Mapper{opts: opts} }

var _ mappers.Mapper = (*Mapper)(nil)

// dataPoint is the part of a data point the mapping reads. The header is
// the union of the omh header 1.x (acquisition_provenance) and the IEEE
// 1752.1 header (external_datasheets).
type dataPoint struct {
	Header *struct {
		SchemaID *struct {
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
			Version   string `json:"version"`
		} `json:"schema_id"`
		UserID                string `json:"user_id"`
		AcquisitionProvenance struct {
			SourceName string `json:"source_name"`
		} `json:"acquisition_provenance"`
		ExternalDatasheets []struct {
			Reference string `json:"datasheet_reference"`
		} `json:"external_datasheets"`
	} `json:"header"`
	Body map[string]json.RawMessage `json:"body"`
}

// Map returns the one reading of an Open mHealth data point. Errors name
// the JSON path of what is wrong (e.g. "body.oxygen_saturation.unit:
// missing").
func (m *Mapper) Map(payload []byte) ([]mappers.Reading, error) {
	var dp dataPoint
	if err := json.Unmarshal(payload, &dp); err != nil {
		return nil, fmt.Errorf("the data point is not a JSON object with header and body: %s", err.Error())
	}
	if dp.Header == nil {
		return nil, fmt.Errorf("header: missing")
	}
	h := dp.Header
	if h.SchemaID == nil || h.SchemaID.Name == "" {
		return nil, fmt.Errorf("header.schema_id.name: missing")
	}
	if h.UserID == "" {
		return nil, fmt.Errorf("header.user_id: missing")
	}
	if dp.Body == nil {
		return nil, fmt.Errorf("body: missing")
	}
	s, err := lookupSchema(h.SchemaID.Namespace, h.SchemaID.Name, h.SchemaID.Version)
	if err != nil {
		return nil, err
	}
	b := body(dp.Body)
	start, end, err := b.timeFrame()
	if err != nil {
		return nil, err
	}
	obs := map[string]any{"status": "final"}
	if err := s.build(b, obs, start, end); err != nil {
		return nil, err
	}
	k, v := mappers.Effective(start, end)
	obs[k] = v
	if err := b.addCommon(obs); err != nil {
		return nil, err
	}
	source := h.AcquisitionProvenance.SourceName
	for i := 0; source == "" && i < len(h.ExternalDatasheets); i++ {
		source = h.ExternalDatasheets[i].Reference
	}
	if source == "" {
		source = unknownSource
	}
	return []mappers.Reading{{
		Type:        h.SchemaID.Name,
		Device:      mappers.Device{Identifier: mappers.Identifier{System: DeviceSystem, Value: deviceValue(h.UserID, source)}},
		Patient:     mappers.Identifier{System: m.opts.PatientSystem, Value: h.UserID},
		Start:       start,
		End:         end,
		Observation: obs,
	}}, nil
}

// userEscaper makes the user id part of a device identifier free of "/",
// so that the first "/" of the value ends it.
var userEscaper = strings.NewReplacer("%", "%25", "/", "%2F")

func deviceValue(user, source string) string { return userEscaper.Replace(user) + "/" + source }

// lookupSchema returns the mapping of a schema id, or an error naming what
// is not supported.
func lookupSchema(namespace, name, version string) (*schema, error) {
	if namespace != "omh" {
		return nil, fmt.Errorf("header.schema_id.namespace: %q is not supported (omh)", namespace)
	}
	s, ok := schemas[name]
	if !ok {
		return nil, fmt.Errorf("header.schema_id.name: schema %q is not supported", name)
	}
	major, _, _ := strings.Cut(version, ".")
	n, err := strconv.Atoi(major)
	if err != nil || n < 1 || n > s.maxMajor {
		return nil, fmt.Errorf("header.schema_id.version: %s %q is not supported (1.x to %d.x)", name, version, s.maxMajor)
	}
	return s, nil
}
