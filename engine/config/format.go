package config

import (
	"fmt"
	"io"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// WriteDiagnostics prints diags with hcl.NewDiagnosticTextWriter, each
// summary prefixed with its position as file:line:col so that editors and
// CI logs can jump to it; the writer adds the source line, with the values
// of secret-named settings masked (see maskedFiles). It knows no secret
// values; Redactor.WriteDiagnostics also removes those.
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
