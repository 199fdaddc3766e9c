package config

// A config digest over meaning.
//
// Why: apply refuses a plan whose config_digest differs from the
// configuration on disk now (engine/applicable.go). A digest over the
// file's bytes made a comment, a blank line or an `ldapsync fmt` run
// invalidate an approved plan, which teaches people to re-plan without
// reading, the opposite of the point. So the digest is sha256 over a
// canonical rendering of what the file means, not of how it is written.
//
// Covered (any change gives another digest): every attribute name and
// value expression, every block type and label, blocks added or removed,
// which body an attribute or block sits in, variable defaults, the text
// of strings, templates and heredocs (as the strings they denote), the
// operators, references, function calls and for expressions of every
// expression. For the YAML format: every key, scalar (its resolved tag
// and value), sequence element order, anchor and alias.
//
// Not covered (no change to the digest):
//   - the state block: where the last-applied state is kept (see
//     withoutStateBlocks);
//   - comments (#, //, /* */) and whitespace, newlines, indentation and
//     alignment, so `ldapsync fmt` output has the digest of its input;
//   - the order of attributes within a body (HCL forbids repeating one,
//     so order cannot matter) and the order of blocks within a body. No
//     block of this language means something different when moved: the
//     loader keys variable, source, mapping and groups blocks by name,
//     target, policy and state are single, and the mapping's source
//     precedence is its `source` list (an expression, order kept), never
//     the file order of source blocks. Groups blocks are applied as a
//     union of memberships (engine/groups.go); their order only orders
//     warnings. Should a block type ever appear whose repetition order
//     matters, it must be rendered in order here;
//   - spellings of one value: "a" and "\u0061" (HCL makes both the same
//     string, and cty strings are NFC-normalised), a heredoc and a quoted
//     string with the same text, 1 and 1.0 and 1e0 (HCL numbers are
//     arbitrary-precision decimals, with no integer or float kind), a
//     bare object key and the same key quoted, YAML 'x' and "x" and x;
//   - what the file refers to but does not contain: -var, -var-file and
//     LDAPSYNC_VAR_* values, env() and file() results. Deliberately: they
//     are per-run inputs (often secrets, and the digest is printed in
//     plans and logs, so it must not be an oracle for guessing them), and
//     apply does not trust the plan for them: it loads the configuration
//     with its own values, refuses a plan made for another target
//     (TargetInfo), judges the changes with the policy evaluated now and,
//     with -verify-source, re-derives from the directory every change the
//     configuration makes now and refuses the others. A plan made with
//     -var x=1 and applied with -var x=2 is therefore judged by x=2.
//
// Conservative on purpose: some rewrites that keep the meaning still
// change the digest (parentheses, renaming a for expression's variable,
// reordering the items of an object constructor, `"${"a"}"` for "a",
// YAML 010 for 10). A false "changed" costs a re-plan; a false
// "unchanged" would let an unreviewed configuration apply.
//
// A file that does not parse (or fails the size and nesting bounds)
// gets the digest of its bytes: it cannot make a plan anyway.

import (
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
	"gopkg.in/yaml.v3"
)

// digestVersion starts every canonical rendering, so that a later change
// of the rendering cannot give an old digest to a new meaning.
const digestVersion = "ldapsync-config-digest/1"

// hclDigest digests HCL source by meaning (see the top of this file):
// "sha256:<hex>" like Digest. loadHCL digests the body it parses with
// hclBodyDigest instead, rather than parse the file twice.
func hclDigest(name string, src []byte) string {
	if checkSource(name, src) != nil {
		return Digest(src)
	}
	file, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		return Digest(src)
	}
	return hclBodyDigest(file.Body, src)
}

// hclBodyDigest digests the body parsed, without errors, from src.
func hclBodyDigest(b hcl.Body, src []byte) string {
	body, ok := b.(*hclsyntax.Body)
	if !ok {
		return Digest(src)
	}
	c := &canon{src: src}
	c.put(digestVersion + " hcl\n")
	c.body(withoutStateBlocks(body))
	return Digest([]byte(c.b.String()))
}

