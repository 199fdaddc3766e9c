package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
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
}

func showCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "render a saved plan as text, JSON or Markdown",
		ArgsUsage: "plan.json",
		Description: `show renders any saved plan, also one that can no longer be applied
(expired, tampered with, signed with another key); a banner then says why.

Examples:
   ldapsync show plan.json
   ldapsync show -markdown plan.json > plan.md
   ldapsync show -json plan.json | jq .summary`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print the plan as JSON"},
			&cli.BoolFlag{Name: "markdown", Usage: "print the plan as Markdown"},
			&cli.BoolFlag{Name: "no-color", Usage: "disable colored output"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("Error: show needs exactly one argument: the plan file", exitError)
			}
			return runShow(c, showArgs{PlanPath: c.Args().First(), JSON: c.Bool("json"), Markdown: c.Bool("markdown"), NoColor: c.Bool("no-color")})
		},
	}
}

// readPlanForShow verifies the plan when it can and otherwise decodes it
// as it is, returning why it can no longer be applied.
func readPlanForShow(path string) (*engine.Plan, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
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
		return nil, "", fmt.Errorf("%s: not a plan file: %w", path, jerr)
	}
	return raw, "this plan cannot be applied: " + refusal.Message, nil
}

func runShow(c *cli.Context, args showArgs) error {
	p, banner, err := readPlanForShow(args.PlanPath)
	if err != nil {
		return err
	}
	out := c.App.Writer
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
		_, err := fmt.Fprint(out, planMarkdown(p))
		return err
	default:
		r := newRenderer(out, useColor(args.NoColor, out))
		if banner != "" {
			r.printf("%s\n\n", r.red.Sprint("!! "+banner))
		}
		r.printf("Plan %s for %s %q (%s), created %s, expires %s.\n\n", p.PlanID, p.Target.Type, p.Target.Name, p.Target.Endpoint, p.CreatedAt, p.ExpiresAt)
		r.Plan(p)
		return nil
	}
}
