package ftrackstate

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"unicode/utf8"
)

// A blob is a value too big for one Metadata value (the body of the site
// record, a plan's journal), kept as content-addressed chunks: each chunk
// is stored under PREFIX.HASH, HASH being the first 16 hex digits of the
// chunk's SHA-256, and a reference (blobRef) lists the chunks in order with
// the SHA-256 and length of the whole. A chunk is never changed once
// written (its key is its content), so writing a new version of a blob
// leaves the old one readable until the reference is switched: a crash in
// between leaves the old reference pointing at chunks that are all there.
// A reference with more than maxRefChunks chunks lists them in an index
// blob instead (its lines are the chunk hashes), so a reference stays
// small however big the blob.

const (
	// maxChunk bounds every value this package writes.
	maxChunk = 32 << 10
	// minCut is the size under which a chunk is not cut at a line
	// boundary (content-defined cuts only from here on).
	minCut = 16 << 10
	// maxRefChunks is the most chunk hashes a reference lists itself.
	maxRefChunks = 1000
	// hashLen is the length of a chunk's hash in its key.
	hashLen = 16
)

// blobRef refers to a blob: its chunks in order (or the index blob that
// lists them), its length and its SHA-256.
type blobRef struct {
	Chunks []string `json:"chunks,omitempty"`
	Index  *blobRef `json:"index,omitempty"`
	Bytes  int      `json:"bytes"`
	SHA256 string   `json:"sha256"`
}

// chunkHash is the hash naming a chunk.
func chunkHash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])[:hashLen]
}

// cutLines packs lines (each ending in "\n") into chunks of at most
// maxChunk bytes. A chunk ends after a line whose cut is true once it
// holds minCut bytes, before a line that would overflow it, and inside a
// line longer than maxChunk (at a UTF-8 character boundary). Cuts that
// depend on the lines' content rather than their positions keep the
// chunks before and after a changed line as they were: a journal that
// grows rewrites its last chunk and adds new ones.
func cutLines(lines [][]byte, cut []bool) [][]byte {
	var out [][]byte
	var cur []byte
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur)
			cur = nil
		}
	}
	for i, l := range lines {
		if len(cur)+len(l) > maxChunk {
			flush()
		}
		for len(l) > maxChunk {
			n := maxChunk
			for n > 0 && !utf8.RuneStart(l[n]) {
				n--
			}
			out = append(out, l[:n])
			l = l[n:]
		}
		cur = append(cur, l...)
		if cut != nil && cut[i] && len(cur) >= minCut {
			flush()
		}
	}
	flush()
	return out
}

// splitFixed cuts data into chunks of at most maxChunk bytes at UTF-8
// character boundaries.
func splitFixed(data []byte) [][]byte {
	return cutLines([][]byte{data}, nil)
}

// lineCut is the content-defined cut after a line identified by id.
func lineCut(id string) bool {
	h := fnv.New32a()
	h.Write([]byte(id))
	return h.Sum32()%128 == 0
}

// putBlob makes the reference of data split into chunks, adding every
// chunk (index chunks too) to values under prefix+"."+hash.
func putBlob(prefix string, chunks [][]byte, values map[string]string) blobRef {
	var whole []byte
	ref := blobRef{}
	hashes := make([]string, len(chunks))
	for i, c := range chunks {
		whole = append(whole, c...)
		hashes[i] = chunkHash(c)
		values[prefix+"."+hashes[i]] = string(c)
	}
	sum := sha256.Sum256(whole)
	ref.Bytes, ref.SHA256 = len(whole), hex.EncodeToString(sum[:])
	if len(hashes) <= maxRefChunks {
		ref.Chunks = hashes
		return ref
	}
	lines := make([][]byte, len(hashes))
	for i, h := range hashes {
		lines[i] = []byte(h + "\n")
	}
	idx := putBlob(prefix, cutLines(lines, nil), values)
	ref.Index = &idx
	return ref
}

// integrityError is a blob that cannot be read as written: a chunk
// missing, a checksum or length that does not match. Load re-reads once
// when the site record changed meanwhile (a Save was under way).
type integrityError struct{ msg string }

// Error implements error.
func (e *integrityError) Error() string { return e.msg }

// getBlob reads the blob ref refers to from values (key -> value), what
// names the blob in errors.
func getBlob(what, prefix string, ref blobRef, values map[string]string, depth int) ([]byte, error) {
	hashes := ref.Chunks
	if ref.Index != nil {
		if depth > 3 || len(ref.Chunks) > 0 {
			return nil, &integrityError{fmt.Sprintf("%s: malformed reference (an index beside chunks, or nested more than 3 deep)", what)}
		}
		list, err := getBlob(what+" (index)", prefix, *ref.Index, values, depth+1)
		if err != nil {
			return nil, err
		}
		hashes = strings.Fields(string(list))
	}
	var whole bytes.Buffer
	for i, h := range hashes {
		key := prefix + "." + h
		v, ok := values[key]
		if !ok {
			return nil, &integrityError{fmt.Sprintf("%s: chunk %d of %d (key %q) is missing", what, i+1, len(hashes), key)}
		}
		if chunkHash([]byte(v)) != h {
			return nil, &integrityError{fmt.Sprintf("%s: chunk %d of %d (key %q) does not match its checksum (it was changed in ftrack)", what, i+1, len(hashes), key)}
		}
		whole.WriteString(v)
		if whole.Len() > ref.Bytes {
			break
		}
	}
	sum := sha256.Sum256(whole.Bytes())
	if whole.Len() != ref.Bytes || hex.EncodeToString(sum[:]) != ref.SHA256 {
		return nil, &integrityError{fmt.Sprintf("%s: the chunks hold %d bytes with sha256 %s, the reference says %d bytes with sha256 %q (a torn or edited write)",
			what, whole.Len(), hex.EncodeToString(sum[:])[:16], ref.Bytes, ref.SHA256)}
	}
	return whole.Bytes(), nil
}

// marshal encodes v as compact JSON without HTML escaping.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// unmarshalStrict decodes data into v, refusing anything after the value.
func unmarshalStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}
