package ldap_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/engine/config"
	"github.com/ldapsync/ldapsync/providers/ftrack"
	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
	"github.com/ldapsync/ldapsync/providers/registry"
	"github.com/ldapsync/ldapsync/state"
)

// End-to-end harness: an HCL configuration is loaded with engine/config,
// wired by providers/registry exactly as cmd/ldapsync wires it (sources in
// the mapping's order, groups blocks, create_groups, relative paths),
// planned with the engine against real LDAP servers and the ftrack
// emulator over real HTTP, and applied.

const (
	ftUser = "api@example.com"
	ftKey  = "SECRET-KEY-4f1e2d3c"
)

// world is one configuration with its providers.
type world struct {
	t       *testing.T
	cfg     *config.Config
	sources []engine.Source
	target  engine.Target
	// targetUser is the account the target signs in as, held back from
	// plan and apply as the CLI does.
	targetUser string
	ft         *ftracktest.Server
	state      *state.Store
}

// newWorld starts an ftrack emulator and loads hcl, in which FTRACK_URL is
// replaced by the emulator's URL.
func newWorld(t *testing.T, hcl string) *world {
	t.Helper()
	ft := ftracktest.NewServer(ftracktest.Options{APIUser: ftUser, APIKey: ftKey})
	t.Cleanup(ft.Close)
	w := &world{t: t, ft: ft}
	w.load(hcl)
	st, err := state.Open(filepath.Join(t.TempDir(), "ldapsync.state.json"))
	if err != nil {
		t.Fatal(err)
	}
	w.state = st
	return w
}

// load (re)loads the configuration and rebuilds the providers.
func (w *world) load(hcl string) {
	t := w.t
	t.Helper()
	hcl = strings.ReplaceAll(hcl, "FTRACK_URL", w.ft.URL)
	var p *registry.Providers
	w.cfg, p = loadProviders(t, hcl, registry.WithSettings(fastRetries))
	w.sources, w.target, w.targetUser = p.Sources, p.Target, p.TargetUser
}

// loadProviders loads hcl as ldapsync.hcl (with no environment) and
// builds its providers, failing the test on any error diagnostic.
func loadProviders(t *testing.T, hcl string, opts ...registry.Option) (*config.Config, *registry.Providers) {
	t.Helper()
	cfg, diags := config.LoadBytes(filepath.Join(t.TempDir(), "ldapsync.hcl"), []byte(hcl), config.WithEnv(func(string) (string, bool) { return "", false }))
	if diags.HasErrors() {
		t.Fatalf("config: %s", diags.Error())
	}
	p, diags := registry.Build(cfg, opts...)
	if diags.HasErrors() {
		t.Fatalf("providers: %s", diags.Error())
	}
	return cfg, p
}

// fastRetries shortens the ftrack client's retry timing, which HCL cannot
// set, so a test of a failing emulator does not wait out the production
// back-off.
func fastRetries(settings any) {
	if fs, ok := settings.(*ftrack.Settings); ok {
		fs.RetryInitialInterval, fs.RetryMaxElapsed = time.Millisecond, 10*time.Second
	}
}

// plan builds a plan with the state's last-applied view.
func (w *world) plan() *engine.Plan {
	w.t.Helper()
	prior, err := w.state.Load()
	if err != nil {
		w.t.Fatal(err)
	}
	p, err := engine.BuildPlan(context.Background(), engine.PlanRequest{
		Sources: w.sources, Mapper: w.cfg.Mappings[0], Target: w.target, Policy: w.cfg.Policy, PolicyRaw: w.cfg.PolicyRaw,
		LastApplied: prior, ConfigDigest: w.cfg.Digest, ToolVersion: "test", Groups: w.cfg.GroupSpecs(), TargetUser: w.targetUser,
	})
	if err != nil {
		w.t.Fatalf("BuildPlan: %v", err)
	}
	return p
}

// apply applies p and fails the test on any error.
func (w *world) apply(p *engine.Plan) *engine.ApplyReport {
	w.t.Helper()
	rep, err := engine.Apply(context.Background(), engine.ApplyRequest{Plan: p, Target: w.target, State: w.state, ConfigDigest: w.cfg.Digest,
		Policy: w.cfg.Policy, Mapper: w.cfg.Mappings[0], Sources: w.sources, Groups: w.cfg.GroupSpecs(), VerifySource: true, TargetUser: w.targetUser})
	if err != nil {
		w.t.Fatalf("Apply: %v", err)
	}
	return rep
}

// accounts reads the ftrack accounts by lower-case username, without the
// target's own API user: the emulator, like a real site, has a User for
// it, and plan and apply hold it back, so it is never one of the accounts
// a test counts.
func (w *world) accounts() map[string]engine.Account {
	w.t.Helper()
	as, err := w.target.ReadAccounts(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string]engine.Account{}
	for _, a := range as {
		if strings.EqualFold(a.Username, w.targetUser) {
			continue
		}
		out[strings.ToLower(a.Username)] = a
	}
	return out
}

// lines renders a plan's changes as "action address [reason]" lines.
func lines(p *engine.Plan) []string {
	var out []string
	for _, c := range p.Changes {
		out = append(out, fmt.Sprintf("%s %s", c.Action, c.Address))
	}
	return out
}

// skippedLines renders skipped entries as "dn: reason", sorted.
func skippedLines(p *engine.Plan) []string {
	var out []string
	for _, s := range p.Skipped {
		out = append(out, s.DN+": "+s.Reason)
	}
	sort.Strings(out)
	return out
}

// sourceBlock is an HCL source block reading base as the slapd sync account.
func slapdSource(name, url, base, extra string) string {
	return fmt.Sprintf(`source "ldap" %q {
  url                      = %q
  bind_dn                  = "cn=sync,dc=example,dc=com"
  bind_password            = "syncpw"
  insecure_allow_plaintext = true
  base_dn                  = %q
%s
}
`, name, url, base, extra)
}

const ftrackTarget = `target "ftrack" "studio" {
  server_url = "FTRACK_URL"
  api_user   = "api@example.com"
  api_key    = "SECRET-KEY-4f1e2d3c"
}
`
