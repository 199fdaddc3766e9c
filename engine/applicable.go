package engine

import "time"

// checkApplicable refuses a plan that may not run here and now, whatever
// its changes: another format, another target, another configuration, or
// past its expiry.
func checkApplicable(p *Plan, ti TargetInfo, configDigest string, now time.Time) error {
	if err := checkFormatVersion(p.FormatVersion); err != nil {
		return err
	}
	if err := checkSummary(p); err != nil {
		return err
	}
	if ti != p.Target {
		return refuse(RefuseTargetMismatch, "the plan was made for target %s %q at %s, but the configuration targets %s %q at %s",
			p.Target.Type, p.Target.Name, p.Target.Endpoint, ti.Type, ti.Name, ti.Endpoint)
	}
	if configDigest != "" && configDigest != p.ConfigDigest {
		return refuse(RefuseConfigChanged, "the configuration changed since the plan was made (plan: %s, now: %s); make a new plan", p.ConfigDigest, configDigest)
	}
	exp, err := time.Parse(time.RFC3339, p.ExpiresAt)
	if err != nil {
		return refuse(RefuseInvalid, "the plan's expires_at %q is not a time: %v", p.ExpiresAt, err)
	}
	if now.After(exp) {
		return refuse(RefuseExpired, "the plan expired at %s (made at %s); make a new plan", exp.UTC().Format(time.RFC3339), p.CreatedAt)
	}
	return nil
}

// checkJournal refuses a plan the state journal says is applied, or
// whose base is not this state: a plan runs against exactly the state
// (lineage and serial) it was made from, or resumes its own last run. A
// plan made against a state that has seen no apply is tied to that
// state's lineage like any other, so it cannot be replayed on a state
// that was lost and started again.
func checkJournal(p *Plan, la *LastApplied, where string) (rec AppliedPlan, resume bool, err error) {
	rec, resume = la.Plans[p.PlanID]
	if resume && rec.Status == PlanApplied {
		return rec, false, refuse(RefuseAlreadyApplied, "plan %s was already applied (finished %s); make a new plan", p.PlanID, rec.FinishedAt.UTC().Format(time.RFC3339))
	}
	if resume {
		if la.Serial != rec.Serial {
			return rec, false, refuse(RefuseStateMismatch, "the state moved on since plan %s last ran (state serial %d, the plan's last run wrote serial %d): another apply ran in between; make a new plan", p.PlanID, la.Serial, rec.Serial)
		}
		return rec, true, nil
	}
	ref := p.PriorState
	switch {
	case ref == nil:
		return rec, false, refuse(RefuseStateMismatch, "the plan names no prior state; it was not made by this ldapsync; make a new plan")
	case ref.Lineage == "" && la.Exists:
		return rec, false, refuse(RefuseStateMismatch, "the plan was made when there was no state yet, and now there is one (lineage %s serial %d): another apply ran first; make a new plan", la.Lineage, la.Serial)
	case ref.Lineage == "":
		if ref.Serial != 0 {
			return rec, false, refuse(RefuseInvalid, "the plan names no state lineage but serial %d; it was edited; make a new plan", ref.Serial)
		}
		return AppliedPlan{}, false, nil
	case !la.Exists:
		return rec, false, refuse(RefuseStateMismatch, "there is no state in %s: the plan was made against the state with lineage %s (serial %d). Apply runs where that state is not (another state block, a runner without the state file), or the state was lost: run apply with the state the plan was made with; if it is lost, make a new plan", where, ref.Lineage, ref.Serial)
	}
	if ref.Lineage != la.Lineage || ref.Serial != la.Serial {
		return rec, false, refuse(RefuseStateMismatch, "the state is not the one the plan was made against: the plan expects lineage %s serial %d, the state is lineage %s serial %d (another apply ran, the state was lost and started again, or this is another state file); make a new plan", ref.Lineage, ref.Serial, la.Lineage, la.Serial)
	}
	rec = AppliedPlan{BaseSerial: ref.Serial}
	return rec, false, nil
}

// checkSummary is the one place a plan's own counts are compared with its
// changes: a summary that does not count them is an edited plan.
func checkSummary(p *Plan) error {
	var c Counts
	for _, ch := range p.Changes {
		c.add(ch.Action)
	}
	if c != p.Summary.Counts {
		return refuse(RefuseInvalid, "the plan's summary does not count its changes (summary %d, changes %d): it was edited; make a new plan", p.Summary.Total(), c.Total())
	}
	return nil
}
