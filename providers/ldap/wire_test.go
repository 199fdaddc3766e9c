package ldap

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// entryPacket encodes a SearchResultEntry message with go-asn1-ber.
func entryPacket(dn string, attrs ...[]string) *ber.Packet {
	env := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	env.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, int64(7), ""))
	e := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 4, nil, "")
	e.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, dn, ""))
	as := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	for _, a := range attrs {
		pa := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
		pa.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a[0], ""))
		set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "")
		for _, v := range a[1:] {
			set.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, v, ""))
		}
		pa.AppendChild(set)
		as.AppendChild(pa)
	}
	e.AppendChild(as)
	env.AppendChild(e)
	return env
}

// pipeReader returns a frameReader over the bytes b, then EOF.
func pipeReader(t *testing.T, b []byte) *frameReader {
	c1, c2 := net.Pipe()
	t.Cleanup(func() { c1.Close(); c2.Close() })
	go func() { _, _ = c2.Write(b); c2.Close() }()
	return newFrameReader(c1)
}

func testDecoder(t *testing.T) *entryDecoder {
	src, err := New("t", Settings{URL: "ldap://127.0.0.1:389", BaseDN: "dc=x", Schema: "openldap", IDAttribute: "uid"})
	if err != nil {
		t.Fatal(err)
	}
	return newEntryDecoder(src, map[string][]string{"cn": {"cn", "CN"}, "mail": {"mail"}}, "uid", map[string]bool{"pwdaccountlockedtime": true})
}

func TestDecodeEntry(t *testing.T) {
	pkt := entryPacket("uid=a,dc=x", []string{"UID", "a"}, []string{"cn", "A", "Ä"}, []string{"sn", "ignored"}, []string{"mail"},
		[]string{"pwdAccountLockedTime", "000001010000Z"})
	raw := pkt.Bytes()
	fr := pipeReader(t, append(append([]byte(nil), raw...), raw...))
	d := testDecoder(t)
	for range 2 { // twice: the scratch state is reused
		msg, err := fr.next()
		if err != nil {
			t.Fatal(err)
		}
		m, err := parseMessage(msg)
		if err != nil || m.id != 7 || m.op != tagEntry {
			t.Fatalf("parseMessage = %+v, %v", m, err)
		}
		e, err := d.decode(m.body)
		if err != nil {
			t.Fatal(err)
		}
		if e.DN != "uid=a,dc=x" || e.StableID != "a" || !e.Disabled || len(e.Attrs) != 3 ||
			strings.Join(e.Attrs["cn"], "|") != "A|Ä" || strings.Join(e.Attrs["CN"], "|") != "A|Ä" || e.Attrs["mail"] == nil || len(e.Attrs["mail"]) != 0 {
			t.Errorf("decoded %+v", e)
		}
		// The spellings do not share a backing array.
		e.Attrs["cn"][0] = "changed"
		if e.Attrs["CN"][0] != "A" {
			t.Error("spellings share their values")
		}
	}
	if _, err := fr.next(); !errors.Is(err, io.EOF) {
		t.Errorf("after the last message: %v", err)
	}
}

func TestWireRefusesMalformed(t *testing.T) {
	good := entryPacket("uid=a,dc=x", []string{"uid", "a"}).Bytes()
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"indefinite length", []byte{0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00}, "length form 0x80"},
		{"five length octets", []byte{0x30, 0x85, 1, 0, 0, 0, 0}, "length form 0x85"},
		{"over the message limit", []byte{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff}, "exceeds the limit"},
		{"not a SEQUENCE", []byte{0x31, 0x00}, "message starts with 0x31"},
		{"truncated", good[:len(good)-3], io.ErrUnexpectedEOF.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pipeReader(t, tc.b).next()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}

	d := testDecoder(t)
	body := func(b []byte) []byte { // the protocolOp content of a good message
		m, err := parseMessage(b[2:])
		if err != nil {
			t.Fatal(err)
		}
		return m.body
	}
	for _, tc := range []struct {
		name string
		edit func([]byte) []byte
	}{
		{"element overruns its parent", func(b []byte) []byte { b[1] += 10; return b }},
		{"value is constructed", func(b []byte) []byte { return bytes.Replace(b, []byte{0x04, 0x01, 'a'}, []byte{0x24, 0x01, 'a'}, 1) }},
		{"high tag number", func(b []byte) []byte { b[0] = 0x1f; return b }},
		{"data after the attributes", func(b []byte) []byte { return append(b, 0x04, 0x00) }},
		{"empty", func([]byte) []byte { return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.edit(append([]byte(nil), body(good)...))
			if _, err := d.decode(b); !errors.Is(err, errMalformed) {
				t.Errorf("err = %v, want a malformed-BER error", err)
			}
		})
	}
	// Every truncation of a good entry is an error, never a panic.
	b := body(entryPacket("uid=a,dc=x", []string{"uid", "a"}, []string{"cn", "x", "y"}).Bytes())
	for i := range b {
		if _, err := d.decode(b[:i]); err == nil {
			t.Errorf("truncated to %d of %d bytes: no error", i, len(b))
		}
	}
}

func TestPagingCookie(t *testing.T) {
	ctl := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "")
	other := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	other.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "1.2.3", ""))
	other.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, true, ""))
	ctl.AppendChild(other)
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	p.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "1.2.840.113556.1.4.319", ""))
	v := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	v.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, int64(0), ""))
	v.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "\x00cookie\xff", ""))
	p.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, string(v.Bytes()), ""))
	ctl.AppendChild(p)
	_, content, _, err := element(ctl.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	c, err := pagingCookie(content)
	if err != nil || string(c) != "\x00cookie\xff" {
		t.Errorf("cookie = %q, %v", c, err)
	}
}
