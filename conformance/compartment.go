package conformance

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// CompartmentSelf is the special parameter code "{def}" in a compartment
// definition: the owner resource itself is in the compartment (Encounter/1
// is in the compartment of Encounter/1). In R4 the Encounter, RelatedPerson
// and Practitioner compartments list it for their own type; the Patient
// compartment lists Patient → ["link"] instead (the patients linked to the
// owner) and the Device compartment has no entry for Device.
const CompartmentSelf = "{def}"

// compartments maps owner type → resource type → parameter codes, as in
// spec/compartments.json.
type compartments map[string]map[string][]string

var loadCompartments = sync.OnceValues(parseCompartments)

func parseCompartments() (compartments, error) {
	raw, err := ReadFile("compartments.json")
	if err != nil {
		return nil, err
	}
	var c compartments
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("conformance: compartments.json: %w", err)
	}
	return c, nil
}

// Compartment returns the R4 compartment owned by a resource of type owner
// ("Patient", "Encounter", "RelatedPerson", "Practitioner" or "Device"): for
// each resource type that can be in it, the codes of the search parameters
// that link a resource of that type to the owner, in the order of the
// CompartmentDefinition. A resource is in the compartment when any of them
// references the owner; the code CompartmentSelf ("{def}") stands for the
// owner itself. Types that cannot be in the compartment are absent. ok is
// false when owner has no compartment. The map and its slices are the
// caller's.
func (s *Spec) Compartment(owner string) (types map[string][]string, ok bool) {
	c, err := loadCompartments()
	if err != nil {
		return nil, false
	}
	m, ok := c[owner]
	if !ok {
		return nil, false
	}
	out := maps.Clone(m)
	for typ, codes := range out {
		out[typ] = slices.Clone(codes)
	}
	return out, true
}

// CompartmentParams returns the codes of the search parameters that put a
// resource of type typ in the compartment of owner, as in Compartment
// (Observation in the Patient compartment: subject, performer); nil when
// typ cannot be in that compartment or owner has none. The slice is the
// caller's.
func (s *Spec) CompartmentParams(owner, typ string) []string {
	c, err := loadCompartments()
	if err != nil {
		return nil
	}
	return slices.Clone(c[owner][typ])
}
