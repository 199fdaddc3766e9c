package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/urfave/cli/v2"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/engine/config"
	"github.com/ldapsync/ldapsync/providers/ftrack"
	"github.com/ldapsync/ldapsync/providers/ldap"
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
	stateAt    string
}

// loadConfig reads the configuration and prints diagnostics on failure.
func loadConfig(args globalArgs, stderr io.Writer) (*config.Config, error) {
	vars := map[string]string{}
	for _, kv := range args.Vars {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, cli.Exit(fmt.Sprintf("Error: -var %q: expected NAME=VALUE", kv), exitError)
		}
		vars[name] = value
	}
	cfg, diags := config.Load(args.ConfigPath, config.WithVariables(vars), config.WithVarFiles(args.VarFiles))
	if diags.HasErrors() {
		var files map[string]*hcl.File
		if cfg != nil {
			files = cfg.Files
		}
		var secrets []string
		if cfg != nil {
			secrets = cfg.Secrets()
		}
		writeDiagnostics(stderr, files, diags, secrets, useColor(args.NoColor, stderr))
		return nil, cli.Exit("", exitError)
	}
	return cfg, nil
}

// openWorkspace loads the configuration and builds the providers it names.
func openWorkspace(c *cli.Context, args globalArgs) (*workspace, error) {
	stderr := c.App.ErrWriter
	cfg, err := loadConfig(args, stderr)
	if err != nil {
		return nil, err
	}
	ws := &workspace{args: args, cfg: cfg, logClose: func() error { return nil }}
	var diags hcl.Diagnostics
	byName := map[string]engine.Source{}
	for _, b := range cfg.Sources {
		switch b.Type {
		case "ldap":
			settings, d := ldap.DecodeSettings(b.Body, cfg.EvalContext())
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			settings.CACertFile = relativeToConfig(cfg.Path, settings.CACertFile)
			src, err := ldap.New(b.Name, settings)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid LDAP source", Detail: err.Error(), Subject: b.DeclRange.Ptr()})
				continue
			}
			ws.warnings = append(ws.warnings, src.Warnings()...)
			byName[b.Name] = src
		default:
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported source type", Detail: fmt.Sprintf("source type %q is not supported; use \"ldap\".", b.Type), Subject: b.DeclRange.Ptr()})
		}
	}
	if b := cfg.Target; b != nil {
		switch b.Type {
		case "ftrack":
			settings, d := ftrack.DecodeSettings(b.Body, cfg.EvalContext())
			diags = append(diags, d...)
			if create, set := cfg.CreateGroups(); set {
				settings.CreateGroups = create // a groups block's create_groups overrides the target's
			}
			if !d.HasErrors() {
				settings.CACertFile = relativeToConfig(cfg.Path, settings.CACertFile)
				t, err := ftrack.NewTarget(b.Name, settings)
				if err != nil {
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid ftrack target", Detail: err.Error(), Subject: b.DeclRange.Ptr()})
				} else {
					ws.target, ws.targetUser = t, settings.APIUser
				}
			}
		default:
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported target type", Detail: fmt.Sprintf("target type %q is not supported; use \"ftrack\".", b.Type), Subject: b.DeclRange.Ptr()})
		}
	}
	if len(cfg.Mappings) != 1 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Exactly one mapping block is supported", Detail: fmt.Sprintf("found %d mapping blocks", len(cfg.Mappings))})
	} else {
		ws.mapper = cfg.Mappings[0]
		for _, name := range ws.mapper.SourceNames {
			if src, ok := byName[name]; ok {
				ws.sources = append(ws.sources, src)
			}
		}
	}
	if diags.HasErrors() {
		writeDiagnostics(stderr, cfg.Files, diags, cfg.Secrets(), useColor(args.NoColor, stderr))
		return nil, cli.Exit("", exitError)
	}
	ws.stateAt = cfg.State.Path
	if err := ws.openLog(c.Command.Name); err != nil {
		return nil, err
	}
	return ws, nil
}

// openState opens the state file named in the configuration.
func (ws *workspace) openState() (*state.Store, error) {
	return state.Open(ws.stateAt)
}

// openLog starts the audit log when -log-file is given. Every string that
// reaches the log passes through the redactor, so secrets never appear.
func (ws *workspace) openLog(command string) error {
	if ws.args.LogFile == "" {
		ws.log = slog.New(slog.NewTextHandler(io.Discard, nil))
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(ws.args.LogFile), 0o755); err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	f, err := os.OpenFile(ws.args.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	w := newRedactingWriter(f, ws.cfg.Secrets())
	var h slog.Handler
	switch ws.args.LogFormat {
	case "json":
		h = slog.NewJSONHandler(w, nil)
	case "text", "":
		h = slog.NewTextHandler(w, nil)
	default:
		f.Close()
		return cli.Exit(fmt.Sprintf("Error: -log-format %q: use text or json", ws.args.LogFormat), exitError)
	}
	ws.log = slog.New(h).With("run", command)
	ws.logClose = f.Close
	ws.log.Info("start", "command", command, "args", strings.Join(os.Args[1:], " "), "config", ws.cfg.Path, "config_digest", ws.cfg.Digest, "version", version)
	return nil
}

// redactingWriter replaces every known secret value with "(sensitive)".
// The log handlers escape strings (JSON: " and \ and control characters;
// text: a quoted value), so a secret holding such characters reaches the
// writer in an escaped form: each secret is matched as written and in the
// forms both handlers give it.
type redactingWriter struct {
	w       io.Writer
	secrets []string // longest first, so a secret that contains another goes whole
}

// newRedactingWriter returns a writer that redacts secrets (and their
// escaped forms) from everything written to w. Secrets shorter than three
// characters are left alone: redacting them would mangle ordinary text.
func newRedactingWriter(w io.Writer, secrets []string) *redactingWriter {
	seen := map[string]bool{}
	var forms []string
	for _, secret := range secrets {
		if len(secret) < 3 {
			continue
		}
		for _, f := range []string{secret, jsonEscaped(secret, false), jsonEscaped(secret, true), strings.Trim(strconv.Quote(secret), `"`)} {
			if !seen[f] {
				seen[f] = true
				forms = append(forms, f)
			}
		}
	}
	sort.SliceStable(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	return &redactingWriter{w: w, secrets: forms}
}

// jsonEscaped returns s as it stands inside a JSON string, with or without
// encoding/json's HTML escaping (slog's JSON handler does not escape HTML).
func jsonEscaped(s string, html bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	_ = enc.Encode(s) // a string always encodes
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}

func (r *redactingWriter) Write(p []byte) (int, error) {
	s := string(p)
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, "(sensitive)")
	}
	if _, err := io.WriteString(r.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}

// relativeToConfig resolves a relative file path against the directory of
// the configuration file, as file() and state.path are.
func relativeToConfig(configPath, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(configPath), p)
}

// writeDiagnostics prints configuration diagnostics with every known secret
// value redacted: a diagnostic may quote a source line, and a sensitive
// variable's value can stand on a line whose setting name looks harmless.
func writeDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, secrets []string, color bool) {
	var buf bytes.Buffer
	_ = config.WriteDiagnostics(&buf, files, diags, color)
	_, _ = newRedactingWriter(w, secrets).Write(buf.Bytes())
}
