// Package phd maps the FHIR Bundles that IEEE 11073 Personal Health Device
// gateways post (HL7 PHD implementation guide, http://hl7.org/fhir/uv/phd)
// to readings: one per Observation about a patient.
//
// The Observation is kept as sent, except that
//   - id, identifier, subject, device and encounter are left to
//     mappers.Finish (the sent identifier, the gateway's de-duplication
//     key, is replaced by the reading's Key, which serves the same end);
//   - LOINC codings are added beside the MDC codings of code and of each
//     component.code (see terms), and category vital-signs where the code
//     is a vital sign and the category lacks it;
//   - to conform to the R4 vital-signs profiles, whose vitalsigns profile
//     binds every component value (required) to the UCUM units of vital
//     signs (ucum-vitals-common), a vital sign (category vital-signs) loses
//     the components that qualify the reading: those whose code is no
//     vital sign and whose value is a string, a CodeableConcept or a
//     Quantity in another unit (see mapComponents). A single
//     supplemental-types component (MDC_ATTR_SUPPLEMENTAL_TYPES, such as
//     MDC_MODALITY_SPOT: how the value was measured) becomes method when
//     the Observation has none; every other one becomes a note
//     "<code>: <value>" ("MDC_ATTR_SUPPLEMENTAL_TYPES: MDC_MODALITY_SPOT").
//     The components of other Observations (glucose) stay as sent;
//   - references to other entries of the Bundle are rewritten: to a Device
//     as "Device/" + mappers.IdentifierID of its identifier (the Device
//     then goes into Reading.Gateways, as the gateway of the
//     observation-gatewayDevice extension does); to an Observation of a
//     patient as "Observation/" + mappers.ID of its reading's Key; to any
//     other resource (a Patient as performer) as a logical reference by
//     its identifier. The element holding a reference to a device-level
//     Observation (subject a Device, like the PHD coincident time stamp,
//     which the gateway has already applied to effective[x]) is removed,
//     since such Observations are not readings.
//
// Patient entries give the identity of subjects that reference them;
// Observations whose subject is a Device are not readings; entries of
// other types are used only as targets of references.
package phd

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/medbridge/medbridge/mappers"
)

// EUI64System is the system of a PHD's IEEE EUI-64 system identifier; the
// Device identifier of a reading is the one of this system (else the
// Device's first identifier with a value).
const EUI64System = "urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680"

// Mapper maps PHD gateway Bundles. Its zero value is ready to use; it
// implements mappers.Mapper.
type Mapper struct{}

var _ mappers.Mapper = Mapper{}

type entry struct {
	FullURL  string         `json:"fullUrl"`
	Resource map[string]any `json:"resource"`
}

// bundle is one message being mapped, with what was derived from its
// entries so far.
type bundle struct {
	ResourceType string  `json:"resourceType"`
	Type         string  `json:"type"`
	Entry        []entry `json:"entry"`

	byRef    map[string]int          // fullUrl and "Type/id" → entry index
	devices  map[int]*mappers.Device // Device entries already identified
	readings map[int]int             // Observation entry of a patient → index in the result
}

// Map returns one reading per Observation of a patient in a transaction
// or batch Bundle. Errors name the entry and element
// ("Bundle.entry[2].resource.device: ..."); a Bundle without such an
// Observation is mappers.ErrNoMatch.
func (Mapper) Map(payload []byte) ([]mappers.Reading, error) {
	var b bundle
	if err := json.Unmarshal(payload, &b); err != nil {
		return nil, fmt.Errorf("the message is not a FHIR Bundle: %s", err.Error())
	}
	if b.ResourceType != "Bundle" {
		return nil, fmt.Errorf("resourceType: %q is not Bundle", b.ResourceType)
	}
	if b.Type != "transaction" && b.Type != "batch" {
		return nil, fmt.Errorf("Bundle.type: %q is neither transaction nor batch", b.Type)
	}
	b.index()
	var readings []mappers.Reading
	for i, e := range b.Entry {
		if e.Resource["resourceType"] != "Observation" {
			continue
		}
		r, err := b.reading(i)
		if err != nil {
			return nil, err
		}
		if r == nil {
			continue
		}
		b.readings[i] = len(readings)
		readings = append(readings, *r)
	}
	if len(readings) == 0 {
		return nil, fmt.Errorf("%w: the Bundle has no Observation of a patient", mappers.ErrNoMatch)
	}
	// References are rewritten once every reading, and so every Key, is known.
	for i, k := range b.readings {
		if err := b.rewrite(i, &readings[k], readings); err != nil {
			return nil, err
		}
	}
	return readings, nil
}

