package ftrack

// Paged reads, several pages in flight. ftrack pages by offset inside the
// expression ("... order by id offset N limit M"), so the offset of every
// page is known in advance and a read need not wait for one page before
// asking for the next: QueryPages keeps up to Client.parallel requests
// ("rounds") in flight, each carrying the next page of every query not yet
// finished, and takes the answers strictly in the order it asked, so the
// caller sees each query's rows in its order, page after page, as a
// sequential read would show them.
//
// Pages overlap by one row: a page of limit M starts at the row the page
// before ended with (stride M-1). That row is the page boundary's witness:
// page k+1 must begin with the very row page k ended with, by order key,
// and only then are the two pages one contiguous stretch of the order. A
// read then returns every row that existed throughout it exactly once:
// page 0 starts at the first row, each verified boundary joins the key
// ranges [first, last) of consecutive pages without gap or overlap, and
// the last page (one the server calls final) runs to the end. Rows
// inserted or deleted during the read may or may not be seen. Offsets
// alone cannot promise that (the sequential read before this one could
// not either): a row removed before the cursor moves every later row one
// place back, and the row that then sits on the boundary was silently
// skipped; a row added there was returned twice. When a boundary does not
// hold, the read fails with ErrChanged instead; QueryMany and
// ReadAccounts, which keep what they read, read again from the start.
//
// How one query's page is taken (offset o, r rows, next the server's
// metadata.next.offset, -1 for null or missing):
//   - after a page that continued, r == 0 or a first row other than the
//     witness is ErrChanged (an empty page after a full one cannot happen
//     in a steady read: the witness is there);
//   - r == 0: the query is done;
//   - next == -1: all r rows are the caller's and the query is done;
//   - r == 1 (a server capping pages at one row): the row is the caller's
//     and the next page starts at o+1, without a witness;
//   - otherwise the first r-1 rows are the caller's, the last is the
//     witness and the next page starts at o+r-1. When r is not M (a server
//     capping pages, or one that names a next offset on its last, short
//     page) the pages already asked for this query start in the wrong
//     place: they are dropped (a new generation) and asking resumes at
//     o+r-1, one page at a time until a page is full again.
//
// Termination: every page taken ends its query or moves the query's
// offset forward by at least one row, a dropped page is never taken, and
// a round whose pages are all dropped or finished is not waited for
// (once every query is done the read returns, cancelling what is still in
// flight). The first round goes alone, so a read of one page costs one
// request; the others go once it showed more pages to come. Failures are
// Call's: every round is retried as a read; a failure ends the read only
// when the round still holds a page that is taken.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// ErrChanged reports that the rows of a paged query moved while they were
// read: a page did not begin where the page before it ended (rows were
// added or removed ahead of the boundary), so rows could have been missed
// or seen twice. Reading again usually succeeds.
var ErrChanged = errors.New("ftrack: the rows changed while they were read page by page")

// changedRetries is how many times QueryMany and ReadAccounts read again
// after ErrChanged.
const changedRetries = 3

// PagedQuery is one query to read completely, page by page.
type PagedQuery struct {
	// Expression is "select ... from Type [where ...]" without order,
	// offset or limit.
	Expression string
	// OrderBy is the stable order for paging (default "id"); its
	// attributes must identify a row.
	OrderBy string
	// flat, when set, decodes this query's pages without building
	// entities (flat.go); fn then never sees this query's rows.
	flat flatDecoder
	// done, when set, is called once the query's last page has been
	// handed over, on the calling goroutine and before any page taken
	// after it; a read that fails may never call it.
	done func()
}

func (q PagedQuery) order() string {
	if q.OrderBy == "" {
		return "id"
	}
	return q.OrderBy
}

// orderAttrs returns the attributes of an order-by clause, without
// asc/desc.
func orderAttrs(order string) []string {
	var out []string
	for _, part := range strings.Split(order, ",") {
		if f := strings.Fields(part); len(f) > 0 {
			out = append(out, f[0])
		}
	}
	return out
}

// orderKey is e's identity in the order of attrs, as flatRow.key gives it.
func orderKey(e Entity, attrs []string) string {
	if len(attrs) == 1 {
		if s, ok := e[attrs[0]].(string); ok {
			return s
		}
	}
	parts := make([]string, len(attrs))
	for i, a := range attrs {
		if s, ok := e[a].(string); ok {
			parts[i] = s
		} else {
			parts[i] = fmt.Sprint(e[a])
		}
	}
	return strings.Join(parts, "\x00")
}

