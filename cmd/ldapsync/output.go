package main

// Standard output is buffered: a text plan of an initial import was
// 760,000 unbuffered writes (issue 17). One buffer per process, flushed
// when the command ends, before anything is written to stderr (a prompt,
// a warning, an error, a progress bar), so the two streams keep the
// order they had unbuffered, and before the process exits early.

import (
	"bufio"
	"io"
	"os"
)

// stdoutBufferSize is the stdout buffer: large enough that a plan's
// text is a few hundred writes, not hundreds of thousands.
const stdoutBufferSize = 64 << 10

// bufferedStdout is the process's stdout behind a buffer. It remembers
// the file, so that terminal checks (useColor) see through the buffer.
type bufferedStdout struct {
	*bufio.Writer
	file *os.File
}

func newBufferedStdout(f *os.File) *bufferedStdout {
	return &bufferedStdout{Writer: bufio.NewWriterSize(f, stdoutBufferSize), file: f}
}

// stderrAfterStdout is stderr, writing only once buffered stdout is
// flushed: a prompt or message never overtakes the output before it.
type stderrAfterStdout struct {
	file   *os.File
	stdout *bufferedStdout
}

// Write flushes stdout, then writes b to stderr.
func (s stderrAfterStdout) Write(b []byte) (int, error) {
	_ = s.stdout.Flush()
	return s.file.Write(b)
}

// flushStdout flushes the process's buffered stdout, if any: set by run
// for code that ends the process itself (os.Exit).
var flushStdout = func() {}

// flushOutput flushes w when it is buffered: before a long phase that
// writes nothing to stderr (sync's apply, after its plan), so that what
// was printed shows now.
func flushOutput(w io.Writer) {
	if f, ok := w.(interface{ Flush() error }); ok {
		_ = f.Flush()
	}
}

// fileOf returns the file behind w (stdout or stderr, buffered or not),
// for terminal checks.
func fileOf(w io.Writer) (*os.File, bool) {
	switch x := w.(type) {
	case *os.File:
		return x, true
	case *bufferedStdout:
		return x.file, true
	case stderrAfterStdout:
		return x.file, true
	}
	return nil, false
}
