package registry

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/engine/config"
	"github.com/ldapsync/ldapsync/providers/ldap"
)

// ldapSource is `source "ldap"`: OpenLDAP, Active Directory, 389-ds and
// FreeIPA through schema presets. Its sources read groups (groups.go) and
// their directory's schema (schema.go).
var ldapSource = SourceType{
	Capabilities: SourceCapabilities{ReadsGroups: true, ReadsSchema: true},
	New:          newLDAPSource,
}

// newLDAPSource decodes the block and builds the source; it does not
// connect.
func newLDAPSource(b *config.Block, env Env) (engine.Source, []string, hcl.Diagnostics) {
	settings, diags := ldap.DecodeSettings(b.Body, env.Block)
	if diags.HasErrors() {
		return nil, nil, diags
	}
	env.Adjust(&settings)
	src, err := ldap.New(b.Name, settings)
	if err != nil {
		return nil, nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid LDAP source", Detail: err.Error(), Subject: b.DeclRange.Ptr()})
	}
	return src, src.Warnings(), diags
}