// Query reads every row of expr (paged, ordered by id).
func (c *Client) Query(ctx context.Context, expr string) ([]Entity, error) {
	res, err := c.QueryMany(ctx, PagedQuery{Expression: expr})
	if err != nil {
		return nil, err
	}
	return res[0], nil
}

// QueryMany reads several queries completely, their pages together (see
// QueryPages). When the rows change under the read (ErrChanged) it reads
// again, a few times.
func (c *Client) QueryMany(ctx context.Context, qs ...PagedQuery) ([][]Entity, error) {
	for attempt := 0; ; attempt++ {
		out := make([][]Entity, len(qs))
		err := c.QueryPages(ctx, func(i int, rows []Entity) error {
			out[i] = append(out[i], rows...)
			return nil
		}, qs...)
		if errors.Is(err, ErrChanged) && attempt < changedRetries {
			continue
		}
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

// QueryPages reads several queries completely and hands each page to fn
// as it is taken (i is the query's index in qs; the pages of one query
// come in order, so its rows come in its order): a caller that converts
// rows into its own compact values holds a few pages of decoded entities
// at a time, never a whole site. Each request carries the next page of
// every query not finished yet, and up to the client's MaxConns requests
// are in flight (see the file comment). A query ends when
// metadata.next.offset is null or missing, or a page is empty. An error
// from fn stops the read and is returned; ErrChanged means rows moved
// under the read, after fn has seen some of them. fn is called from the
// calling goroutine only, never after QueryPages returns.
func (c *Client) QueryPages(ctx context.Context, fn func(i int, rows []Entity) error, qs ...PagedQuery) error {
	if len(qs) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	limit := max(c.pageSize, 2)
	p := &pager{c: c, qs: qs, fn: fn, limit: limit, st: make([]queryState, len(qs))}
	for i := range qs {
		p.st[i].attrs = orderAttrs(qs[i].order())
	}
	active := len(qs)
	width := 1
	var window []*round
	for active > 0 {
		for len(window) < width {
			r := &round{done: make(chan struct{})}
			for i := range p.st {
				if q := &p.st[i]; !q.done && !(q.cautious && q.pending > 0) {
					r.ops = append(r.ops, sentPage{q: i, offset: q.ask, gen: q.gen})
					q.ask += limit - 1
					q.pending++
				}
			}
			if len(r.ops) == 0 {
				break
			}
			window = append(window, r)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer close(r.done)
				r.pages, r.err = p.fetch(ctx, r.ops)
			}()
		}
		r := window[0]
		window = window[1:]
		<-r.done
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("ftrack: query: %w", err) // nothing is handed over once ctx is done
		}
		live := false
		for _, op := range r.ops {
			live = live || p.st[op.q].takes(op)
		}
		if !live {
			continue
		}
		if r.err != nil {
			return fmt.Errorf("ftrack: query: %w", r.err)
		}
		for j, op := range r.ops {
			if !p.st[op.q].takes(op) {
				continue
			}
			p.st[op.q].pending--
			if err := p.take(op, r.pages[j]); err != nil {
				return err
			}
			if p.st[op.q].done {
				active--
				if done := qs[op.q].done; done != nil {
					done()
				}
			}
		}
		width = max(c.parallel, 1)
	}
	return nil
}

// pager is one QueryPages read.
type pager struct {
	c     *Client
	qs    []PagedQuery
	fn    func(i int, rows []Entity) error
	limit int
	st    []queryState
}

// queryState is where one query's read stands.
type queryState struct {
	attrs   []string // order-by attributes
	ask     int      // offset of the next page to ask for
	gen     int      // bumped when the pages asked for are dropped
	witness string   // order key the next page taken must begin with
	hasWit  bool
	done    bool
	pending int // pages of generation gen asked for and not taken
	// cautious: the last page was short and yet not the last (a server
	// capping pages, or naming a next offset on its last page), so the
	// next may well be the end: one page at a time until a full one.
	cautious bool
}

// takes reports whether the page op of this query is still wanted.
func (q *queryState) takes(op sentPage) bool { return !q.done && op.gen == q.gen }

// sentPage is one query's page in a round.
type sentPage struct{ q, offset, gen int }

// round is one request: a page of each query, and its answer.
type round struct {
	ops   []sentPage
	done  chan struct{}
	pages []page
	err   error
}

// page is one query's page of a round's answer.
type page struct {
	rows, next  int
	first, last string
	hand        func(n int) error // hands the first n rows over
	err         error             // the page could not be read
}

