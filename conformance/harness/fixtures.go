package harness

import (
	"embed"
	"encoding/json"
	"strings"
)

// fixtureFiles holds one instance of every R4 resource type,
// fixtures/<Type>.json: an official R4 example of the type (the one with
// values for the most search parameters, narrative removed; DeviceMetric
// and DeviceUseStatement with the reference-type errata of their examples
// corrected), or, for the 21 types without an example, a small valid
// instance written for the harness.
//
//go:embed fixtures/*.json
var fixtureFiles embed.FS

// fixture returns a body for a new resource of type typ tagged with tag
// (meta is replaced: no profile claims, no version) and with id, or without
// an id when id is "". ok is false for a type without a fixture.
func fixture(typ, id, tag string) (body []byte, ok bool) {
	raw, err := fixtureFiles.ReadFile("fixtures/" + typ + ".json")
	if err != nil {
		return nil, false
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return nil, false
	}
	delete(m, "id")
	if id != "" {
		m["id"] = id
	}
	m["meta"] = map[string]any{"tag": []any{map[string]any{"system": tagSystem, "code": tag}}}
	b, err := json.Marshal(m)
	return b, err == nil
}

// resourceInfo is what the harness reads from a resource it got back.
type resourceInfo struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Meta         struct {
		VersionID   string `json:"versionId"`
		LastUpdated string `json:"lastUpdated"`
		Tag         []struct {
			System string `json:"system"`
			Code   string `json:"code"`
		} `json:"tag"`
	} `json:"meta"`
}

func parseResource(body []byte) resourceInfo {
	var ri resourceInfo
	json.Unmarshal(body, &ri)
	return ri
}

// hasTag reports whether the resource carries the harness tag code.
func (ri resourceInfo) hasTag(code string) bool {
	for _, t := range ri.Meta.Tag {
		if t.System == tagSystem && t.Code == code {
			return true
		}
	}
	return false
}

// withTag returns the resource body with the harness tag code added.
func withTag(body []byte, code string) []byte {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return body
	}
	meta, _ := m["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		m["meta"] = meta
	}
	tags, _ := meta["tag"].([]any)
	meta["tag"] = append(tags, map[string]any{"system": tagSystem, "code": code})
	b, err := json.Marshal(m)
	if err != nil {
		return body
	}
	return b
}

// bundle is the part of a Bundle the checks read.
type bundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Link         []struct {
		Relation string `json:"relation"`
		URL      string `json:"url"`
	} `json:"link"`
	Entry []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
		Search   struct {
			Mode string `json:"mode"`
		} `json:"search"`
		Request struct {
			URL string `json:"url"`
		} `json:"request"`
		Response struct {
			Status   string `json:"status"`
			Location string `json:"location"`
		} `json:"response"`
	} `json:"entry"`
}

func parseBundle(body []byte) (*bundle, bool) {
	var b bundle
	if json.Unmarshal(body, &b) != nil || b.ResourceType != "Bundle" {
		return nil, false
	}
	return &b, true
}

// next is the bundle's next link, "" when there is none.
func (b *bundle) next() string {
	for _, l := range b.Link {
		if l.Relation == "next" {
			return l.URL
		}
	}
	return ""
}

// contains reports whether an entry is (a version of) typ/id, by its
// resource, fullUrl or request URL; with matchOnly, only search matches.
func (b *bundle) contains(typ, id string, matchOnly bool) bool {
	for _, e := range b.Entry {
		if matchOnly && e.Search.Mode != "" && e.Search.Mode != "match" {
			continue
		}
		if ri := parseResource(e.Resource); ri.ResourceType == typ && ri.ID == id {
			return true
		}
		for _, u := range []string{e.FullURL, e.Request.URL} {
			if t, i, _ := splitLocation(u); t == typ && i == id {
				return true
			}
		}
	}
	return false
}

// splitLocation reads ".../Type/id" or ".../Type/id/_history/vid".
func splitLocation(loc string) (typ, id, vid string) {
	loc, _, _ = strings.Cut(loc, "?")
	parts := strings.Split(strings.TrimSuffix(loc, "/"), "/")
	if n := len(parts); n >= 4 && parts[n-2] == "_history" {
		vid, parts = parts[n-1], parts[:n-2]
	}
	if n := len(parts); n >= 2 {
		return parts[n-2], parts[n-1], vid
	}
	return "", "", ""
}