func (b *bundle) index() {
	b.byRef = make(map[string]int, 2*len(b.Entry))
	b.devices = map[int]*mappers.Device{}
	b.readings = map[int]int{}
	for i, e := range b.Entry {
		if e.FullURL != "" {
			b.byRef[e.FullURL] = i
		}
		typ, _ := e.Resource["resourceType"].(string)
		if id, _ := e.Resource["id"].(string); typ != "" && id != "" {
			b.byRef[typ+"/"+id] = i
		}
	}
}

// resolve returns the entry a Reference (a JSON object) points to.
func (b *bundle) resolve(ref map[string]any) (int, bool) {
	s, _ := ref["reference"].(string)
	i, ok := b.byRef[s]
	return i, ok
}

func path(i int, element string) string {
	return fmt.Sprintf("Bundle.entry[%d].resource.%s", i, element)
}

// reading maps the Observation of entry i; it returns nil for an
// Observation whose subject is a Device.
func (b *bundle) reading(i int) (*mappers.Reading, error) {
	obs := b.Entry[i].Resource
	var r mappers.Reading
	subject, _ := obs["subject"].(map[string]any)
	switch j, found := b.resolve(subject); {
	case subject == nil:
		return nil, fmt.Errorf("%s: missing", path(i, "subject"))
	case found && b.Entry[j].Resource["resourceType"] == "Device":
		return nil, nil
	case found && b.Entry[j].Resource["resourceType"] != "Patient":
		return nil, fmt.Errorf("%s: references a %v, not a Patient", path(i, "subject"), b.Entry[j].Resource["resourceType"])
	case found:
		id, ok := firstIdentifier(b.Entry[j].Resource)
		if !ok {
			return nil, fmt.Errorf("%s: the Patient of Bundle.entry[%d] has no identifier", path(i, "subject"), j)
		}
		r.Patient = id
	default:
		id, ok := identifierOf(subject["identifier"])
		if !ok {
			return nil, fmt.Errorf("%s: neither an identifier nor a reference to an entry of the Bundle", path(i, "subject"))
		}
		r.Patient = id
	}

	device, _ := obs["device"].(map[string]any)
	j, found := b.resolve(device)
	if !found || b.Entry[j].Resource["resourceType"] != "Device" {
		return nil, fmt.Errorf("%s: does not reference a Device entry of the Bundle", path(i, "device"))
	}
	d, err := b.device(j)
	if err != nil {
		return nil, err
	}
	r.Device = *d

	if enc, _ := obs["encounter"].(map[string]any); enc != nil {
		if j, found := b.resolve(enc); found {
			r.Encounter, found = firstIdentifier(b.Entry[j].Resource)
		} else {
			r.Encounter, found = identifierOf(enc["identifier"])
		}
		if !found {
			return nil, fmt.Errorf("%s: names no identifier", path(i, "encounter"))
		}
	}

	if r.Type, err = readingType(obs); err != nil {
		return nil, fmt.Errorf("%s: %s", path(i, "code"), err.Error())
	}
	if r.Start, r.End, err = effective(obs); err != nil {
		return nil, fmt.Errorf("%s: %s", path(i, "effective[x]"), err.Error())
	}
	for _, k := range []string{"id", "identifier", "subject", "device", "encounter"} {
		delete(obs, k)
	}
	code, _ := obs["code"].(map[string]any)
	if addLOINC(code, quantityCode(obs)) {
		addVitalSignsCategory(obs)
	}
	mapComponents(obs, hasVitalSignsCategory(obs))
	r.Observation = obs
	return &r, nil
}

// readingType is the MDC code of the Observation (else system|code of its
// first coding): with the device and the time it makes the reading's Key.
func readingType(obs map[string]any) (string, error) {
	code, _ := obs["code"].(map[string]any)
	codings, _ := code["coding"].([]any)
	for _, c := range codings {
		if c, _ := c.(map[string]any); c != nil && c["system"] == mdcSystem {
			if s, _ := c["code"].(string); s != "" {
				return s, nil
			}
		}
	}
	if len(codings) > 0 {
		if c, _ := codings[0].(map[string]any); c != nil && c["code"] != nil {
			return fmt.Sprintf("%v|%v", c["system"], c["code"]), nil
		}
	}
	return "", fmt.Errorf("missing or without a coding")
}

