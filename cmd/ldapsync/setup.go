package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/urfave/cli/v2"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/engine/config"
	"github.com/ldapsync/ldapsync/providers/ftrack"
	"github.com/ldapsync/ldapsync/providers/registry"
	"github.com/ldapsync/ldapsync/state"
)

// workspace is a loaded configuration with its providers wired up: what
// plan, apply, drift and sync work on.
type workspace struct {
	args    globalArgs
	cfg     *config.Config
	sources []engine.Source
	target  engine.Target
	// targetUser is the username the target signs in as (never changed).
	targetUser string
	mapper     *config.Mapping
	warnings   []string
	log        *slog.Logger
	logClose   func() error
	// state is the backend the state block names.
	state state.Backend
}

// loadConfig reads the configuration and prints its diagnostics: errors
// end the command, warnings (a -var-file value for an undeclared
// variable) are printed and it goes on.
func loadConfig(args globalArgs, stderr io.Writer, opts ...config.Option) (*config.Config, error) {
	vars, err := parseVars(args.Vars)
	if err != nil {
		return nil, err
	}
	cfg, diags := config.Load(args.ConfigPath, append([]config.Option{config.WithVariables(vars), config.WithVarFiles(args.VarFiles)}, opts...)...)
	if len(diags) > 0 {
		writeDiagnostics(stderr, cfg, diags, useColor(args.NoColor, stderr))
	}
	if diags.HasErrors() {
		return nil, cli.Exit("", exitError)
	}
	return cfg, nil
}

// parseVars splits the -var NAME=VALUE flags. A malformed one is never
// quoted: "-var hunter2" is as likely a secret typed without its name as
// anything else.
func parseVars(flags []string) (map[string]string, error) {
	vars := map[string]string{}
	for i, kv := range flags {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, cli.Exit(fmt.Sprintf("Error: -var: expected NAME=VALUE (-var number %d; its value is not shown, as it may be a secret)", i+1), exitError)
		}
		vars[name] = value
	}
	return vars, nil
}

// openWorkspace loads the configuration and builds the providers it names
// (providers/registry, the same wiring the integration tests use).
//
// opts are extra load options (validate's config.WithoutSecrets).
func openWorkspace(c *cli.Context, args globalArgs, opts ...config.Option) (*workspace, error) {
	stderr := c.App.ErrWriter
	cfg, err := loadConfig(args, stderr, opts...)
	if err != nil {
		return nil, err
	}
	var ws *workspace // nil until the providers are built and the log started
	// Retries are said, not silent: on stderr and in the audit log.
	onRetry := func(attempt, max int, wait time.Duration, cause error) {
		warnRetry(stderr, cfg, "ftrack", attempt, max, wait, cause)
		if ws != nil {
			ws.log.Warn("retry", "target", cfg.Target.Name, "attempt", attempt, "max", max, "wait", wait.String(), "cause", cfg.Redactor().Redact(cause.Error()))
		}
	}
	onStateRetry := func(attempt, max int, wait time.Duration, cause error) {
		warnRetry(stderr, cfg, "state", attempt, max, wait, cause)
		if ws != nil {
			ws.log.Warn("state retry", "attempt", attempt, "max", max, "wait", wait.String(), "cause", cfg.Redactor().Redact(cause.Error()))
		}
	}
	ws, err = buildWorkspace(c, args, cfg, registry.WithSettings(func(s any) {
		if fs, ok := s.(*ftrack.Settings); ok && fs.OnRetry == nil {
			fs.OnRetry = onRetry
		}
	}), registry.WithStateRetry(onStateRetry), registry.WithStateWarning(func(msg string) {
		msg = cfg.Redactor().Redact(msg)
		fmt.Fprintf(stderr, "Warning: state: %s\n", plain(msg))
		if ws != nil {
			ws.log.Warn("state record left out", "message", msg)
		}
	}))
	return ws, err
}

