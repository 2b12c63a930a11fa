package search

// parseQuantityValue parses a quantity parameter's value:
// [prefix]number, [prefix]number|system|code or [prefix]number||code (the
// code in any system: System nil).
func parseQuantityValue(item string) (Value, error) {
	parts := splitEscaped(item, '|')
	if len(parts) != 1 && len(parts) != 3 {
		return Value{}, valuef("a quantity is number, number|system|code or number||code")
	}
	v, err := parseNumberValue(parts[0])
	if err != nil {
		return Value{}, err
	}
	if len(parts) == 3 {
		if parts[1] != "" {
			system := unescape(parts[1])
			v.System = &system
		}
		v.Code = unescape(parts[2])
	}
	return v, nil
}
