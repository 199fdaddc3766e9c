package main

import (
	"io"
	"os"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
)

// progress shows progress bars on stderr, and only on a terminal: nothing
// with -no-color, NO_COLOR, or when stderr is redirected.
type progress struct {
	w       io.Writer
	enabled bool
	stage   string
	bar     *progressbar.ProgressBar
}

func newProgress(w io.Writer, noColor bool) *progress {
	p := &progress{w: w}
	if f, ok := fileOf(w); ok && !noColor && os.Getenv("NO_COLOR") == "" && isatty.IsTerminal(f.Fd()) {
		p.enabled = true
	}
	return p
}

// Stage reports that done items of stage are finished; a new stage name
// starts a new bar. It has the signature of engine.PlanRequest.Progress.
func (p *progress) Stage(stage string, done int) {
	if !p.enabled {
		return
	}
	if stage != p.stage || p.bar == nil {
		p.Finish()
		p.stage = stage
		p.bar = progressbar.NewOptions(-1,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(stage),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("items"),
			progressbar.OptionThrottle(100_000_000),
			progressbar.OptionClearOnFinish(),
		)
	}
	_ = p.bar.Set(done)
}

// Counted reports done of total for a stage with a known size, such as apply.
func (p *progress) Counted(stage string, done, total int) {
	if !p.enabled {
		return
	}
	if stage != p.stage || p.bar == nil {
		p.Finish()
		p.stage = stage
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(stage),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("changes"),
			progressbar.OptionThrottle(100_000_000),
			progressbar.OptionClearOnFinish(),
		)
	}
	_ = p.bar.Set(done)
}

// Finish closes the current bar.
func (p *progress) Finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
}
