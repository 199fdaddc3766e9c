package engine

// The plan file's integrity: the checksum (and the optional HMAC signature)
// cover a canonical form of the file, computed from the JSON itself rather
// than from our Go struct, so that a plan written by a later minor version
// with extra fields still verifies. Canonical form: the top-level object
// without "checksum" and "signature", every object's keys sorted, no
// insignificant whitespace, numbers as written.

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// RefusalError is a refusal to load or apply a plan. Reason is a stable
// token (checksum_mismatch, unsigned, bad_signature, format_version,
// blocked, target_mismatch, config_changed, state_mismatch, expired,
// already_applied, stale, invalid); Message names what and why.
type RefusalError struct {
	Reason  string
	Message string
}

// Error returns the message.
func (e *RefusalError) Error() string { return e.Message }

func refuse(reason, format string, args ...any) *RefusalError {
	return &RefusalError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// MarshalPlan writes the plan as deterministic, indented JSON. It fills
// p.Checksum and, with a key, p.Signature (HMAC-SHA256 over the canonical
// form).
func MarshalPlan(p *Plan, key []byte) ([]byte, error) {
	p.Checksum, p.Signature = "", ""
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	canon, err := canonical(raw)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	p.Checksum = checksumOf(canon)
	if key != nil {
		p.Signature = signatureOf(canon, key)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	return buf.Bytes(), nil
}

// UnmarshalPlan reads a plan file and verifies it: an unknown major format
// version, a checksum that does not match, and — when key is not nil — a
// missing or wrong signature are refused with a *RefusalError.
func UnmarshalPlan(data []byte, key []byte) (*Plan, error) {
	var head struct {
		FormatVersion string `json:"format_version"`
		Checksum      string `json:"checksum"`
		Signature     string `json:"signature"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, refuse("invalid", "the plan file is not valid JSON: %v", err)
	}
	major, _, ok := strings.Cut(head.FormatVersion, ".")
	if mj, err := strconv.Atoi(major); !ok || err != nil || mj != 1 {
		if head.FormatVersion == "" {
			return nil, refuse("format_version", "the plan file has no format_version; it was not written by ldapsync plan")
		}
		return nil, refuse("format_version", "the plan file has format_version %q; this ldapsync reads format %s (major 1) — use the ldapsync version that wrote the plan", head.FormatVersion, FormatVersion)
	}
	canon, err := canonical(data)
	if err != nil {
		return nil, refuse("invalid", "the plan file cannot be read: %v", err)
	}
	if head.Checksum == "" {
		return nil, refuse("checksum_mismatch", "the plan file has no checksum; it was not written by ldapsync plan or was edited")
	}
	if want := checksumOf(canon); !hmac.Equal([]byte(want), []byte(head.Checksum)) {
		return nil, refuse("checksum_mismatch", "the plan file was modified after it was written: its checksum %s does not match its content (%s); make a new plan", head.Checksum, want)
	}
	if key != nil {
		if head.Signature == "" {
			return nil, refuse("unsigned", "the plan is not signed, but LDAPSYNC_PLAN_KEY is set: apply only runs plans signed with that key; make the plan with the key set")
		}
		if !hmac.Equal([]byte(signatureOf(canon, key)), []byte(head.Signature)) {
			return nil, refuse("bad_signature", "the plan's signature does not match LDAPSYNC_PLAN_KEY: it was signed with another key or edited")
		}
	}
	var p Plan
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, refuse("invalid", "the plan file cannot be read: %v", err)
	}
	return &p, nil
}

func checksumOf(canon []byte) string {
	sum := sha256.Sum256(canon)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func signatureOf(canon, key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(canon)
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))
}

// canonical returns the canonical form of a plan document.
func canonical(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the plan object")
	}
	delete(doc, "checksum")
	delete(doc, "signature")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil { // maps encode with sorted keys
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