// quantityCode is the UCUM code of v's valueQuantity ("" without one).
func quantityCode(v map[string]any) string {
	q, _ := v["valueQuantity"].(map[string]any)
	s, _ := q["code"].(string)
	return s
}

// effective returns the window of effectiveDateTime, effectiveInstant or
// effectivePeriod (whose end, when absent, is its start).
func effective(obs map[string]any) (start, end time.Time, err error) {
	for _, k := range []string{"effectiveDateTime", "effectiveInstant"} {
		if s, ok := obs[k].(string); ok {
			start, err = parseDateTime(s)
			return start, start, err
		}
	}
	p, ok := obs["effectivePeriod"].(map[string]any)
	if !ok {
		return start, end, fmt.Errorf("missing")
	}
	s, _ := p["start"].(string)
	if start, err = parseDateTime(s); err != nil {
		return start, end, fmt.Errorf("start: %s", err.Error())
	}
	e, ok := p["end"].(string)
	if !ok {
		return start, start, nil
	}
	if end, err = parseDateTime(e); err != nil {
		return start, end, fmt.Errorf("end: %s", err.Error())
	}
	if end.Before(start) {
		return start, end, fmt.Errorf("end is before start")
	}
	return start, end, nil
}

// dateTimeLayouts are the forms of a FHIR dateTime, longest first.
var dateTimeLayouts = []string{time.RFC3339Nano, "2006-01-02", "2006-01", "2006"}

func parseDateTime(s string) (time.Time, error) {
	for _, l := range dateTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a FHIR dateTime", s)
}

// identifierOf reads a FHIR Identifier; it needs a value.
func identifierOf(v any) (mappers.Identifier, bool) {
	m, _ := v.(map[string]any)
	value, _ := m["value"].(string)
	system, _ := m["system"].(string)
	return mappers.Identifier{System: system, Value: value}, value != ""
}

// firstIdentifier is the first identifier with a value of a resource.
func firstIdentifier(res map[string]any) (mappers.Identifier, bool) {
	ids, _ := res["identifier"].([]any)
	for _, v := range ids {
		if id, ok := identifierOf(v); ok {
			return id, true
		}
	}
	return mappers.Identifier{}, false
}

// device identifies the Device of entry j by its EUI-64 (else its first
// identifier). The EUI-64 is written as the IG shows it, eight upper-case
// hex pairs joined by "-", in the identifier and in the stored Device, so
// that a gateway writing it in lower case names the same Device. The
// Device is kept as sent without id and patient (the ingest service links
// the patient).
func (b *bundle) device(j int) (*mappers.Device, error) {
	if d, ok := b.devices[j]; ok {
		return d, nil
	}
	res := make(map[string]any, len(b.Entry[j].Resource))
	for k, v := range b.Entry[j].Resource {
		if k != "id" && k != "patient" {
			res[k] = v
		}
	}
	ids, _ := res["identifier"].([]any)
	at := -1
	for k, v := range ids {
		if m, _ := v.(map[string]any); m != nil && m["system"] == EUI64System {
			if _, ok := identifierOf(m); ok {
				at = k
				break
			}
		}
	}
	d := &mappers.Device{Resource: res}
	switch {
	case at >= 0:
		sent, _ := identifierOf(ids[at])
		d.Identifier = mappers.Identifier{System: EUI64System, Value: canonicalEUI64(sent.Value)}
		if d.Identifier.Value != sent.Value {
			eui := maps.Clone(ids[at].(map[string]any))
			eui["value"] = d.Identifier.Value
			ids = slices.Clone(ids)
			ids[at] = eui
			res["identifier"] = ids
		}
	default:
		id, ok := firstIdentifier(res)
		if !ok {
			return nil, fmt.Errorf("%s: the Device has no identifier", path(j, "identifier"))
		}
		d.Identifier = id
	}
	b.devices[j] = d
	return d, nil
}

// canonicalEUI64 writes an EUI-64 of 16 hex digits (separated by "-", ":"
// or nothing) as upper-case pairs joined by "-"; other values stay as sent.
func canonicalEUI64(s string) string {
	hex := strings.NewReplacer("-", "", ":", "").Replace(s)
	if len(hex) != 16 || strings.Trim(hex, "0123456789abcdefABCDEF") != "" {
		return s
	}
	hex = strings.ToUpper(hex)
	var sb strings.Builder
	for k := 0; k < 16; k += 2 {
		if k > 0 {
			sb.WriteByte('-')
		}
		sb.WriteString(hex[k : k+2])
	}
	return sb.String()
}
