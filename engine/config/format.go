package config

import (
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// WriteDiagnostics prints diags with hcl.NewDiagnosticTextWriter, each
// summary prefixed with its position as file:line:col so that editors and
// CI logs can jump to it; the writer adds the source line.
func WriteDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, color bool) error {
	tw := hcl.NewDiagnosticTextWriter(w, maskedFiles(files), 0, color)
	for _, d := range diags {
		c := *d
		if c.Subject != nil {
			c.Summary = fmt.Sprintf("%s:%d:%d: %s", c.Subject.Filename, c.Subject.Start.Line, c.Subject.Start.Column, c.Summary)
		}
		if err := tw.WriteDiagnostic(&c); err != nil {
			return err
		}
	}
	return nil
}

// Format returns src in canonical HCL formatting, for `ldapsync fmt`.
func Format(src []byte) []byte {
	return hclwrite.Format(src)
}

// secretLine finds a setting whose name says it holds a secret (password,
// api_key, secret, token) and captures its value, in HCL (`=`) and YAML
// (`:`) syntax alike.
var secretLine = regexp.MustCompile(`(?i)\b[a-z_]*(pass|pasw|pwd|key|secret|token|credential)[a-z_]*\s*[:=]\s*("(?:[^"\\]|\\.)*"|'[^']*'|[^\s,}#]+)`)

// maskedFiles returns copies of the files in which the values of settings
// that look like secrets (by name: pass, pwd, key, secret, token,
// credential — misspellings included) are overwritten with '*' of the same length, so a
// diagnostic that quotes a source line (say, a misspelled bind_pasword)
// never prints a password. Lengths are kept so ranges still point right.
// References such as var.x or env("X") are not secrets and stay readable.
func maskedFiles(files map[string]*hcl.File) map[string]*hcl.File {
	out := make(map[string]*hcl.File, len(files))
	for name, f := range files {
		if f == nil {
			continue
		}
		src := append([]byte(nil), f.Bytes...)
		for _, m := range secretLine.FindAllSubmatchIndex(src, -1) {
			start, end := m[4], m[5]
			value := string(src[start:end])
			if strings.HasPrefix(value, "var.") || strings.HasPrefix(value, "env(") || strings.HasPrefix(value, "file(") {
				continue
			}
			if value[0] == '"' || value[0] == '\'' {
				start, end = start+1, end-1
			}
			for i := start; i < end; i++ {
				src[i] = '*'
			}
		}
		out[name] = &hcl.File{Body: f.Body, Bytes: src, Nav: f.Nav}
	}
	return out
}
