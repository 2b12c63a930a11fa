package conformance

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"
)

// The OperationDefinitions of the operations medbridge runs are data, one
// R4 OperationDefinition per file in operations/, named by its id. The
// spec data has none of its own: R4's definitions (their canonical URLs are
// the files' base) describe more than medbridge does, so medbridge serves
// its own, which list exactly the parameters it takes and returns.

//go:embed operations/*.json
var operationFiles embed.FS

// The ids of medbridge's OperationDefinitions.
const (
	OperationLastN    = "Observation-lastn"
	OperationStats    = "Observation-stats"
	OperationValidate = "Resource-validate"
)

// OperationDefinitionJSON is the part of an R4 OperationDefinition that
// says where an operation runs: what the server's own definitions are
// checked against, and what the conformance harness reads from a
// server's.
type OperationDefinitionJSON struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id,omitempty"`
	URL          string `json:"url,omitempty"`
	Status       string `json:"status"`
	Kind         string `json:"kind"`
	Code         string `json:"code"`
	Base         string `json:"base,omitempty"`
	// Resource lists the types the operation is defined on; "Resource"
	// means every type.
	Resource     []string                 `json:"resource,omitempty"`
	System       bool                     `json:"system"`
	Type         bool                     `json:"type"`
	Instance     bool                     `json:"instance"`
	AffectsState bool                     `json:"affectsState,omitempty"`
	Parameter    []OperationParameterJSON `json:"parameter,omitempty"`
	Date         string                   `json:"date,omitempty"`
}

// OperationParameterJSON is one OperationDefinition.parameter.
type OperationParameterJSON struct {
	Name string `json:"name"`
	Use  string `json:"use"`
	Min  int    `json:"min"`
	Max  string `json:"max"`
	Type string `json:"type,omitempty"`
}

// AppliesTo reports whether the definition covers resource type typ: typ
// is in Resource, or Resource names "Resource" (every type) or
// "DomainResource" (every type but Bundle, Binary and Parameters).
func (d *OperationDefinitionJSON) AppliesTo(typ string) bool {
	for _, r := range d.Resource {
		switch r {
		case typ, "Resource":
			return true
		case "DomainResource":
			if typ != "Bundle" && typ != "Binary" && typ != "Parameters" {
				return true
			}
		}
	}
	return false
}

// OperationDefinition is one of the server's OperationDefinitions.
type OperationDefinition struct {
	OperationDefinitionJSON
	// LastUpdated is the definition's date: when its file last changed.
	LastUpdated time.Time
	// JSON is the resource as served: the file with url set to the
	// server's canonical and meta.versionId 1.
	JSON []byte
}

var operationDefinitions = sync.OnceValues(readOperationDefinitions)

// readOperationDefinitions parses the embedded files, sorted by id.
func readOperationDefinitions() ([]operationFile, error) {
	names, err := fs.Glob(operationFiles, "operations/*.json")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	var out []operationFile
	for _, name := range names {
		b, err := operationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		f := operationFile{}
		if err := json.Unmarshal(b, &f.fields); err != nil {
			return nil, fmt.Errorf("conformance: %s: %w", name, err)
		}
		if err := json.Unmarshal(b, &f.def); err != nil {
			return nil, fmt.Errorf("conformance: %s: %w", name, err)
		}
		id := strings.TrimSuffix(strings.TrimPrefix(name, "operations/"), ".json")
		switch {
		case f.def.ResourceType != "OperationDefinition":
			return nil, fmt.Errorf("conformance: %s is a %q, not an OperationDefinition", name, f.def.ResourceType)
		case f.def.ID != id:
			return nil, fmt.Errorf("conformance: %s has id %q, not its file's name", name, f.def.ID)
		case f.def.URL != "":
			return nil, fmt.Errorf("conformance: %s sets url, which is the server's: leave it out", name)
		}
		if f.lastUpdated, err = time.Parse(time.DateOnly, f.def.Date); err != nil {
			return nil, fmt.Errorf("conformance: %s: date %q is not a date (YYYY-MM-DD): %w", name, f.def.Date, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// operationFile is one parsed file of operations/.
type operationFile struct {
	fields      map[string]json.RawMessage
	def         OperationDefinitionJSON
	lastUpdated time.Time
}

// OperationDefinitionURL is the canonical URL of the server's
// OperationDefinition id under the FHIR base base.
func OperationDefinitionURL(base, id string) string {
	return strings.TrimSuffix(base, "/") + "/OperationDefinition/" + id
}

// OperationDefinitions returns the OperationDefinitions of the operations
// medbridge runs, sorted by id, each with url
// OperationDefinitionURL(base, id) and meta (version 1, last updated at
// its date). The JSON's elements are in no particular order: the server
// serves it through the codec, like every resource.
func OperationDefinitions(base string) ([]OperationDefinition, error) {
	files, err := operationDefinitions()
	if err != nil {
		return nil, err
	}
	out := make([]OperationDefinition, 0, len(files))
	for _, f := range files {
		d := OperationDefinition{OperationDefinitionJSON: f.def, LastUpdated: f.lastUpdated}
		d.URL = OperationDefinitionURL(base, f.def.ID)
		fields := make(map[string]any, len(f.fields)+2)
		for k, v := range f.fields {
			fields[k] = v
		}
		fields["url"] = d.URL
		fields["meta"] = map[string]string{"versionId": "1", "lastUpdated": f.lastUpdated.UTC().Format(time.RFC3339)}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // documentation is markdown
		if err := enc.Encode(fields); err != nil {
			return nil, fmt.Errorf("conformance: OperationDefinition %s: %w", f.def.ID, err)
		}
		d.JSON = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		out = append(out, d)
	}
	return out, nil
}
