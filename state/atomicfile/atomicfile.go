// Package atomicfile replaces files so that a reader, or a crash, sees
// either the old content or the new, never a half-written file.
//
// It is the one writer behind the state file, plan files, `ldapsync fmt`
// and the ftrack emulator's data and URL files. github.com/google/renameio
// does the same core job, but it does not fsync the directory, has no hook
// between "new content durable" and "rename" (the state's backup needs
// one), keeps an existing file's permissions instead of the ones asked for
// (the state must stay 0600), and does not build on Windows; forty lines
// here are cheaper than working around all four.
package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteFile writes data to path atomically: a temporary file in the same
// directory, fsync, rename over path, then fsync of the directory. Missing
// parent directories are created. The file ends up with mode perm.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return WriteFileBeforeRename(path, data, perm, nil)
}

// WriteFileBeforeRename is WriteFile with a hook that runs once the new
// content is durable in the temporary file and before it replaces path.
// When the hook fails, path is left as it was and the temporary file is
// removed. The state uses the hook to keep the previous file as a backup.
func WriteFileBeforeRename(path string, data []byte, perm os.FileMode, beforeRename func() error) error {
	return writeAtomic(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}, beforeRename)
}

// WriteStream is WriteFile for content too large to hold in memory:
// write streams it into the temporary file (a plan file of an initial
// import). When write fails, path is left as it was.
func WriteStream(path string, perm os.FileMode, write func(io.Writer) error) error {
	return writeAtomic(path, perm, write, nil)
}

func writeAtomic(path string, perm os.FileMode, write func(io.Writer) error, beforeRename func() error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := writeTemp(dir, filepath.Base(path), write, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // no-op after the rename
	if beforeRename != nil {
		if err := beforeRename(); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename: %w", err)
	}
	syncDir(dir)
	return nil
}

// writeTemp writes with write to a new hidden file in dir, sets perm (not
// subject to the umask) and fsyncs it. It returns the file's name; on error
// nothing is left behind.
func writeTemp(dir, base string, write func(io.Writer) error, perm os.FileMode) (name string, err error) {
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return "", fmt.Errorf("writing: %w", err)
	}
	if err := f.Chmod(perm); err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("fsync: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return f.Name(), nil
}

// syncDir makes a rename in dir durable. It is best effort: not every
// filesystem (or operating system) can fsync a directory, and the rename
// itself has already succeeded.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
