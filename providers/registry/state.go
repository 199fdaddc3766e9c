package registry

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/engine/config"
	"github.com/ldapsync/ldapsync/providers/ftrack"
	"github.com/ldapsync/ldapsync/state"
	"github.com/ldapsync/ldapsync/state/ftrackstate"
	"github.com/ldapsync/ldapsync/state/httpstate"
)

// StateCapabilities is what a state backend offers, as data: what the
// README's "Choosing a state backend" table says, and what `ldapsync
// state` checks.
type StateCapabilities struct {
	// SharedAcrossRunners is true when runners that share only the
	// repository see the same state (http, ftrack), false for a file on
	// one machine's disk.
	SharedAcrossRunners bool
	// LockCanBeLeftBehind is true when a crashed run can leave its lock
	// held (a lock stored remotely), so `ldapsync state force-unlock` has
	// something to do; a flock ends with its process.
	LockCanBeLeftBehind bool
	// NeedsTarget is true when the backend keeps the state in the
	// target itself, and so needs the built target.
	NeedsTarget bool
}

// StateType is a registered state backend.
type StateType struct {
	Capabilities StateCapabilities
	// New builds the backend from the configuration's state settings; t
	// and user are the built target and the account it signs in as (nil
	// and "" when the target failed to build).
	New func(cfg *config.Config, env Env, t engine.Target, user string) (state.Backend, hcl.Diagnostics)
}

// stateTypes are the state backends: the state block's label to type.
var stateTypes = map[string]StateType{
	"local":  {Capabilities: StateCapabilities{}, New: newLocalState},
	"http":   {Capabilities: StateCapabilities{SharedAcrossRunners: true, LockCanBeLeftBehind: true}, New: newHTTPState},
	"ftrack": {Capabilities: StateCapabilities{SharedAcrossRunners: true, LockCanBeLeftBehind: true, NeedsTarget: true}, New: newFTrackState},
}

// LookupState returns the registered state backend called name ("" is
// local, the unlabelled state block).
func LookupState(name string) (StateType, bool) {
	if name == "" {
		name = "local"
	}
	t, ok := stateTypes[name]
	return t, ok
}

// buildState builds the configuration's state backend.
func (p *Providers) buildState(cfg *config.Config, env Env) hcl.Diagnostics {
	st, ok := LookupState(cfg.State.Type)
	if !ok { // the loader refuses other labels
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown state backend", Detail: fmt.Sprintf("There is no state backend %q.", cfg.State.Type)}}
	}
	if st.Capabilities.NeedsTarget && p.Target == nil {
		return nil // the target's own diagnostics say why
	}
	b, diags := st.New(cfg, env, p.Target, p.TargetUser)
	if !diags.HasErrors() {
		p.State = b
	}
	return diags
}

func newLocalState(cfg *config.Config, _ Env, _ engine.Target, _ string) (state.Backend, hcl.Diagnostics) {
	s, err := state.Open(cfg.State.Path)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid state path", Detail: err.Error()}}
	}
	return s, nil
}

func newHTTPState(cfg *config.Config, env Env, _ engine.Target, _ string) (state.Backend, hcl.Diagnostics) {
	b := cfg.State.Block
	s, diags := httpstate.Decode(b.Body, env.Block.Eval, env.Block.Dir)
	if diags.HasErrors() {
		return nil, diags
	}
	var opts []httpstate.Option
	if env.onStateRetry != nil {
		opts = append(opts, httpstate.WithOnRetry(env.onStateRetry))
	}
	be, err := httpstate.New(s, opts...)
	if err != nil {
		return nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid http state backend", Detail: err.Error(), Subject: b.DeclRange.Ptr()})
	}
	return be, diags
}

func newFTrackState(cfg *config.Config, env Env, t engine.Target, user string) (state.Backend, hcl.Diagnostics) {
	ft, ok := t.(*ftrack.Target)
	if !ok {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid ftrack state backend",
			Detail: "state \"ftrack\" keeps the state in the ftrack site the target block names; it needs a target \"ftrack\" block.", Subject: cfg.State.Block.DeclRange.Ptr()}}
	}
	var opts []ftrackstate.Option
	if env.onStateWarning != nil {
		opts = append(opts, ftrackstate.WithOnWarning(env.onStateWarning))
	}
	return ftrackstate.New(ft.Client(), user, opts...), nil
}
