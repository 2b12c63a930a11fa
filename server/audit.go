package server

// appendOnly reports whether resources of typ may be created and read but
// never updated, patched or deleted through the API: the audit trail.
func appendOnly(typ string) bool { return typ == "AuditEvent" }
