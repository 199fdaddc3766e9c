package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// entries lists the names in dir, to show no temporary file is left over.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func TestWriteFileCreatesAndReplaces(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "f.json")
	if err := WriteFile(path, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "two" {
		t.Fatalf("content %q, %v", got, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want the one asked for (0644), not the old file's", fi.Mode().Perm())
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Errorf("directory holds %q, want only f.json", names)
	}
}

func TestHookRunsBeforeTheRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	var seen string
	err := WriteFileBeforeRename(path, []byte("new"), 0o600, func() error {
		b, err := os.ReadFile(path)
		seen = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != "old" {
		t.Errorf("the hook saw %q at path, want the old content", seen)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Errorf("after the write: %q", b)
	}
}

func TestFailingHookLeavesTheFileAlone(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := WriteFileBeforeRename(path, []byte("new"), 0o600, func() error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the hook's", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("path was replaced despite the failing hook: %q", b)
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Errorf("directory holds %q, want only f (the temporary file removed)", names)
	}
}

// TestWriteStream: streamed content replaces the file; a failing stream
// leaves the old file and no temporary file.
func TestWriteStream(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plan.json")
	if err := WriteStream(path, 0o600, func(w io.Writer) error {
		_, err := io.WriteString(w, "streamed")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := WriteStream(path, 0o600, func(w io.Writer) error {
		_, _ = io.WriteString(w, "half")
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("failing stream: %v, want boom", err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "streamed" {
		t.Fatalf("content %q, %v; want the first stream's", got, err)
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Errorf("directory holds %q, want only plan.json", names)
	}
}