// withoutStateBlocks is the top-level body without its state block: where
// the state is kept says nothing about what a plan does, and a plan names
// the state it was made against by lineage and serial, which apply checks
// in whichever backend it finds. So `ldapsync state migrate` and the
// switch to the new state block do not invalidate an approved plan.
func withoutStateBlocks(b *hclsyntax.Body) *hclsyntax.Body {
	out := *b
	out.Blocks = nil
	for _, blk := range b.Blocks {
		if blk.Type != "state" {
			out.Blocks = append(out.Blocks, blk)
		}
	}
	return &out
}

// canon renders HCL syntax canonically into b; src is the parsed source,
// for the token fallback of an expression type it does not know.
type canon struct {
	b   strings.Builder
	src []byte
}

func (c *canon) put(parts ...string) {
	for _, p := range parts {
		c.b.WriteString(p)
	}
}

// sub renders with f into a fresh canon and returns the text.
func (c *canon) sub(f func(*canon)) string {
	s := &canon{src: c.src}
	f(s)
	return s.b.String()
}

// body renders attributes sorted by name, then blocks sorted by their
// rendering: neither order means anything in this language.
func (c *canon) body(b *hclsyntax.Body) {
	c.put("{")
	for _, name := range sortedKeys(b.Attributes) {
		c.put("attr(", strconv.Quote(name), ",")
		c.expr(b.Attributes[name].Expr)
		c.put(");")
	}
	blocks := make([]string, len(b.Blocks))
	for i, blk := range b.Blocks {
		blocks[i] = c.sub(func(s *canon) { s.block(blk) })
	}
	sort.Strings(blocks)
	for _, s := range blocks {
		c.put(s, ";")
	}
	c.put("}")
}

func (c *canon) block(b *hclsyntax.Block) {
	c.put("block(", strconv.Quote(b.Type))
	for _, l := range b.Labels {
		c.put(",", strconv.Quote(l))
	}
	c.put(")")
	c.body(b.Body)
}

// list renders exprs separated by commas.
func (c *canon) list(exprs []hclsyntax.Expression) {
	for i, e := range exprs {
		if i > 0 {
			c.put(",")
		}
		c.expr(e)
	}
}

// wrap renders tag(e1,e2,...); a nil expression renders as "-".
func (c *canon) wrap(tag string, exprs ...hclsyntax.Expression) {
	c.put(tag, "(")
	for i, e := range exprs {
		if i > 0 {
			c.put(",")
		}
		if e == nil {
			c.put("-")
			continue
		}
		c.expr(e)
	}
	c.put(")")
}

// expr renders one expression in prefix form: every node is tag(...), so
// two different trees never render alike.
func (c *canon) expr(e hclsyntax.Expression) {
	switch e := e.(type) {
	case *hclsyntax.LiteralValueExpr:
		c.put(value(e.Val))
	case *hclsyntax.TemplateExpr:
		c.template(e)
	case *hclsyntax.TemplateWrapExpr:
		c.wrap("wrap", e.Wrapped)
	case *hclsyntax.TemplateJoinExpr:
		c.wrap("join", e.Tuple)
	case *hclsyntax.ParenthesesExpr:
		c.wrap("paren", e.Expression)
	case *hclsyntax.ScopeTraversalExpr:
		c.put("ref(", traversal(e.Traversal), ")")
	case *hclsyntax.RelativeTraversalExpr:
		c.put("rel(")
		c.expr(e.Source)
		c.put(",", traversal(e.Traversal), ")")
	case *hclsyntax.FunctionCallExpr:
		c.call(e)
	case *hclsyntax.ConditionalExpr:
		c.wrap("cond", e.Condition, e.TrueResult, e.FalseResult)
	case *hclsyntax.IndexExpr:
		c.wrap("index", e.Collection, e.Key)
	case *hclsyntax.TupleConsExpr:
		c.put("tuple(")
		c.list(e.Exprs)
		c.put(")")
	case *hclsyntax.ObjectConsExpr:
		c.object(e)
	case *hclsyntax.ObjectConsKeyExpr:
		c.objectKey(e)
	case *hclsyntax.ForExpr:
		c.forExpr(e)
	case *hclsyntax.SplatExpr:
		c.wrap("splat", e.Source, e.Each)
	case *hclsyntax.AnonSymbolExpr:
		c.put("anon")
	case *hclsyntax.BinaryOpExpr:
		c.operation("op2", e.Op, e, e.LHS, e.RHS)
	case *hclsyntax.UnaryOpExpr:
		c.operation("op1", e.Op, e, e.Val)
	default:
		c.tokens(e)
	}
}

