package search

import "errors"

// parseTokenValue parses a token parameter's value under its modifier:
// the text of :text, the ValueSet of :in and :not-in,
// type-system|type-code|value for :of-type and a coding otherwise
// (including :not).
func parseTokenValue(mod, item string) (Value, error) {
	switch mod {
	case "text":
		return Value{String: unescape(item)}, nil
	case "in", "not-in":
		url := unescape(item)
		if _, err := ExpandValueSet(url); err != nil {
			if errors.Is(err, ErrUnknownValueSet) || errors.Is(err, ErrValueSetIncomplete) {
				return Value{}, valuef("%s", err)
			}
			return Value{}, err
		}
		return Value{URL: url}, nil
	case "of-type":
		parts := splitEscaped(item, '|')
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return Value{}, valuef(":of-type takes type-system|type-code|value, all three parts")
		}
		system := unescape(parts[0])
		return Value{System: &system, Code: unescape(parts[1]), Value: unescape(parts[2])}, nil
	}
	return parseCoding(item)
}

// parseCoding parses "code" (any system: System nil), "|code" (no
// system: System ""), "system|" (any code) or "system|code".
func parseCoding(item string) (Value, error) {
	parts := splitEscaped(item, '|')
	switch len(parts) {
	case 1:
		return Value{Code: unescape(parts[0])}, nil
	case 2:
		if parts[0] == "" && parts[1] == "" {
			return Value{}, valuef("a token needs a system or a code")
		}
		system := unescape(parts[0])
		return Value{System: &system, Code: unescape(parts[1])}, nil
	}
	return Value{}, valuef("a token has at most one unescaped |")
}
