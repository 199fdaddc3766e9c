package ldap

// The in-place reader of the user search (Source.Read).
//
// Why: at 100k users, go-ldap's SearchAsync spent most of a read decoding
// BER into *ber.Packet trees (go-asn1-ber allocates ~16 KB and ~200
// objects per entry, about 2 GB per run) and collecting that garbage, then
// convert copied the few wanted values out again. Here go-ldap still dials,
// runs TLS or StartTLS and binds, on a handoffConn (handoff.go); for the
// search, go-ldap's reader is parked and this file writes the paged search
// requests itself and reads the responses from the transport into one
// reused buffer (wire.go), walking each SearchResultEntry in place and
// copying only the wanted values out, once: the DN and every value of an
// entry go into one string, its value lists into one []string.
//
// Pipelining: a producer goroutine reads, decodes and converts; the
// caller's goroutine runs fn. The producer writes the next page's request
// the moment the previous page's SearchResultDone is decoded, before the
// tail of that page is handed over, so the server starts the next page
// while ldapsync maps the last one. Between the two sit at most
// batchQueue batches of batchSize entries (about one page), so memory stays
// bounded by a page whatever fn's speed.
//
// Guarantees, as the go-ldap path (pagedSearch) has them: any result code
// other than success in a SearchResultDone is an error through
// searchError (size limit 4, time limit 3, no such object 32, ...); a
// cookie the server already gave is refused; each page must be complete
// within the source's timeout (time the producer waits for fn does not
// count: that is ldapsync's slowness, not the server's); search result
// references are counted, never followed; a dropped connection, a
// truncated or malformed message and an unsolicited notice of
// disconnection are errors; a cancelled context closes the connection and
// the read reports the cancellation. fn never sees an entry after an error.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/engine"
)

const (
	batchSize  = 100
	batchQueue = 8
	// firstSearchID is the message ID of the first page request; go-ldap's
	// own IDs (bind, StartTLS) count up from 1 and stay far below it.
	firstSearchID = 1 << 24
)

// attrSpec is one attribute the read copies out of every entry.
type attrSpec struct {
	lower     string   // strings.ToLower of the name
	spellings []string // the requested spellings (Attrs keys); none for id or disabled-rule-only attributes
	id        bool     // the stable id attribute
	disabled  bool     // read by the preset's disabled rule
	kind      valueKind
	wire      string // the spelling the server last used, reused as a map key
}

// entryDecoder turns SearchResultEntry bodies into engine.Entry values.
type entryDecoder struct {
	src   *Source
	specs []attrSpec
	// per-entry scratch, reused
	hits      []hit
	spans     []span
	formatted []string
}

// span is where a value's text is in an entry's string, or (start -1)
// its index among the formatted values.
type span struct{ start, end int }

// hit is one attribute of the current entry that a spec wants.
type hit struct {
	spec  int
	name  []byte
	vals  []byte // content of the SET OF values
	count int
}

// newEntryDecoder builds the attribute specs of a read: want maps a
// lower-case name to its requested spellings.
func newEntryDecoder(src *Source, want map[string][]string, idAttr string, disabledAttrs map[string]bool) *entryDecoder {
	d := &entryDecoder{src: src}
	index := map[string]int{}
	spec := func(l string) *attrSpec {
		i, ok := index[l]
		if !ok {
			i = len(d.specs)
			index[l] = i
			d.specs = append(d.specs, attrSpec{lower: l, kind: kindOf(l)})
		}
		return &d.specs[i]
	}
	for _, l := range slices.Sorted(maps.Keys(want)) {
		spec(l).spellings = want[l]
	}
	spec(idAttr).id = true
	for l := range disabledAttrs {
		spec(l).disabled = true
	}
	return d
}

// match returns the spec of attribute name, or -1. Names are compared as
// convert compares them, through strings.ToLower; ASCII names (all of
// them, in practice) without allocating.
func (d *entryDecoder) match(name []byte) int {
	ascii := true
	for _, c := range name {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii {
		l := strings.ToLower(string(name))
		for i := range d.specs {
			if d.specs[i].lower == l {
				return i
			}
		}
		return -1
	}
	for i := range d.specs {
		if equalFoldASCII(name, d.specs[i].lower) {
			return i
		}
	}
	return -1
}

// equalFoldASCII reports whether b, ASCII, lower-cased is l.
func equalFoldASCII(b []byte, l string) bool {
	if len(b) != len(l) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != l[i] {
			return false
		}
	}
	return true
}

