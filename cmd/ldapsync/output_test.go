package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestStderrKeepsItsPlaceAfterBufferedStdout: with stdout and stderr on
// one terminal (here one file), a stderr write comes after the stdout
// written before it, as unbuffered, and terminal checks see the file.
func TestStderrKeepsItsPlaceAfterBufferedStdout(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "tty"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := newBufferedStdout(f)
	errw := stderrAfterStdout{file: f, stdout: out}
	fmt.Fprint(out, "plan\n")
	fmt.Fprint(errw, "Only 'yes' will be accepted: ")
	fmt.Fprint(out, "report\n")
	if err := out.Flush(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(f.Name())
	if want := "plan\nOnly 'yes' will be accepted: report\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, w := range []io.Writer{out, errw} {
		if file, ok := fileOf(w); !ok || file != f {
			t.Errorf("fileOf(%T) does not see the file", w)
		}
	}
}
