package search

import (
	"strings"

	"github.com/medbridge/medbridge/conformance"
)

// parseIncludes adds the values of _include or _revinclude (key, with
// modifier mod) to q. Each value is Source:param[:Target], Source:* or *;
// :iterate (R4) or :recurse (STU3) on the name, or a trailing ":iterate" on
// the value, makes it iterate. Commas separate several values.
func (p *parser) parseIncludes(q *Query, key, mod string, values []string) error {
	var iterate bool
	switch mod {
	case "":
	case "iterate", "recurse":
		iterate = true
	default:
		return unknownf("%s is not a modifier of _include or _revinclude", mod)
	}
	rev := strings.HasPrefix(key, "_revinclude")
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			inc, err := p.parseInclude(key, item)
			if err != nil {
				return err
			}
			inc.Iterate = inc.Iterate || iterate
			if rev {
				q.RevInclude = append(q.RevInclude, inc)
			} else {
				q.Include = append(q.Include, inc)
			}
		}
	}
	return nil
}

func (p *parser) parseInclude(key, item string) (Include, error) {
	var inc Include
	rest, iterate := strings.CutSuffix(item, ":iterate")
	inc.Iterate = iterate
	if rest == "*" {
		return inc, nil
	}
	parts := strings.Split(rest, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return inc, invalid(key, "%s must be Source:parameter[:Target], Source:* or *, not %q", key, item)
	}
	inc.SourceType = parts[0]
	if !p.spec.IsResourceType(inc.SourceType) {
		return inc, invalid(key, "%q is not a resource type", inc.SourceType)
	}
	if parts[1] == "*" {
		if len(parts) == 3 {
			return inc, invalid(key, "%s:* takes no target type", inc.SourceType)
		}
		return inc, nil
	}
	inc.Param = p.lookup([]string{inc.SourceType}, parts[1])
	if inc.Param == nil || inc.Param.Type != conformance.ParamReference {
		return inc, invalid(key, "%s is not a reference parameter of %s", parts[1], inc.SourceType)
	}
	if len(parts) == 3 {
		inc.TargetType = parts[2]
		if !p.isTarget(inc.Param, inc.TargetType) {
			return inc, invalid(key, "%s is not a target type of %s:%s", inc.TargetType, inc.SourceType, parts[1])
		}
	}
	return inc, nil
}
