package ftracktest

// Appending JSON by hand, for the answers written straight from stored
// rows (createdRow, flatResult): the bytes are those writeResults' encoder writes
// (no HTML escaping, invalid UTF-8 replaced), without its token-by-token
// checks, which cost more than the writing.

import (
	"math"
	"net/http"
	"strconv"
	"sync"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// jsonAppender is a batch result that appends its own JSON encoding.
type jsonAppender interface {
	appendJSON(dst []byte) []byte
}

// resultOptions are the options writeResults encodes results with.
var resultOptions = jsonv2.JoinOptions(jsontext.EscapeForHTML(false), jsontext.AllowInvalidUTF8(true))

// appendJSONString appends s quoted as writeResults' encoder quotes it.
// jsontext.AppendQuote escapes alike (neither HTML nor JavaScript
// characters); it reports invalid UTF-8, which it has replaced as the
// encoder does when allowed, so the error is of no use here.
func appendJSONString(dst []byte, s string) []byte {
	dst, _ = jsontext.AppendQuote(dst, s)
	return dst
}

// appendValue appends encodeValue(p, v) as writeResults' encoder writes
// it: the scalars of stored rows by hand, anything else through the
// encoder.
func appendValue(dst []byte, p property, v any) []byte {
	switch t := v.(type) {
	case nil:
		return append(dst, "null"...)
	case bool:
		return strconv.AppendBool(dst, t)
	case string:
		if p.Format != "date-time" && p.Format != "date" {
			return appendJSONString(dst, t)
		}
	case float64:
		if !math.IsNaN(t) && !math.IsInf(t, 0) {
			return appendFloat(dst, t)
		}
	}
	b, _ := jsonv2.Marshal(encodeValue(p, v), resultOptions)
	return append(dst, b...)
}

// appendFloat appends f as go-json-experiment/json writes a float64
// (its internal jsonwire.AppendFloat): the shortest decimal that reads
// back as f, in exponent form below 1e-6 and from 1e21 on, with no
// leading zero in a negative exponent.
func appendFloat(dst []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if n := len(dst); format == 'e' && n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
		dst[n-2] = dst[n-1] // e-09 -> e-9
		dst = dst[:n-1]
	}
	return dst
}

// resultBuffers recycles the buffers writeResults appends answers in.
var resultBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBuffer is the largest buffer put back in resultBuffers, so
// that one huge answer is not kept for good.
const maxPooledBuffer = 4 << 20

// writeResults answers a batch's results: each one that appends its own
// JSON (a create's answer, a flat query page, written straight from the
// stored rows) appends itself, the others (rows and plain values: maps,
// lists, strings, numbers) are encoded one by one, without sorting each
// row's members: a client reads them by name, and sorting was most of
// encoding a batch of creates.
func writeResults(w http.ResponseWriter, results []any) {
	bp := resultBuffers.Get().(*[]byte)
	buf := append((*bp)[:0], '[')
	for i, r := range results {
		if i > 0 {
			buf = append(buf, ',')
		}
		if a, ok := r.(jsonAppender); ok {
			buf = a.appendJSON(buf)
			continue
		}
		b, _ := jsonv2.Marshal(r, resultOptions)
		buf = append(buf, b...)
	}
	buf = append(buf, "]\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf)
	if cap(buf) <= maxPooledBuffer {
		*bp = buf
		resultBuffers.Put(bp)
	}
}
