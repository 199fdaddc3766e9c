package ftrack

// What `ldapsync check` asks of an ftrack site: who it is (server
// information), what its schema holds, and whether one row of a type can
// be read, each in one small request that writes nothing.

import (
	"context"
	"fmt"
)

// callOne sends one read in one request and returns its decoded result.
func (c *Client) callOne(ctx context.Context, op Operation) (any, error) {
	raw, err := c.Call(ctx, []Operation{op})
	if err != nil {
		return nil, err
	}
	vals, err := decodeValues(raw)
	if err != nil {
		return nil, err
	}
	return vals[0], nil
}

// ServerInfo is the part of query_server_information's answer check
// reports.
type ServerInfo struct {
	// Version is the server's version ("4.13.8", or "dev").
	Version string
	// SchemaHash identifies the site's schema.
	SchemaHash string
}

// ServerInformation sends query_server_information, the request every
// ftrack client starts with; it also proves the credentials.
func (c *Client) ServerInformation(ctx context.Context) (ServerInfo, error) {
	v, err := c.callOne(ctx, Operation{Action: "query_server_information"})
	if err != nil {
		return ServerInfo{}, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return ServerInfo{}, fmt.Errorf("ftrack: query_server_information answered %T, not an object", v)
	}
	return ServerInfo{Version: textOf(m["version"]), SchemaHash: textOf(m["schema_hash"])}, nil
}

// EntitySchema is one entity type of query_schemas' answer.
type EntitySchema struct {
	// ID is the type's name, e.g. "User".
	ID string
	// Properties are the type's attribute and relation names.
	Properties []string
}

// Schemas sends query_schemas and returns every entity type with its
// property names.
func (c *Client) Schemas(ctx context.Context) ([]EntitySchema, error) {
	v, err := c.callOne(ctx, Operation{Action: "query_schemas"})
	if err != nil {
		return nil, err
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("ftrack: query_schemas answered %T, not a list", v)
	}
	var out []EntitySchema
	for _, v := range list {
		m, ok := v.(map[string]any)
		if !ok {
			continue
		}
		es := EntitySchema{ID: textOf(m["id"])}
		if props, ok := m["properties"].(map[string]any); ok {
			es.Properties = sortedKeys(props)
		}
		out = append(out, es)
	}
	return out, nil
}

// Peek runs expr ("select … from Type [where …]", no order, offset or
// limit) for at most n rows in a single request, without paging through
// the rest: to see that a type can be read at all.
func (c *Client) Peek(ctx context.Context, expr string, n int) ([]Entity, error) {
	v, err := c.callOne(ctx, QueryOp(fmt.Sprintf("%s limit %d", expr, n)))
	if err != nil {
		return nil, err
	}
	rows, _, err := queryResult(v)
	if err != nil {
		return nil, fmt.Errorf("ftrack: query %q: %w", expr, err)
	}
	return rows, nil
}