// values calls f for every value in the content of a SET OF OCTET STRING.
func values(set []byte, f func([]byte)) error {
	for len(set) > 0 {
		v, rest, err := expect(set, tagOctetString, "attribute value")
		if err != nil {
			return err
		}
		f(v)
		set = rest
	}
	return nil
}

// decode converts one SearchResultEntry body, as convert converts a
// go-ldap *ldap.Entry.
func (d *entryDecoder) decode(body []byte) (engine.Entry, error) {
	dn, rest, err := expect(body, tagOctetString, "objectName")
	if err != nil {
		return engine.Entry{}, err
	}
	attrs, rest, err := expect(rest, tagSequence, "attributes")
	if err != nil {
		return engine.Entry{}, err
	}
	if len(rest) > 0 {
		return engine.Entry{}, fmt.Errorf("%w: data after the attributes", errMalformed)
	}
	// First pass: find the wanted attributes, count their values and the
	// bytes they are copied into.
	d.hits = d.hits[:0]
	size, count := len(dn), 0
	for len(attrs) > 0 {
		pa, more, err := expect(attrs, tagSequence, "PartialAttribute")
		if err != nil {
			return engine.Entry{}, err
		}
		attrs = more
		name, pa, err := expect(pa, tagOctetString, "attribute type")
		if err != nil {
			return engine.Entry{}, err
		}
		set, pa, err := expect(pa, tagSet, "attribute values")
		if err != nil {
			return engine.Entry{}, err
		}
		if len(pa) > 0 {
			return engine.Entry{}, fmt.Errorf("%w: data after attribute values", errMalformed)
		}
		i := d.match(name)
		if i < 0 {
			continue
		}
		h := hit{spec: i, name: name, vals: set}
		if err := values(set, func(v []byte) {
			h.count++
			size += len(v) // an upper bound: a formatted value is not copied
		}); err != nil {
			return engine.Entry{}, err
		}
		count += h.count
		d.hits = append(d.hits, h)
	}

	// Second pass: copy. All raw text goes into one string; all value
	// lists share one backing array (capacity-limited per attribute).
	var sb strings.Builder
	sb.Grow(size)
	sb.Write(dn)
	spans := d.spans[:0]
	formatted := d.formatted[:0]
	k := 0
	for _, h := range d.hits {
		kind := d.specs[h.spec].kind
		_ = values(h.vals, func(v []byte) {
			if s, ok := formatValue(kind, v); ok {
				spans = append(spans, span{-1, len(formatted)})
				formatted = append(formatted, s)
			} else {
				spans = append(spans, span{sb.Len(), sb.Len() + len(v)})
				sb.Write(v)
			}
		})
	}
	d.spans, d.formatted = spans, formatted
	text := sb.String()
	all := make([]string, count)
	for i, sp := range spans {
		if sp.start < 0 {
			all[i] = formatted[sp.end]
		} else {
			all[i] = text[sp.start:sp.end]
		}
	}

	out := engine.Entry{Source: d.src.name, DN: text[:len(dn)], Attrs: make(map[string][]string, len(d.specs))}
	var dis map[string][]string
	k = 0
	for _, h := range d.hits {
		spec := &d.specs[h.spec]
		vals := all[k : k+h.count : k+h.count]
		k += h.count
		for i, sp := range spec.spellings {
			if i == 0 {
				out.Attrs[sp] = vals
			} else {
				out.Attrs[sp] = append([]string(nil), vals...)
			}
		}
		if spec.id && len(vals) > 0 {
			out.StableID = vals[0]
		}
		if spec.disabled {
			if spec.wire != string(h.name) {
				spec.wire = string(h.name)
			}
			if dis == nil {
				dis = map[string][]string{}
			}
			dis[spec.wire] = vals
		}
	}
	s := d.src
	if out.StableID == "" {
		return out, s.errorf("entry %q has no %s (its stable id): check schema/id_attribute and that the bind account may read that attribute", out.DN, s.set.IDAttribute)
	}
	out.Disabled, out.DisabledReason = s.preset.Disabled(dis, s.now())
	return out, nil
}

