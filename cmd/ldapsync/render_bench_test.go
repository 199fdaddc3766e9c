package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/ldapsync/ldapsync/engine"
)

// importPlan is the plan of an initial import of 95,000 users (issue
// 17): 95,000 creates with every field, as plan makes them.
var importPlan = sync.OnceValue(func() *engine.Plan {
	const n = 95000
	p := &engine.Plan{PlanID: "p", Target: engine.TargetInfo{Type: "ftrack", Name: "studio"}}
	for i := range n {
		key := fmt.Sprintf("user%06d", i)
		p.Changes = append(p.Changes, engine.Change{Address: "user." + key, Action: engine.ActionCreate, Reason: engine.ReasonNewInDirectory, Key: key,
			TargetID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), SourceID: "sid-" + key,
			After: &engine.Fields{Username: engine.Str(key), Email: engine.Str(key + "@example.com"), FirstName: engine.Str("First"), LastName: engine.Str("Last"),
				IsActive: engine.Bool(true), Owner: engine.Str("users"), SourceID: engine.Str("sid-" + key)}})
	}
	p.Summary.Create = n
	return p
})

// countingWriter counts the writes that reach w.
type countingWriter struct {
	w      io.Writer
	writes int
}

func (c *countingWriter) Write(b []byte) (int, error) { c.writes++; return c.w.Write(b) }

// devNull opens /dev/null: output to a file, so that every unbuffered
// write is a system call, as on a terminal or pipe.
func devNull(b *testing.B) *os.File {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return f
}

// BenchmarkRenderImportPlan renders the text plan of importPlan to a file
// as plan and show do: through one buffer, the lists cut at maxListed
// ("capped") or whole ("verbose"). writes/op counts the writes that
// reach the file (760,003 unbuffered before issue 17).
func BenchmarkRenderImportPlan(b *testing.B) {
	p := importPlan()
	f := devNull(b)
	for _, verbose := range []bool{false, true} {
		name := "capped"
		if verbose {
			name = "verbose"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				cw := &countingWriter{w: f}
				out := bufio.NewWriterSize(cw, stdoutBufferSize)
				r := newRenderer(out, false)
				r.list = listingFor(verbose, "plan.json", "")
				r.Plan(p)
				if err := out.Flush(); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(cw.writes), "writes/op")
			}
		})
	}
}

// BenchmarkMarkdownImportPlan renders importPlan as Markdown, lists cut
// ("capped") and whole up to markdownLimit ("verbose", as before issue
// 17).
func BenchmarkMarkdownImportPlan(b *testing.B) {
	p := importPlan()
	for _, verbose := range []bool{false, true} {
		name := "capped"
		if verbose {
			name = "verbose"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				md := planMarkdownListing(p, listingFor(verbose, "plan.json", ""))
				b.ReportMetric(float64(len(md)), "chars")
			}
		})
	}
}
