// Package medtech maps device messages with templates in the format of
// Microsoft's MedTech service and iomt-fhir (github.com/microsoft/iomt-fhir),
// so that a hospital moves its templates unchanged.
//
// # Mappings directory
//
// Load reads the directory given with --mappings: one sub-directory per
// mapping, named as the mapping (letters, digits, ".", "_", "-"), with
//
//   - devicecontent.json: a CollectionContent of CalculatedContent,
//     JsonPathContent and IotJsonPathContent templates (iomt-fhir
//     docs/Configuration.md);
//
//   - fhirmapping.json: a CollectionFhir of CodeValueFhir templates, one per
//     typeName the device templates produce;
//
//   - settings.json (optional):
//
//     {
//     "identityResolution": "Create",
//     "patientIdentifierSystem": "urn:oid:1.2.36.146.595.217.0.1",
//     "deviceIdentifierSystem": "urn:example:bedside-monitor:serial",
//     "encounterIdentifierSystem": "urn:example:visit"
//     }
//
//     identityResolution is "Create" (the default: a Patient named by a
//     message is created on first sight) or "Lookup" (only patients already
//     known are used; messages naming another go to dead letters). Note
//     that iomt-fhir's Lookup takes the patient from the Device resource;
//     medbridge always takes it from the message, so every device template
//     needs a patientIdExpression. The identifier systems qualify the
//     values the templates extract (deviceIdentifierSystem is iomt-fhir's
//     ResourceIdentity:DefaultDeviceIdentifierSystem); "" means none.
//
// # Semantics
//
// As in iomt-fhir, every device template is evaluated against every
// message; each value its typeMatchExpression selects is one measurement.
// JsonPathContent and IotJsonPathContent evaluate their other expressions
// against that value; CalculatedContent evaluates them against the message
// with the value added as "matchedToken" ($.matchedToken.x), each in
// JsonPath (the default, or defaultExpressionLanguage) or JmesPath with
// iomt-fhir's functions (add, subtract, multiply, divide, pow,
// insertString, fromUnixTimestamp, fromUnixTimestampMs). IotJsonPathContent
// takes the device from SystemProperties.iothub-connection-device-id and
// the time from Properties.iothub-creation-time-utc, else
// SystemProperties.iothub-enqueuedtime. The JSONPath dialect is
// Newtonsoft.Json's (see jsonpath.go); several values where one is
// expected is an error. Timestamps are ISO 8601 strings; one without
// offset is UTC.
//
// periodInterval 0 makes an Observation per measurement, at
// effectiveDateTime; 60 and 1440 group the measurements of a device,
// patient and correlation id into UTC hours or days, effectivePeriod the
// window (ending a millisecond before the next), SampledData holding the
// window's samples ("E" where none) and other value types the latest
// value. Grouped SampledData readings carry a Merger, so the samples of
// later messages are added to the stored Observation; a slot already
// stored keeps its sample (iomt-fhir lets the later message win), which
// makes re-sending and replaying idempotent.
//
// # Errors
//
// Map rejects the whole message (the ingest service dead-letters it with
// the error's text) when any of its measurements fails: a missing or
// blank required value, device id, patient id or timestamp, a Quantity or
// SampledData value that is not a number, an expression selecting several
// values. iomt-fhir stops at the failing message the same way. A message
// no template matches is mappers.ErrNoMatch.
package medtech

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/medbridge/medbridge/mappers"
)

// File names in a mapping's directory.
const (
	DeviceContentFile = "devicecontent.json"
	FhirMappingFile   = "fhirmapping.json"
	SettingsFile      = "settings.json"
)

// Identity resolution modes of Settings.
const (
	IdentityCreate = "Create"
	IdentityLookup = "Lookup"
)

// Settings are a mapping's settings.json.
type Settings struct {
	// IdentityResolution is IdentityCreate or IdentityLookup.
	IdentityResolution string `json:"identityResolution"`
	// PatientIdentifierSystem, DeviceIdentifierSystem and
	// EncounterIdentifierSystem are the systems of the identifiers the
	// templates extract.
	PatientIdentifierSystem   string `json:"patientIdentifierSystem,omitempty"`
	DeviceIdentifierSystem    string `json:"deviceIdentifierSystem,omitempty"`
	EncounterIdentifierSystem string `json:"encounterIdentifierSystem,omitempty"`
}

