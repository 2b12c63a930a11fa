// Package scope parses SMART App Launch 2.2 scopes and decides which FHIR
// interactions a granted set of scopes allows.
//
// It is pure: no HTTP, no store and no FHIR specification data. The
// authorization server uses [Parse], [Narrow] and [Set.Covers] to negotiate
// scopes; the FHIR server uses [Decide] and [Ingest] on every request and
// enforces the returned [Decision].
//
// # Scope syntax
//
// Clinical scopes are "level/Type.permissions[?query]": level is patient,
// user or system; Type is a resource type or "*"; permissions are either
// SMART v1 (read, write, *) or SMART v2 (letters of "cruds", in that order,
// each at most once). v1 read means v2 rs, write means cud and * means
// cruds. Only v2 scopes may carry a query ("param=value&..."), whose
// parameters are ANDed as in a FHIR search. Every other scope (openid,
// fhirUser, launch, launch/patient, offline_access, unknown ones) is kept
// as written and plays no part in access decisions.
//
// # What the caller must do with a Decision
//
// A Decision that allows an interaction may still confine it:
//
//   - Compartment, when not empty, is the id of the patient in context. Every
//     scope that allowed the interaction was a patient/ scope, so the
//     interaction is limited to that patient's compartment (as the
//     server's compartment definitions say): a read or vread of a resource
//     outside it is refused (403, or 404 so as not to reveal that it
//     exists); a search or history gets the compartment as an extra filter;
//     a create, update or patch must leave the resource in the compartment
//     (both before and after an update); a delete must target a resource in
//     it. Resource types with no link to the Patient compartment are then
//     unreachable, except the Patient resource whose id is Compartment.
//   - Constraints, when not nil, are queries that are ORed: the interaction
//     may touch only resources that match at least one of them (all the
//     parameters of one query ANDed, as in a search). A search adds them as
//     filters (running one search per query, or the equivalent); a read
//     checks the resource against them; a write checks the resource as
//     written (and, for update and delete, the stored one too).
//
// Compartment and Constraints hold together: a resource must be in the
// compartment and match one of the constraints.
package scope
