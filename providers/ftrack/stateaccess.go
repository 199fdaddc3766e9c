package ftrack

// Accessors for package state/ftrackstate, which keeps ldapsync's
// last-applied state as Metadata in the target itself.

// ServerURL returns the site the client talks to, without the /api path
// (and without credentials: CheckServerURL refuses URLs holding any).
func (c *Client) ServerURL() string {
	const suffix = "/api"
	if len(c.endpoint) >= len(suffix) && c.endpoint[len(c.endpoint)-len(suffix):] == suffix {
		return c.endpoint[:len(c.endpoint)-len(suffix)]
	}
	return c.endpoint
}

// MetadataRow is one Metadata entity as MetadataQuery reads it.
type MetadataRow struct {
	ParentID, Key, Value, ParentType string
}

// MetadataQuery returns a PagedQuery of "select parent_id, key, value,
// parent_type from Metadata where CRITERION" ordered by parent_id and key
// whose pages are decoded straight into MetadataRows and handed to deliver,
// as ReadAccounts reads the ownership markers: a site-wide read of 100,000
// rows never builds Entity maps. A page the flat decoder cannot read (an
// unusual response) goes to QueryPages' fn as Entities instead, as for any
// query: fn converts them with MetadataRowOf. criterion must be built from
// constants and In / Is.
func MetadataQuery(criterion string, deliver func([]MetadataRow)) PagedQuery {
	return PagedQuery{
		Expression: "select parent_id, key, value, parent_type from Metadata where " + criterion,
		OrderBy:    "parent_id, key",
		flat: flatRows(func(r *metaRow) bool { return r.ParentID.set && r.Key.set && r.Value.set && r.ParentType.set }, func(rows []metaRow) {
			out := make([]MetadataRow, len(rows))
			for i, m := range rows {
				out[i] = MetadataRow{ParentID: m.ParentID.s, Key: m.Key.s, Value: m.Value.s, ParentType: m.ParentType.s}
			}
			deliver(out)
		}),
	}
}

// MetadataRowOf is the MetadataRow of a Metadata entity QueryPages handed
// to fn.
func MetadataRowOf(e Entity) MetadataRow {
	return MetadataRow{ParentID: e.String("parent_id"), Key: e.String("key"), Value: e.String("value"), ParentType: e.String("parent_type")}
}
