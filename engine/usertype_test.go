package engine

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// typedWorld is newWorld with accounts of the hands-off user types: an
// owned service account the directory no longer lists (it would be
// deactivated), a demo account a directory user matches (it would be
// adopted) and an owned account of type ldap (an ordinary one).
func typedWorld() *world {
	w := newWorld()
	svc := owned("id-s", "svc-render", "render@example.com", "Render", "Farm", "sid-s")
	svc.UserType = "service"
	demo := Account{ID: "id-demo", Username: "demo", Email: "demo@example.com", FirstName: "D", LastName: "Emo", Active: true, UserType: "Demo"}
	demo2 := Account{ID: "id-demo2", Username: "demo2", Active: false, UserType: "demo"}
	for _, a := range []Account{svc, demo, demo2} {
		a := a
		w.target.accounts[a.ID] = &a
	}
	w.target.accounts["id-c"].UserType = "ldap"
	w.src.entries = append(w.src.entries, entry("demo", "demo@studio.example.com", "Demo", "User", "sid-demo"))
	return w
}

func TestHandsOffUserTypesAreNeverTouched(t *testing.T) {
	w := typedWorld()
	p := w.plan(t, clock)
	for _, c := range p.Changes {
		if c.Key == "svc-render" || c.Key == "demo" || c.Key == "demo2" {
			t.Errorf("the plan changes a hands-off account: %s %s", c.Action, c.Address)
		}
	}
	if !slices.Contains(changeLines(p), "deactivate user.carol") {
		t.Errorf("an owned account of type ldap is not deactivated as missing: %v", changeLines(p))
	}
	var typed []string
	for _, w := range p.Warnings {
		if strings.Contains(w, "of user type") {
			typed = append(typed, w)
		}
		if strings.Contains(w, "svc-render") || strings.Contains(w, "user.demo") {
			t.Errorf("a per-account warning about a hands-off account: %q", w)
		}
	}
	want := []string{
		`2 ftrack accounts of user type "demo": never changed (ldapsync leaves service and demo accounts alone); 1 of them matches a directory user, not adopted, changed or deactivated`,
		`1 ftrack account of user type "service": never changed (ldapsync leaves service and demo accounts alone)`,
	}
	if !slices.Equal(typed, want) {
		t.Errorf("user type warnings:\n got %q\nwant %q", typed, want)
	}
	if slices.Contains(p.Unmanaged, "demo") {
		t.Error("the demo account is listed as unmanaged")
	}
	// They still hold seats: 6 + svc-render + demo.
	if p.Seats.ActiveNow != 8 {
		t.Errorf("active now = %d, want 8 (hands-off accounts hold seats)", p.Seats.ActiveNow)
	}
}

func TestApplyRefusesChangesToHandsOffUserTypes(t *testing.T) {
	deactivate := Change{Address: "user.svc-render", Action: ActionDeactivate, Reason: ReasonMissingFromDirectory, Key: "svc-render", TargetID: "id-s", SourceID: "sid-s",
		Before: &Fields{IsActive: Bool(true)}, After: &Fields{IsActive: Bool(false)}}
	adopt := Change{Address: "user.demo", Action: ActionAdopt, Reason: ReasonMatchesDirectoryUser, Key: "demo", TargetID: "id-demo", SourceID: "sid-demo",
		Before: &Fields{Owner: Str(""), SourceID: Str("")}, After: &Fields{Owner: Str("users"), SourceID: Str("sid-demo")}}
	create := Change{Address: "user.demo2", Action: ActionCreate, Reason: ReasonNewInDirectory, Key: "demo2", TargetID: "00000000-0000-4000-8000-000000000999", SourceID: "sid-x",
		After: &Fields{Username: Str("demo2"), Email: Str("d2@example.com"), FirstName: Str("D"), LastName: Str("Two"), IsActive: Bool(true), Owner: Str("users"), SourceID: Str("sid-x")}}
	for _, tc := range []struct {
		name   string
		change Change
		msg    string
	}{
		{"deactivate a service account", deactivate, `user.svc-render: ftrack account "svc-render" is of user type "service"`},
		{"adopt a demo account", adopt, `user.demo: ftrack account "demo" is of user type "Demo"`},
		{"create beside a demo account", create, `user.demo2: ftrack account "demo2" is of user type "demo"`},
	} {
		for _, verify := range []bool{true, false} {
			w := typedWorld()
			p := w.plan(t, clock)
			p.Changes = append(p.Changes, tc.change)
			sortChanges(p.Changes)
			back := reread(t, p) // the checksum recomputed
			w.state.saves = 0
			req := w.applyReq(back)
			req.VerifySource = verify
			t.Run(tc.name, func(t *testing.T) { requireRefusal(t, w, req, "protected", tc.msg) })
		}
	}
	// The control: the plan as made applies, and leaves them alone.
	w := typedWorld()
	p := w.plan(t, clock)
	if _, err := Apply(context.Background(), w.applyReq(p)); err != nil {
		t.Fatalf("the plan as made: %v", err)
	}
	if a := w.target.accounts["id-s"]; !a.Active {
		t.Error("the service account was deactivated")
	}
	if a := w.target.accounts["id-demo"]; a.Owner != "" {
		t.Error("the demo account was adopted")
	}
}