// template renders a template with adjacent literal strings joined; a
// template of literal text only is the string it denotes, so a quoted
// string and a heredoc with the same text render alike.
func (c *canon) template(e *hclsyntax.TemplateExpr) {
	var parts []string
	var lit strings.Builder
	pending := false
	flush := func() {
		if pending {
			parts = append(parts, value(cty.StringVal(lit.String())))
			lit.Reset()
			pending = false
		}
	}
	for _, p := range e.Parts {
		if s, ok := literalString(p); ok {
			lit.WriteString(s)
			pending = true
			continue
		}
		flush()
		parts = append(parts, c.sub(func(s *canon) { s.expr(p) }))
	}
	flush()
	switch {
	case len(parts) == 0:
		c.put(value(cty.StringVal("")))
	case len(parts) == 1 && allLiteral(e.Parts):
		c.put(parts[0])
	default:
		c.put("tmpl(", strings.Join(parts, ","), ")")
	}
}

// literalString returns the text of a known string literal.
func literalString(e hclsyntax.Expression) (string, bool) {
	l, ok := e.(*hclsyntax.LiteralValueExpr)
	if !ok || l.Val.IsNull() || !l.Val.IsKnown() || l.Val.Type() != cty.String {
		return "", false
	}
	return l.Val.AsString(), true
}

func allLiteral(parts []hclsyntax.Expression) bool {
	for _, p := range parts {
		if _, ok := literalString(p); !ok {
			return false
		}
	}
	return true
}

func (c *canon) call(e *hclsyntax.FunctionCallExpr) {
	c.put("call(", strconv.Quote(e.Name))
	for _, a := range e.Args {
		c.put(",")
		c.expr(a)
	}
	if e.ExpandFinal {
		c.put(",...")
	}
	c.put(")")
}

// object renders the items in written order: with computed keys, a
// repeated key's winner depends on it.
func (c *canon) object(e *hclsyntax.ObjectConsExpr) {
	c.put("object(")
	for i, it := range e.Items {
		if i > 0 {
			c.put(",")
		}
		c.expr(it.KeyExpr)
		c.put(":")
		c.expr(it.ValueExpr)
	}
	c.put(")")
}

// objectKey renders a key as hcl evaluates it: a bare name (a = 1) is the
// string "a", as if quoted; a parenthesised key is an expression.
func (c *canon) objectKey(e *hclsyntax.ObjectConsKeyExpr) {
	if !e.ForceNonLiteral {
		if t, ok := e.Wrapped.(*hclsyntax.ScopeTraversalExpr); !ok || len(t.Traversal) == 1 {
			if name := hcl.ExprAsKeyword(e.Wrapped); name != "" {
				c.put("key(", value(cty.StringVal(name)), ")")
				return
			}
		}
	}
	c.put("key(")
	if e.ForceNonLiteral {
		c.put("!")
	}
	c.expr(e.Wrapped)
	c.put(")")
}

func (c *canon) forExpr(e *hclsyntax.ForExpr) {
	c.put("for(", strconv.Quote(e.KeyVar), ",", strconv.Quote(e.ValVar), ",", strconv.FormatBool(e.Group), ",")
	c.wrap("in", e.CollExpr, e.KeyExpr, e.ValExpr, e.CondExpr)
	c.put(")")
}

// operation renders an operator by name; an operator this code does not
// know falls back to the expression's tokens.
func (c *canon) operation(tag string, op *hclsyntax.Operation, e hclsyntax.Expression, operands ...hclsyntax.Expression) {
	name, ok := opNames[op]
	if !ok {
		c.tokens(e)
		return
	}
	c.wrap(tag+name, operands...)
}

var opNames = map[*hclsyntax.Operation]string{
	hclsyntax.OpLogicalOr: "||", hclsyntax.OpLogicalAnd: "&&", hclsyntax.OpLogicalNot: "!",
	hclsyntax.OpEqual: "==", hclsyntax.OpNotEqual: "!=",
	hclsyntax.OpGreaterThan: ">", hclsyntax.OpGreaterThanOrEqual: ">=",
	hclsyntax.OpLessThan: "<", hclsyntax.OpLessThanOrEqual: "<=",
	hclsyntax.OpAdd: "+", hclsyntax.OpSubtract: "-", hclsyntax.OpMultiply: "*",
	hclsyntax.OpDivide: "/", hclsyntax.OpModulo: "%", hclsyntax.OpNegate: "neg",
}

