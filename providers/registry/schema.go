package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/engine/config"
)

// SchemaReader is a source that reports the attribute types its
// directory's schema defines. The sources of a type whose capabilities
// have ReadsSchema implement it.
type SchemaReader interface {
	// AttributeTypes connects and returns every attribute type the
	// directory's schema defines, each with its names (primary name
	// first, then aliases). An error wrapping config.ErrSchemaUnavailable
	// means the schema could not be read; any other error, that the
	// directory could not be reached.
	AttributeTypes(ctx context.Context) ([]config.AttributeType, error)
}

// CheckAttributes reads the schema of each of the mapping's sources whose
// type reads schemas and checks the attributes the mapping reads against
// them (config.Mapping.CheckAttributes): an attribute no schema defines,
// or an alias the directory does not return values under, is an error
// diagnostic at its reference, with a did-you-mean. A schema that
// cannot be read, or a source whose type reports none, is a warning naming
// the source, never an error. err is a failure to reach a directory. When
// the mapping reads no attributes, nothing is read.
func CheckAttributes(ctx context.Context, sources []engine.Source, m *config.Mapping) (diags hcl.Diagnostics, warnings []string, err error) {
	if m == nil || len(m.AttributeRefs()) == 0 {
		return nil, nil, nil
	}
	schemas := map[string][]config.AttributeType{}
	for _, src := range sources {
		info := src.Info()
		if !m.HandlesSource(info.Name) {
			continue
		}
		st, ok := sourceTypes[info.Type]
		reader, implements := src.(SchemaReader)
		if !ok || !st.Capabilities.ReadsSchema || !implements {
			warnings = append(warnings, fmt.Sprintf("source %q: %s sources do not report their schema; the attributes mapping %q reads are not checked against it", info.Name, info.Type, m.Name()))
			continue
		}
		types, err := reader.AttributeTypes(ctx)
		if errors.Is(err, config.ErrSchemaUnavailable) {
			warnings = append(warnings, fmt.Sprintf("%v; the attributes mapping %q reads are not checked against it", err, m.Name()))
			continue
		}
		if err != nil {
			return nil, warnings, err
		}
		schemas[info.Name] = types
	}
	return m.CheckAttributes(schemas), warnings, nil
}
