package ftrack

// Response buffers of paged reads. io.ReadAll grows a fresh slice for
// every answer, doubling from 512 bytes: a 100k-user ReadAccounts took
// some 200 MB of garbage per read that way, half the client's
// allocation, and every byte of it was garbage the collector had to
// pay for once the page was scanned. A read whose answer the flat
// scanner takes keeps nothing of the body (every value it keeps is
// copied out), so its buffer goes back to a pool for the next page. A
// body that goes on to the general decoder is aliased by the
// json.RawMessage elements it is split into and is never pooled.

import (
	"bytes"
	"io"
	"sync"
)

// maxPooledBody is the largest buffer kept for reuse: a rare huge
// answer is left to the collector rather than held for good.
const maxPooledBody = 8 << 20

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// pooledBody reads r (at most limit+1 bytes) into a buffer from the pool.
// The bytes are valid until release, which the caller may skip (the
// buffer is then the collector's).
func pooledBody(r io.Reader, limit int64) (data []byte, release func(), err error) {
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	_, err = buf.ReadFrom(io.LimitReader(r, limit+1))
	release = func() {
		if buf.Cap() <= maxPooledBody {
			bodyPool.Put(buf)
		}
	}
	return buf.Bytes(), release, err
}