// searchPacket encodes one page request of a subtree search.
func searchPacket(id int64, base, filter string, attrs []string, paging *ldap.ControlPaging) ([]byte, error) {
	f, err := ldap.CompileFilter(filter)
	if err != nil {
		return nil, err
	}
	env := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Request")
	env.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "MessageID"))
	req := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchRequest, nil, "Search Request")
	req.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, base, "Base DN"))
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, uint64(ldap.ScopeWholeSubtree), "Scope"))
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, uint64(ldap.NeverDerefAliases), "Deref Aliases"))
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, uint64(0), "Size Limit"))
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, uint64(0), "Time Limit"))
	req.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, false, "Types Only"))
	req.AppendChild(f)
	ap := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Attributes")
	for _, a := range attrs {
		ap.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a, "Attribute"))
	}
	req.AppendChild(ap)
	env.AppendChild(req)
	ctrls := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "Controls")
	ctrls.AppendChild(paging.Encode())
	env.AppendChild(ctrls)
	return env.Bytes(), nil
}

// batch is a run of converted entries, or the producer's final error.
type batch struct {
	entries []engine.Entry
	err     error
}

// producer reads the paged search's responses and converts them.
type producer struct {
	s       *Source
	t       net.Conn
	base    string
	filter  string
	attrs   []string
	dec     *entryDecoder
	out     chan<- batch
	free    chan []engine.Entry
	quit    <-chan struct{}
	stats   ReadStats // Entries: converted; read by the consumer after out is closed
	waited  time.Duration
	cur     []engine.Entry
	started time.Time // when the current page was requested
}

// send hands the current batch to the consumer; time spent waiting for it
// is added to the page's time allowance. It returns false on quit.
func (p *producer) send() bool {
	if len(p.cur) == 0 {
		return true
	}
	b := batch{entries: p.cur}
	select {
	case p.out <- b:
	default:
		t0 := time.Now()
		select {
		case p.out <- b:
			p.waited += time.Since(t0)
		case <-p.quit:
			return false
		}
	}
	select {
	case p.cur = <-p.free:
	default:
		p.cur = make([]engine.Entry, 0, batchSize)
	}
	return true
}

// request writes the page request with message ID id.
func (p *producer) request(id int64, paging *ldap.ControlPaging) error {
	pkt, err := searchPacket(id, p.base, p.filter, p.attrs, paging)
	if err != nil {
		return p.s.errorf("search %q: %w", p.base, err)
	}
	p.stats.Pages++
	p.started, p.waited = time.Now(), 0
	_ = p.t.SetWriteDeadline(p.started.Add(p.s.set.Timeout))
	if _, err := p.t.Write(pkt); err != nil {
		return p.netError(err)
	}
	return nil
}

// netError turns a failed read or write into the read's error.
func (p *producer) netError(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return p.s.errorf("search %q: no complete answer within %s (page %d, after %d entries); raise timeout", p.base, p.s.set.Timeout, p.stats.Pages, p.stats.Entries)
	}
	return p.s.searchError(p.base, ldap.NewError(ldap.ErrorNetwork, err), p.stats.Entries)
}