// fetch sends one round and decodes its answer: in one pass when every
// query has a flat decoder and the answer suits them, else with the
// general decoder.
func (p *pager) fetch(ctx context.Context, ops []sentPage) ([]page, error) {
	batch := make([]Operation, len(ops))
	decs := make([]flatDecoder, len(ops))
	allFlat := !noFlatDecode
	for j, op := range ops {
		q := p.qs[op.q]
		batch[j] = QueryOp(fmt.Sprintf("%s order by %s offset %d limit %d", q.Expression, q.order(), op.offset, p.limit))
		decs[j] = q.flat
		allFlat = allFlat && q.flat != nil
	}
	var flat []flatPage
	var fast func(body []byte) bool
	if allFlat {
		fast = func(body []byte) bool {
			var ok bool
			flat, ok = scanPages(body, decs, min(p.limit, maxRowCap))
			return ok
		}
	}
	raw, err := p.c.read(ctx, batch, fast)
	if err != nil {
		return nil, err
	}
	pages := make([]page, len(ops))
	if raw == nil && flat != nil {
		for j, f := range flat {
			commit := f.commit
			pages[j] = page{rows: f.rows, next: f.next, first: f.first, last: f.last, hand: func(n int) error { commit(n); return nil }}
		}
		return pages, nil
	}
	vals, err := decodeValues(raw)
	if err != nil {
		return nil, err
	}
	for j, op := range ops {
		rows, next, err := queryResult(vals[j])
		if err != nil {
			pages[j].err = fmt.Errorf("ftrack: query %q: %w", p.qs[op.q].Expression, err)
			continue
		}
		pg := page{rows: len(rows), next: next}
		if len(rows) > 0 {
			attrs := p.st[op.q].attrs
			pg.first, pg.last = orderKey(rows[0], attrs), orderKey(rows[len(rows)-1], attrs)
		}
		i := op.q
		pg.hand = func(n int) error {
			if n == 0 {
				return nil
			}
			return p.fn(i, rows[:n])
		}
		pages[j] = pg
	}
	return pages, nil
}

// take applies the rules of the file comment to a page of a query.
func (p *pager) take(op sentPage, pg page) error {
	q := &p.st[op.q]
	expr := p.qs[op.q].Expression
	if pg.err != nil {
		return pg.err
	}
	if q.hasWit && (pg.rows == 0 || pg.first != q.witness) {
		return fmt.Errorf("ftrack: query %q: the page at offset %d does not begin where the page before it ended: %w", expr, op.offset, ErrChanged)
	}
	if pg.rows > 0 && pg.next >= 0 && pg.next <= op.offset {
		return fmt.Errorf("ftrack: query %q: server returned next offset %d after offset %d", expr, pg.next, op.offset)
	}
	resume := func(offset int) {
		q.gen++
		q.ask, q.pending = offset, 0
	}
	q.cautious = pg.rows < p.limit
	switch {
	case pg.rows == 0:
		q.done = true
		return nil
	case pg.next < 0:
		q.done = true
		return pg.hand(pg.rows)
	case pg.rows == 1:
		q.hasWit = false
		resume(op.offset + 1)
		return pg.hand(1)
	}
	q.witness, q.hasWit = pg.last, true
	if pg.rows != p.limit {
		resume(op.offset + pg.rows - 1)
	}
	return pg.hand(pg.rows - 1)
}

// queryResult reads {"action":"query","data":[...],"metadata":{"next":{"offset":N}}};
// next is -1 when there is no next page.
func queryResult(v any) (rows []Entity, next int, err error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, 0, fmt.Errorf("unexpected query result %T", v)
	}
	data, ok := m["data"].([]any)
	if !ok && m["data"] != nil {
		return nil, 0, fmt.Errorf("query result data is %T, not a list", m["data"])
	}
	for _, d := range data {
		e, ok := d.(Entity)
		if !ok {
			mm, isMap := d.(map[string]any)
			if !isMap {
				return nil, 0, fmt.Errorf("query row is %T, not an entity", d)
			}
			e = Entity(mm)
		}
		rows = append(rows, e)
	}
	next = -1
	if md, ok := m["metadata"].(map[string]any); ok {
		if nx, ok := md["next"].(map[string]any); ok {
			if n, ok := nx["offset"].(json.Number); ok {
				if i, err := n.Int64(); err == nil {
					next = int(i)
				}
			}
		}
	}
	return rows, next, nil
}
