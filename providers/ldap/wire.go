package ldap

// In-place BER for the user search's responses (see search.go).
//
// go-asn1-ber decodes every LDAP message into a tree of *ber.Packet, with
// each element's bytes copied (io.ReadAll per element, then again into a
// bytes.Buffer) and each value decoded into an interface: ~16 KB and ~200
// objects for a small user entry, most of it garbage as soon as ldapsync
// has copied out the five attributes a mapping needs. This file reads the
// three responses of a search (SearchResultEntry, SearchResultReference,
// SearchResultDone, RFC 4511 4.5.2/4.5.3) straight out of the frame
// buffer: an element is a (tag, content) pair of sub-slices, nothing is
// allocated while walking, and only the wanted values are copied, once.
//
// Bounds, for a hostile or broken server: LDAP uses the definite length
// form only (RFC 4511 5.1), so the indefinite form, lengths over four bytes
// and high tag numbers are refused; a message may not exceed
// maxMessageSize; every element must fit inside its parent and the parent
// must hold nothing after its last element; OCTET STRINGs must be
// primitive. Any violation ends the read with an error naming the message.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// maxMessageSize bounds one LDAP message (one entry). 64 MiB holds any
// real user entry, photos and certificates included, with room to spare,
// while a server announcing a 2 GiB entry cannot make the reader allocate
// it.
const maxMessageSize = 64 << 20

// BER identifier octets used by search responses.
const (
	tagBoolean     = 0x01
	tagInteger     = 0x02
	tagOctetString = 0x04
	tagEnumerated  = 0x0a
	tagSequence    = 0x30
	tagSet         = 0x31
	tagEntry       = 0x64 // [APPLICATION 4] SearchResultEntry
	tagDone        = 0x65 // [APPLICATION 5] SearchResultDone
	tagReference   = 0x73 // [APPLICATION 19] SearchResultReference
	tagExtended    = 0x78 // [APPLICATION 24] ExtendedResponse (unsolicited notification)
	tagIntermed    = 0x79 // [APPLICATION 25] IntermediateResponse
	tagControls    = 0xa0 // [0] Controls
	constructedBit = 0x20
)

var errMalformed = errors.New("malformed BER")

// berLength parses the length octets at b and returns the content length
// and the number of length octets.
func berLength(b []byte) (n, size int, err error) {
	if len(b) == 0 {
		return 0, 0, io.ErrUnexpectedEOF
	}
	l := b[0]
	if l < 0x80 {
		return int(l), 1, nil
	}
	k := int(l & 0x7f)
	if k == 0 || k > 4 {
		return 0, 0, fmt.Errorf("%w: length form 0x%02x", errMalformed, l) // indefinite or over 4 GiB
	}
	if len(b) < 1+k {
		return 0, 0, io.ErrUnexpectedEOF
	}
	for _, c := range b[1 : 1+k] {
		n = n<<8 | int(c)
	}
	return n, 1 + k, nil
}

// element splits the first BER element off b: its identifier octet, its
// content and what follows it.
func element(b []byte) (tag byte, content, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, fmt.Errorf("%w: truncated element", errMalformed)
	}
	tag = b[0]
	if tag&0x1f == 0x1f {
		return 0, nil, nil, fmt.Errorf("%w: high tag number", errMalformed)
	}
	n, size, err := berLength(b[1:])
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("%w: truncated length", errMalformed)
		}
		return 0, nil, nil, err
	}
	start := 1 + size
	if n > len(b)-start {
		return 0, nil, nil, fmt.Errorf("%w: element of %d bytes overruns its parent", errMalformed, n)
	}
	return tag, b[start : start+n], b[start+n:], nil
}