// Lookup reports whether patients are only looked up, never created.
func (s Settings) Lookup() bool { return s.IdentityResolution == IdentityLookup }

// Mapping is one named mapping. It implements mappers.Mapper and is safe
// for concurrent use.
type Mapping struct {
	Name     string
	Settings Settings
	content  []*contentTemplate
	// fhir holds the FHIR templates by typeName; order, their order.
	fhir  map[string]*fhirTemplate
	order []*fhirTemplate
}

var _ mappers.Mapper = (*Mapping)(nil)

var mappingName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// Load reads every mapping in dir (one sub-directory each; hidden ones
// are skipped), sorted by name. Problems are reported together, each
// naming its file and JSON path.
func Load(dir string) ([]*Mapping, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("mappings directory: %w", err)
	}
	var out []*Mapping
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		m, err := loadMapping(filepath.Join(dir, e.Name()), e.Name())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, m)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("mappings directory %s: no mapping (expected sub-directories with %s and %s)", dir, DeviceContentFile, FhirMappingFile)
	}
	return out, nil
}

func loadMapping(dir, name string) (*Mapping, error) {
	read := func(file string, optional bool) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if optional && errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", name, file, err)
		}
		return b, nil
	}
	dc, err := read(DeviceContentFile, false)
	if err != nil {
		return nil, err
	}
	fm, err := read(FhirMappingFile, false)
	if err != nil {
		return nil, err
	}
	settings, err := read(SettingsFile, true)
	if err != nil {
		return nil, err
	}
	return Parse(name, dc, fm, settings)
}

// Parse builds the mapping name from the contents of its files; settings
// may be nil (the defaults). Errors name the files as name/file.
func Parse(name string, deviceContent, fhirMapping, settings []byte) (*Mapping, error) {
	if !mappingName.MatchString(name) {
		return nil, fmt.Errorf("mapping %q: a name has only letters, digits, '.', '_' and '-'", name)
	}
	m := &Mapping{Name: name, Settings: Settings{IdentityResolution: IdentityCreate}, fhir: map[string]*fhirTemplate{}}
	var errs []error
	if settings != nil {
		if err := m.parseSettings(name+"/"+SettingsFile, settings); err != nil {
			errs = append(errs, err)
		}
	}
	dcErrs := &fileErrors{file: name + "/" + DeviceContentFile}
	if root, err := decodeFile(dcErrs.file, deviceContent); err != nil {
		errs = append(errs, err)
	} else {
		m.content = parseDeviceContent(dcErrs, root)
	}
	fmErrs := &fileErrors{file: name + "/" + FhirMappingFile}
	if root, err := decodeFile(fmErrs.file, fhirMapping); err != nil {
		errs = append(errs, err)
	} else {
		m.order = parseFhirMapping(fmErrs, root)
	}
	if len(errs) == 0 && len(dcErrs.errs) == 0 && len(fmErrs.errs) == 0 {
		m.link(dcErrs, fmErrs)
	}
	if err := errors.Join(append(errs, dcErrs.err(), fmErrs.err())...); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Mapping) parseSettings(file string, data []byte) error {
	root, err := decodeFile(file, data)
	if err != nil {
		return err
	}
	fe := &fileErrors{file: file}
	if o := asObject(fe, "$", root); o != nil {
		if mode := o.str("identityResolution", false); mode != "" {
			switch {
			case strings.EqualFold(mode, IdentityCreate):
				m.Settings.IdentityResolution = IdentityCreate
			case strings.EqualFold(mode, IdentityLookup):
				m.Settings.IdentityResolution = IdentityLookup
			default:
				fe.add("$.identityResolution", "expected %q or %q, found %q", IdentityCreate, IdentityLookup, mode)
			}
		}
		m.Settings.PatientIdentifierSystem = o.str("patientIdentifierSystem", false)
		m.Settings.DeviceIdentifierSystem = o.str("deviceIdentifierSystem", false)
		m.Settings.EncounterIdentifierSystem = o.str("encounterIdentifierSystem", false)
		o.done()
	}
	return fe.err()
}