// tokens renders an expression of a kind this code does not know (a
// newer hcl) as its tokens without comments and newlines: still blind to
// formatting, never blind to a change.
func (c *canon) tokens(e hclsyntax.Expression) {
	rng := e.Range()
	c.put("tokens(")
	if rng.Start.Byte < 0 || rng.End.Byte > len(c.src) || rng.Start.Byte > rng.End.Byte {
		c.put(strconv.Quote("?"), ")")
		return
	}
	toks, _ := hclsyntax.LexExpression(c.src[rng.Start.Byte:rng.End.Byte], rng.Filename, rng.Start)
	for _, t := range toks {
		if t.Type == hclsyntax.TokenComment || t.Type == hclsyntax.TokenNewline || t.Type == hclsyntax.TokenEOF {
			continue
		}
		c.put(strconv.Itoa(int(t.Type)), strconv.Quote(string(t.Bytes)), " ")
	}
	c.put(")")
}

// traversal renders a reference: var.x, entry["mail"], a[0], a.*.
func traversal(t hcl.Traversal) string {
	var b strings.Builder
	for _, step := range t {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			b.WriteString(strconv.Quote(s.Name))
		case hcl.TraverseAttr:
			b.WriteString("." + strconv.Quote(s.Name))
		case hcl.TraverseIndex:
			b.WriteString("[" + value(s.Key) + "]")
		case hcl.TraverseSplat:
			b.WriteString(".*")
		default:
			b.WriteString("?")
		}
	}
	return b.String()
}

// value renders a literal value by what it is, not how it was written:
// strings quoted after HCL's unescaping, numbers in their shortest exact
// decimal form.
func value(v cty.Value) string {
	switch {
	case !v.IsKnown():
		return "unknown"
	case v.IsNull():
		return "null"
	case v.Type() == cty.String:
		return "s" + strconv.Quote(v.AsString())
	case v.Type() == cty.Number:
		return "n" + v.AsBigFloat().Text('g', -1)
	case v.Type() == cty.Bool:
		return strconv.FormatBool(v.True())
	}
	j, err := ctyjson.Marshal(v, cty.DynamicPseudoType)
	if err != nil {
		return "v" + strconv.Quote(v.GoString())
	}
	return "j" + string(j)
}

// yamlDigest digests the seed YAML by its document: mapping keys sorted,
// comments, styles and quoting left out, each scalar its resolved tag and
// value (the loader reads both).
func yamlDigest(src []byte) string {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return Digest(src)
	}
	return yamlDocDigest(&doc)
}

// yamlDocDigest digests a document unmarshalled without error.
func yamlDocDigest(doc *yaml.Node) string {
	var b strings.Builder
	b.WriteString(digestVersion + " yaml\n")
	b.WriteString(yamlCanon(doc))
	return Digest([]byte(b.String()))
}

// yamlCanon renders one YAML node canonically.
func yamlCanon(n *yaml.Node) string {
	anchor := ""
	if n.Anchor != "" {
		anchor = "&" + strconv.Quote(n.Anchor)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		return "doc(" + yamlSeq(n.Content) + ")"
	case yaml.SequenceNode:
		return anchor + "seq(" + yamlSeq(n.Content) + ")"
	case yaml.MappingNode:
		return anchor + "map(" + yamlMap(n.Content) + ")"
	case yaml.ScalarNode:
		return anchor + strconv.Quote(n.ShortTag()) + strconv.Quote(n.Value)
	case yaml.AliasNode:
		return "*" + strconv.Quote(n.Value)
	}
	return "empty"
}

func yamlSeq(nodes []*yaml.Node) string {
	parts := make([]string, len(nodes))
	for i, n := range nodes {
		parts[i] = yamlCanon(n)
	}
	return strings.Join(parts, ",")
}

// yamlMap renders key: value pairs sorted; the seed format refuses a
// repeated key, so order means nothing.
func yamlMap(nodes []*yaml.Node) string {
	var pairs []string
	for i := 0; i+1 < len(nodes); i += 2 {
		pairs = append(pairs, yamlCanon(nodes[i])+":"+yamlCanon(nodes[i+1]))
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}
