package mqtt

import (
	"errors"
	"fmt"
	"strings"
)

// filter is a subscription filter that names the mapping of each message:
// it has exactly one "+" level, and the topic level that "+" matches is the
// mapping name ("medbridge/ingest/+" sends "medbridge/ingest/bedside" to
// mapping "bedside").
type filter struct {
	text   string
	levels []string
	plus   int // index of the "+" level
}

// parseFilter validates a subscription filter. It refuses a filter without
// "+", with more than one "+", or with "#": any of those would leave the
// mapping name of a message ambiguous or absent. It also refuses filters
// starting with "$" ($share/…, $SYS/…), whose delivered topics do not line up
// level by level with the filter.
func parseFilter(text string) (filter, error) {
	f := filter{text: text, levels: strings.Split(text, "/"), plus: -1}
	switch {
	case text == "":
		return filter{}, errors.New("mqtt: empty topic filter; want one with a single + level naming the mapping, e.g. medbridge/ingest/+")
	case strings.HasPrefix(text, "$"):
		return filter{}, fmt.Errorf("mqtt: topic filter %q: filters starting with $ (shared subscriptions, $SYS) are not supported", text)
	case strings.ContainsRune(text, 0):
		return filter{}, fmt.Errorf("mqtt: topic filter %q contains a NUL character", text)
	}
	for i, level := range f.levels {
		switch {
		case level == "#":
			return filter{}, fmt.Errorf("mqtt: topic filter %q: # is not allowed; use a single + level that names the mapping, e.g. medbridge/ingest/+", text)
		case level == "+" && f.plus >= 0:
			return filter{}, fmt.Errorf("mqtt: topic filter %q has more than one + level; exactly one names the mapping", text)
		case level == "+":
			f.plus = i
		case strings.ContainsAny(level, "+#"):
			return filter{}, fmt.Errorf("mqtt: topic filter %q: wildcards must fill a whole level", text)
		}
	}
	if f.plus < 0 {
		return filter{}, fmt.Errorf("mqtt: topic filter %q has no + level; want one that names the mapping, e.g. %s/+", text, text)
	}
	return f, nil
}

// mapping returns the mapping name of a message on topic: the level matched by
// the filter's "+". ok is false when topic does not match the filter, which
// happens only for subscriptions that a persistent session kept from an earlier
// filter; the mapping is then "".
func (f filter) mapping(topic string) (name string, ok bool) {
	levels := strings.Split(topic, "/")
	if len(levels) != len(f.levels) {
		return "", false
	}
	for i, level := range f.levels {
		if i != f.plus && level != levels[i] {
			return "", false
		}
	}
	return levels[f.plus], true
}