// link checks that the two files fit: one FHIR template per type, a
// device template for each, and every value a FHIR template reads
// extracted by a device template of its type.
func (m *Mapping) link(dc, fm *fileErrors) {
	for _, f := range m.order {
		if m.fhir[f.typeName] != nil {
			fm.add(f.path+".typeName", "a second template for type %q", f.typeName)
			continue
		}
		m.fhir[f.typeName] = f
		var produced []string
		for _, c := range m.content {
			if c.typeName == f.typeName {
				for _, v := range c.values {
					produced = append(produced, v.name)
				}
			}
		}
		if produced == nil && !slices.ContainsFunc(m.content, func(c *contentTemplate) bool { return c.typeName == f.typeName }) {
			fm.add(f.path+".typeName", "no template in %s produces type %q", DeviceContentFile, f.typeName)
			continue
		}
		for _, vt := range f.valueTypes() {
			if !slices.Contains(produced, vt.name) {
				fm.add(vt.path+".valueName", "no template of type %q in %s extracts a value named %q", f.typeName, DeviceContentFile, vt.name)
			}
		}
	}
	for _, c := range m.content {
		if m.fhir[c.typeName] == nil {
			dc.add(strings.TrimPrefix(c.where, dc.file+" ")+".template.typeName", "no template in %s maps type %q", FhirMappingFile, c.typeName)
		}
	}
}

// Map returns the readings of one message: one per measurement, or per
// group of measurements for grouped types.
func (m *Mapping) Map(payload []byte) ([]mappers.Reading, error) {
	var msg any
	if err := json.Unmarshal(payload, &msg); err != nil {
		return nil, fmt.Errorf("the message is not JSON: %v", err)
	}
	var ms []measurement
	for _, t := range m.content {
		var err error
		if ms, err = t.measurements(msg, ms); err != nil {
			return nil, err
		}
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("mapping %s: %w", m.Name, mappers.ErrNoMatch)
	}
	groups := m.groupMeasurements(ms)
	out := make([]mappers.Reading, len(groups))
	for i, g := range groups {
		var err error
		if out[i], err = m.reading(g); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Description is what GET /ingest/mappings shows of a mapping.
type Description struct {
	Name     string            `json:"name"`
	Format   string            `json:"format"`
	Settings Settings          `json:"settings"`
	Types    []TypeDescription `json:"types"`
}

// TypeDescription describes one measurement type of a mapping.
type TypeDescription struct {
	Type string `json:"type"`
	// Templates are the device-content template types producing it.
	Templates []string `json:"templates"`
	// PeriodInterval is 0, 60 or 1440 minutes.
	PeriodInterval int                `json:"periodInterval"`
	Category       []Concept          `json:"category,omitempty"`
	Codes          []Code             `json:"codes"`
	Value          *ValueDescription  `json:"value,omitempty"`
	Components     []ValueDescription `json:"components,omitempty"`
}

// ValueDescription describes a value or component of a type.
type ValueDescription struct {
	ValueName string `json:"valueName"`
	ValueType string `json:"valueType"`
	Unit      string `json:"unit,omitempty"`
	Codes     []Code `json:"codes,omitempty"`
}

// Describe returns the mapping's description.
func (m *Mapping) Describe() Description {
	d := Description{Name: m.Name, Format: "medtech", Settings: m.Settings, Types: []TypeDescription{}}
	for _, f := range m.order {
		td := TypeDescription{Type: f.typeName, PeriodInterval: int(f.interval.Minutes()), Category: f.category, Codes: f.codes}
		for _, c := range m.content {
			if c.typeName == f.typeName && !slices.Contains(td.Templates, c.kind) {
				td.Templates = append(td.Templates, c.kind)
			}
		}
		if f.value != nil {
			td.Value = &ValueDescription{ValueName: f.value.name, ValueType: f.value.kind, Unit: unit(f.value)}
		}
		for _, c := range f.components {
			td.Components = append(td.Components, ValueDescription{ValueName: c.value.name, ValueType: c.value.kind, Unit: unit(c.value), Codes: c.codes})
		}
		d.Types = append(d.Types, td)
	}
	return d
}

func unit(vt *valueType) string {
	if vt.code != "" {
		return vt.code
	}
	return vt.unit
}