// buildWorkspace builds the providers of the loaded cfg with opts and
// starts the audit log: openWorkspace's and check's shared second half.
func buildWorkspace(c *cli.Context, args globalArgs, cfg *config.Config, opts ...registry.Option) (*workspace, error) {
	stderr := c.App.ErrWriter
	p, diags := registry.Build(cfg, opts...)
	if diags.HasErrors() {
		writeDiagnostics(stderr, cfg, diags, useColor(args.NoColor, stderr))
		return nil, cli.Exit("", exitError)
	}
	ws := &workspace{
		args: args, cfg: cfg,
		sources: p.Sources, target: p.Target, targetUser: p.TargetUser, mapper: p.Mapping, warnings: p.Warnings,
		logClose: func() error { return nil },
		state:    p.State,
	}
	if err := ws.openLog(c.Command.Name); err != nil {
		return nil, err
	}
	return ws, nil
}

// warnRetry prints a retried request of what ("ftrack", "state") on
// stderr, redacted: "Warning: ftrack request failed (...); retry 1 of 5
// in 2s".
func warnRetry(stderr io.Writer, cfg *config.Config, what string, attempt, max int, wait time.Duration, cause error) {
	msg := fmt.Sprintf("%s request failed (%v); retry %d of %d in %s", what, cause, attempt, max, wait.Round(100*time.Millisecond))
	fmt.Fprintf(stderr, "Warning: %s\n", plain(cfg.Redactor().Redact(msg)))
}

// planRequest is what plan and explain both read: the sources, mapping,
// target, policy and groups of the configuration, the last-applied state
// and now.
func (ws *workspace) planRequest(prior *engine.LastApplied) engine.PlanRequest {
	return engine.PlanRequest{
		Sources: ws.sources, Mapper: ws.mapper, Target: ws.target, Policy: ws.cfg.Policy,
		LastApplied: prior, Now: now().UTC(), Groups: ws.cfg.GroupSpecs(), TargetUser: ws.targetUser,
	}
}

// openState returns the state backend the configuration's state block
// names (built, not yet contacted).
func (ws *workspace) openState() (state.Backend, error) {
	if ws.state == nil {
		return nil, fmt.Errorf("no state backend was built for %s", ws.cfg.Path)
	}
	return ws.state, nil
}

// loadState reads the last-applied state from the backend (no lock):
// what plan, explain, drift and state show start from.
func (ws *workspace) loadState() (*engine.LastApplied, error) {
	store, err := ws.openState()
	if err != nil {
		return nil, err
	}
	return store.Load()
}

// openLog starts the audit log when -log-file is given. Every attribute
// that reaches the log passes through the configuration's redactor, so
// secrets never appear.
func (ws *workspace) openLog(command string) error {
	if ws.args.LogFile == "" {
		ws.log = slog.New(slog.DiscardHandler) // disabled: callers skip building what it would drop
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(ws.args.LogFile), 0o755); err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	f, err := os.OpenFile(ws.args.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	h, ok := newLogHandler(f, ws.args.LogFormat, ws.cfg.Redactor())
	if !ok {
		f.Close()
		return cli.Exit(fmt.Sprintf("Error: -log-format %q: use text or json", ws.args.LogFormat), exitError)
	}
	ws.log = slog.New(h).With("run", command)
	ws.logClose = f.Close
	ws.log.Info("start", "command", command, "args", strings.Join(os.Args[1:], " "), "config", ws.cfg.Path, "config_digest", ws.cfg.Digest, "version", version)
	return nil
}

// newLogHandler returns the audit log's handler for format ("text", the
// default, or "json") writing to w, redacting with red; false for an
// unknown format.
func newLogHandler(w io.Writer, format string, red *config.Redactor) (slog.Handler, bool) {
	opts := &slog.HandlerOptions{ReplaceAttr: red.ReplaceAttr}
	switch format {
	case "json":
		return slog.NewJSONHandler(w, opts), true
	case "text", "":
		return slog.NewTextHandler(w, opts), true
	}
	return nil, false
}

// writeDiagnostics prints configuration diagnostics with cfg's secrets
// redacted; cfg may be nil (nothing was read).
func writeDiagnostics(w io.Writer, cfg *config.Config, diags hcl.Diagnostics, color bool) {
	var files map[string]*hcl.File
	if cfg != nil {
		files = cfg.Files
	}
	_ = cfg.Redactor().WriteDiagnostics(w, files, diags, color)
}
