package registry

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/engine/config"
	"github.com/ldapsync/ldapsync/providers/ftrack"
)

// ftrackTarget is `target "ftrack"`.
var ftrackTarget = TargetType{New: newFTrackTarget}

// newFTrackTarget decodes the block, lets a groups block's create_groups
// override the target's, and builds the target; it does not connect.
func newFTrackTarget(b *config.Block, env Env) (engine.Target, string, hcl.Diagnostics) {
	settings, diags := ftrack.DecodeSettings(b.Body, env.Block)
	if diags.HasErrors() {
		return nil, "", diags
	}
	if env.CreateGroupsSet {
		settings.CreateGroups = env.CreateGroups
	}
	env.Adjust(&settings)
	t, err := ftrack.NewTarget(b.Name, settings)
	if err != nil {
		return nil, "", append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid ftrack target", Detail: err.Error(), Subject: b.DeclRange.Ptr()})
	}
	return t, settings.APIUser, diags
}
