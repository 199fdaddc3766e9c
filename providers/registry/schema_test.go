package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/engine/config"
	"github.com/ldapsync/ldapsync/providers/ldap"
)

// TestReadsSchemaMatchesImplementation: the capability table says which
// sources report their schema.
func TestReadsSchemaMatchesImplementation(t *testing.T) {
	st, _ := LookupSource("ldap")
	_, reads := any((*ldap.Source)(nil)).(SchemaReader)
	if st.Capabilities.ReadsSchema != reads || !reads {
		t.Errorf("ldap ReadsSchema = %v, *ldap.Source implements SchemaReader: %v", st.Capabilities.ReadsSchema, reads)
	}
}

// schemaSource is a source of type "fake" with a canned schema answer.
type schemaSource struct {
	flatSource
	types []config.AttributeType
	err   error
	calls *int
}

func (s schemaSource) Info() engine.SourceInfo { return engine.SourceInfo{Type: "fake", Name: s.name} }

func (s schemaSource) AttributeTypes(context.Context) ([]config.AttributeType, error) {
	*s.calls++
	return s.types, s.err
}

const fakeMapping = `
source "fake" "a" {}
source "flat" "b" {}
target "ftrack" "studio" {
  server_url = "https://y"
  api_user   = "api"
  api_key    = "k"
}
mapping "users" {
  source   = [source.fake.a, source.flat.b]
  username = entry.uid
  email    = entry.mial
}
`

// TestCheckAttributesRegistry: a source whose type does not read schemas,
// or whose schema is unreadable, is a warning; a failure to reach the
// directory is an error; otherwise the mapping's check decides.
func TestCheckAttributesRegistry(t *testing.T) {
	cfg := load(t, fakeMapping)
	m := cfg.Mappings[0]
	calls := 0
	mail := []config.AttributeType{{Names: []string{"uid"}}, {Names: []string{"mail", "rfc822Mailbox"}}}
	sources := func(err error) []engine.Source {
		sourceTypes["fake"] = SourceType{Capabilities: SourceCapabilities{ReadsSchema: true}}
		sourceTypes["flat"] = SourceType{}
		return []engine.Source{schemaSource{flatSource{"a"}, mail, err, &calls}, flatSource{"b"}}
	}
	t.Cleanup(func() { delete(sourceTypes, "fake"); delete(sourceTypes, "flat") })

	diags, warnings, err := CheckAttributes(context.Background(), sources(nil), m)
	if err != nil || calls != 1 {
		t.Fatalf("err %v, %d schema reads", err, calls)
	}
	if len(warnings) != 1 || warnings[0] != `source "b": flat sources do not report their schema; the attributes mapping "users" reads are not checked against it` {
		t.Errorf("warnings = %q", warnings)
	}
	// b's schema is not known, so the misspelling is a warning only.
	if len(diags) != 1 || diags.HasErrors() || !strings.Contains(diags[0].Detail, `Did you mean "mail"?`) {
		t.Errorf("diags = %v", diags)
	}

	unreadable := fmt.Errorf(`source "a": %w: no subschemaSubentry`, config.ErrSchemaUnavailable)
	diags, warnings, err = CheckAttributes(context.Background(), sources(unreadable), m)
	if err != nil || len(diags) != 0 || len(warnings) != 2 || !strings.HasPrefix(warnings[0], `source "a": the directory's schema could not be read: no subschemaSubentry;`) {
		t.Errorf("unreadable: err %v, diags %v, warnings %q", err, diags, warnings)
	}

	down := errors.New(`source "a": connect ldaps://x: connection refused`)
	if _, _, err := CheckAttributes(context.Background(), sources(down), m); !errors.Is(err, down) {
		t.Errorf("unreachable: err %v", err)
	}
}
