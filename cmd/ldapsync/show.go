package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ldapsync/ldapsync/engine"
)

// showArgs are the settings of one `ldapsync show` run.
type showArgs struct {
	PlanPath string
	JSON     bool
	Markdown bool
	NoColor  bool
	Verbose  bool
}

func showCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "render a saved plan as text, JSON or Markdown",
		ArgsUsage: "plan.json",
		Description: `show renders any saved plan, also one that can no longer be applied
(expired, tampered with, signed with another key); a banner then says why.
A file that is not a plan at all (not JSON, or JSON without a plan's
format_version, plan_id, target and changes) is refused with exit 1.

Flags may also follow the plan file: ldapsync show plan.json -json.

Long lists are cut: the text and -markdown show the first 50 changes of
each action (and of the conflicts, skipped entries and warnings), then
a line such as "… and 94,950 more creates (ldapsync show -verbose
plan.json, or -json)". -verbose lists everything; -json always does.
Markdown also stops at 60,000 characters.

Examples:
   ldapsync show plan.json
   ldapsync show -verbose plan.json    # every change, however many
   ldapsync show -markdown plan.json > plan.md
   ldapsync show -json plan.json | jq .summary`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print the plan as JSON"},
			&cli.BoolFlag{Name: "markdown", Usage: "print the plan as Markdown"},
			&cli.BoolFlag{Name: "no-color", Usage: "disable colored output"},
			verboseFlag(),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("Error: show needs exactly one argument: the plan file", exitError)
			}
			return runShow(c, showArgs{PlanPath: c.Args().First(), JSON: c.Bool("json"), Markdown: c.Bool("markdown"), NoColor: c.Bool("no-color"), Verbose: c.Bool("verbose")})
		},
	}
}

// readPlanForShow refuses what is not a plan document, verifies the plan
// when it can, and otherwise decodes it as it is, returning why it can no
// longer be applied.
func readPlanForShow(path string) (*engine.Plan, string, error) {
	data, err := engine.ReadPlanBytes(path)
	if err != nil {
		return nil, "", err
	}
	if why := notAPlan(data); why != "" {
		return nil, "", notAPlanError(path, why)
	}
	p, err := engine.UnmarshalPlan(data, engine.ReadOptions{Key: planKey()})
	if err == nil {
		if exp, perr := time.Parse(time.RFC3339, p.ExpiresAt); perr == nil && now().After(exp) {
			return p, fmt.Sprintf("this plan expired at %s and can no longer be applied", p.ExpiresAt), nil
		}
		return p, "", nil
	}
	var refusal *engine.RefusalError
	if !errors.As(err, &refusal) {
		return nil, "", err
	}
	raw, jerr := engine.DecodePlanUnverified(data)
	if jerr != nil {
		return nil, "", notAPlanError(path, jsonProblem(data, locateTypeError(data, new(engine.Plan), jerr)))
	}
	return raw, "this plan cannot be applied: " + plainMessage(refusal.Message), nil
}

// planMembers are the members every plan file ldapsync writes has: a
// document without one of them is not a plan, whatever else it holds.
var planMembers = []string{"format_version", "plan_id", "target", "changes"}

// notAPlan says why data is not a plan document ("" when it is one, valid
// or not): a plan file is one JSON object with planMembers.
func notAPlan(data []byte) string {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Field == "" {
			return fmt.Sprintf("a plan file is one JSON object, this is a JSON %s", jsonKindWord(typ.Value))
		}
		return jsonProblem(data, err)
	}
	if top == nil {
		return "a plan file is one JSON object, this is JSON null"
	}
	var missing []string
	for _, name := range planMembers {
		if _, ok := top[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return "it has no " + orList(missing)
	}
	return ""
}

// notAPlanError is show's refusal of a file that is not a plan.
func notAPlanError(path, why string) error {
	return cli.Exit(fmt.Sprintf("Error: %s is not a plan file: %s. show renders the plan file that 'ldapsync plan -out' writes.", path, why), exitError)
}

// orList joins words as "a", "a or b", "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

func runShow(c *cli.Context, args showArgs) error {
	p, banner, err := readPlanForShow(args.PlanPath)
	if err != nil {
		return err
	}
	out := c.App.Writer
	list := listingFor(args.Verbose, args.PlanPath, "show")
	switch {
	case args.JSON:
		data, err := json.MarshalIndent(p, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", data)
		return err
	case args.Markdown:
		if banner != "" {
			fmt.Fprintf(out, "> [!CAUTION]\n> %s\n\n", mdEscape(banner))
		}
		_, err := fmt.Fprint(out, planMarkdownListing(p, list))
		return err
	default:
		r := newRenderer(out, useColor(args.NoColor, out))
		r.list = list
		if banner != "" {
			r.printf("%s\n\n", r.red.Sprint("!! "+plain(banner)))
		}
		r.printf("Plan %s for %s %q (%s), created %s, expires %s.\n\n", plain(p.PlanID), plain(p.Target.Type), p.Target.Name, plain(p.Target.Endpoint), plain(p.CreatedAt), plain(p.ExpiresAt))
		r.Plan(p)
		return nil
	}
}