// expect is element that also requires the identifier octet want.
func expect(b []byte, want byte, what string) (content, rest []byte, err error) {
	tag, content, rest, err := element(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	if tag != want {
		return nil, nil, fmt.Errorf("%w: %s has tag 0x%02x, want 0x%02x", errMalformed, what, tag, want)
	}
	return content, rest, nil
}

// berInt decodes a two's-complement INTEGER or ENUMERATED of at most 8 bytes.
func berInt(c []byte) (int64, error) {
	if len(c) == 0 || len(c) > 8 {
		return 0, fmt.Errorf("%w: integer of %d bytes", errMalformed, len(c))
	}
	v := int64(int8(c[0]))
	for _, b := range c[1:] {
		v = v<<8 | int64(b)
	}
	return v, nil
}

// message is one LDAPMessage split in place; the slices point into the
// frame buffer and are valid until the next frame is read.
type message struct {
	id       int64
	op       byte   // protocolOp identifier octet
	body     []byte // protocolOp content
	controls []byte // content of [0] Controls, or nil
}

func parseMessage(b []byte) (message, error) {
	var m message
	idc, rest, err := expect(b, tagInteger, "messageID")
	if err != nil {
		return m, err
	}
	if m.id, err = berInt(idc); err != nil {
		return m, err
	}
	if m.op, m.body, rest, err = element(rest); err != nil {
		return m, fmt.Errorf("protocolOp: %w", err)
	}
	if len(rest) > 0 {
		var tag byte
		if tag, m.controls, rest, err = element(rest); err != nil {
			return m, fmt.Errorf("controls: %w", err)
		}
		if tag != tagControls || len(rest) > 0 {
			return m, fmt.Errorf("%w: 0x%02x after protocolOp", errMalformed, tag)
		}
	}
	return m, nil
}

// ldapResult is a decoded LDAPResult (RFC 4511 4.1.9) without referrals.
type ldapResult struct {
	code       uint16
	matchedDN  string
	diagnostic string
}

func parseResult(b []byte) (ldapResult, error) {
	var r ldapResult
	cc, rest, err := expect(b, tagEnumerated, "resultCode")
	if err != nil {
		return r, err
	}
	code, err := berInt(cc)
	if err != nil {
		return r, err
	}
	if code < 0 || code > 0xffff {
		return r, fmt.Errorf("%w: result code %d", errMalformed, code)
	}
	r.code = uint16(code)
	dn, rest, err := expect(rest, tagOctetString, "matchedDN")
	if err != nil {
		return r, err
	}
	diag, _, err := expect(rest, tagOctetString, "diagnosticMessage")
	if err != nil {
		return r, err
	}
	// An optional [3] Referral (result code 10) and, in an ExtendedResponse,
	// responseName and responseValue may follow; they are not needed.
	r.matchedDN, r.diagnostic = string(dn), string(diag)
	return r, nil
}

// pagingCookie returns the cookie of the paged-results response control
// (RFC 2696) in controls, copied, or nil.
func pagingCookie(controls []byte) ([]byte, error) {
	const pagingOID = "1.2.840.113556.1.4.319"
	for len(controls) > 0 {
		ctl, rest, err := expect(controls, tagSequence, "control")
		if err != nil {
			return nil, err
		}
		controls = rest
		oid, ctl, err := expect(ctl, tagOctetString, "controlType")
		if err != nil {
			return nil, err
		}
		if len(ctl) > 0 && ctl[0] == tagBoolean {
			if _, ctl, err = expect(ctl, tagBoolean, "criticality"); err != nil {
				return nil, err
			}
		}
		if string(oid) != pagingOID {
			continue
		}
		val, _, err := expect(ctl, tagOctetString, "paged results controlValue")
		if err != nil {
			return nil, err
		}
		seq, _, err := expect(val, tagSequence, "paged results value")
		if err != nil {
			return nil, err
		}
		_, seq, err = expect(seq, tagInteger, "paged results size")
		if err != nil {
			return nil, err
		}
		cookie, _, err := expect(seq, tagOctetString, "paged results cookie")
		if err != nil {
			return nil, err
		}
		return append([]byte(nil), cookie...), nil
	}
	return nil, nil
}

// frameReader reads whole LDAP messages from a connection into one reused
// buffer, which grows to the largest message seen (at most maxMessageSize).
type frameReader struct {
	c        net.Conn
	buf      []byte
	r, w     int       // buf[r:w] is read but not yet returned
	deadline time.Time // the read deadline last set on c
}

func newFrameReader(c net.Conn) *frameReader {
	return &frameReader{c: c, buf: make([]byte, 128<<10)}
}

// setDeadline sets the read deadline for the following reads.
func (f *frameReader) setDeadline(t time.Time) error {
	if t.Equal(f.deadline) {
		return nil
	}
	f.deadline = t
	return f.c.SetReadDeadline(t)
}

// fill reads until buf[r:w] holds at least n bytes.
func (f *frameReader) fill(n int) error {
	if n > len(f.buf) {
		nb := make([]byte, max(n, 2*len(f.buf)))
		f.w = copy(nb, f.buf[f.r:f.w])
		f.r, f.buf = 0, nb
	} else if f.r+n > len(f.buf) {
		f.w = copy(f.buf, f.buf[f.r:f.w])
		f.r = 0
	}
	for f.w-f.r < n {
		k, err := f.c.Read(f.buf[f.w:])
		f.w += k
		if err != nil {
			if f.w-f.r >= n {
				return nil
			}
			if errors.Is(err, io.EOF) {
				if f.w > f.r {
					err = io.ErrUnexpectedEOF
				}
			}
			return err
		}
	}
	return nil
}

// next returns the content of the next LDAPMessage SEQUENCE, valid until
// the following call.
func (f *frameReader) next() ([]byte, error) {
	if err := f.fill(2); err != nil {
		return nil, err
	}
	if f.buf[f.r] != tagSequence {
		return nil, fmt.Errorf("%w: message starts with 0x%02x", errMalformed, f.buf[f.r])
	}
	if l := f.buf[f.r+1]; l > 0x80 {
		if err := f.fill(2 + int(l&0x7f)); err != nil {
			return nil, err
		}
	}
	n, size, err := berLength(f.buf[f.r+1 : f.w])
	if err != nil {
		return nil, err
	}
	if n > maxMessageSize {
		return nil, fmt.Errorf("%w: a message of %d bytes exceeds the limit of %d", errMalformed, n, maxMessageSize)
	}
	total := 1 + size + n
	if err := f.fill(total); err != nil {
		return nil, err
	}
	msg := f.buf[f.r+1+size : f.r+total]
	f.r += total
	if f.r == f.w {
		f.r, f.w = 0, 0
	}
	return msg, nil
}