// run is the producer's loop; its error is the read's.
func (p *producer) run() error {
	s := p.s
	paging := ldap.NewControlPaging(uint32(s.set.PageSize))
	seenCookies := map[string]bool{}
	fr := newFrameReader(p.t)
	id := int64(firstSearchID)
	if err := p.request(id, paging); err != nil {
		return err
	}
	p.cur = make([]engine.Entry, 0, batchSize)
	for {
		if err := fr.setDeadline(p.started.Add(s.set.Timeout + p.waited)); err != nil {
			return p.netError(err)
		}
		raw, err := fr.next()
		if err != nil {
			if errors.Is(err, errMalformed) {
				return s.searchError(p.base, ldap.NewError(ldap.ErrorUnexpectedResponse, err), p.stats.Entries)
			}
			return p.netError(err)
		}
		m, err := parseMessage(raw)
		if err == nil && m.id != id {
			if m.id == 0 && m.op == tagExtended {
				err = disconnection(m.body)
			} else {
				err = fmt.Errorf("%w: a response to message %d, want %d", errMalformed, m.id, id)
			}
		}
		if err != nil {
			return s.searchError(p.base, ldap.NewError(ldap.ErrorUnexpectedResponse, err), p.stats.Entries)
		}
		switch m.op {
		case tagEntry:
			e, err := p.dec.decode(m.body)
			if err != nil {
				if errors.Is(err, errMalformed) {
					return s.searchError(p.base, ldap.NewError(ldap.ErrorUnexpectedResponse, err), p.stats.Entries)
				}
				return err
			}
			p.cur = append(p.cur, e)
			p.stats.Entries++
			if len(p.cur) == batchSize && !p.send() {
				return nil
			}
		case tagReference:
			if uri, _, err := expect(m.body, tagOctetString, "reference URI"); err != nil {
				return s.searchError(p.base, ldap.NewError(ldap.ErrorUnexpectedResponse, err), p.stats.Entries)
			} else if len(uri) > 0 {
				p.stats.Referrals++
			}
		case tagIntermed:
		case tagDone:
			res, err := parseResult(m.body)
			var cookie []byte
			if err == nil {
				cookie, err = pagingCookie(m.controls)
			}
			if err != nil {
				return s.searchError(p.base, ldap.NewError(ldap.ErrorUnexpectedResponse, err), p.stats.Entries)
			}
			if res.code != ldap.LDAPResultSuccess {
				return s.searchError(p.base, &ldap.Error{ResultCode: res.code, MatchedDN: res.matchedDN, Err: errors.New(res.diagnostic)}, p.stats.Entries)
			}
			if len(cookie) == 0 {
				p.send()
				return nil
			}
			if seenCookies[string(cookie)] {
				return s.errorf("search %q: the server returned a paged-results cookie it had already given (page %d); refusing to loop", p.base, p.stats.Pages)
			}
			seenCookies[string(cookie)] = true
			paging.SetCookie(cookie)
			id++
			if err := p.request(id, paging); err != nil {
				return err
			}
			if !p.send() {
				return nil
			}
		default:
			return s.searchError(p.base, ldap.NewError(ldap.ErrorUnexpectedResponse, fmt.Errorf("%w: unexpected response 0x%02x to a search", errMalformed, m.op)), p.stats.Entries)
		}
	}
}

// disconnection describes an unsolicited notification (RFC 4511 4.4),
// normally a notice of disconnection.
func disconnection(body []byte) error {
	res, err := parseResult(body)
	if err != nil {
		return err
	}
	return fmt.Errorf("the server sent an unsolicited notification (result code %d, %q) and is closing the connection", res.code, res.diagnostic)
}

// readInPlace runs the user search on the transport that go-ldap bound
// and hands every entry to fn. closeConn closes the connection (go-ldap's,
// and with it the transport).
func (s *Source) readInPlace(ctx context.Context, h *handoffConn, closeConn func(), base, filter string, attrs []string, dec *entryDecoder, fn func(engine.Entry) error) (ReadStats, error) {
	out := make(chan batch, batchQueue)
	quit := make(chan struct{})
	p := &producer{s: s, t: h.hold(), base: base, filter: filter, attrs: attrs, dec: dec, out: out, free: make(chan []engine.Entry, batchQueue+2), quit: quit}
	go func() {
		defer close(out)
		if err := p.run(); err != nil {
			select {
			case out <- batch{err: err}:
			case <-quit:
			}
		}
	}()
	stop := func() {
		close(quit)
		closeConn()
		for range out { // until the producer has ended
		}
	}
	n := 0
	for b := range out {
		if b.err != nil {
			for range out {
			}
			if ctx.Err() != nil {
				return p.stats, s.errorf("search %q cancelled after %d entries: %w", base, n, ctx.Err())
			}
			return p.stats, b.err
		}
		for _, e := range b.entries {
			if ctx.Err() != nil {
				stop()
				return p.stats, s.errorf("search %q cancelled after %d entries: %w", base, n, ctx.Err())
			}
			if err := fn(e); err != nil {
				stop()
				return p.stats, err
			}
			n++
		}
		clear(b.entries)
		select {
		case p.free <- b.entries[:0]:
		default:
		}
	}
	if ctx.Err() != nil {
		return p.stats, s.errorf("search %q cancelled after %d entries: %w", base, n, ctx.Err())
	}
	st := p.stats
	st.Entries = n
	return st, nil
}
