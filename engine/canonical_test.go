package engine

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// canonicalSeeds are JSON objects that exercise every path of canonical:
// escapes, non-ASCII, U+2028, invalid UTF-8, repeated and escaped keys,
// numbers as written, nesting, whitespace, and a nested checksum (kept).
var canonicalSeeds = []string{
	`{}`,
	` { "b" : 1 , "a" : [ 1 , 2.50 , -0 , 1e5 , true , false , null ] } `,
	`{"checksum":"x","signature":"y","z":{"checksum":"kept","signature":"kept"}}`,
	`{"k":"tab\there \"q\" back\\slash \/ \u00e9 é \u2028 \u2029 ` + "\u2028" + ` <&> \b\f\n\r \u0001"}`,
	`{"a":1,"a":2,"\u0061":3,"b":{"x":[],"x":{}}}`,
	`{"emoji":"😀","esc":"\ud83d\ude00","lone":"\ud800","keys":{"é":1,"e":2,"\u00e9x":3,"Z":4}}`,
	"{\"bad\":\"\xff\xfe\",\"\xffkey\":1}",
	`{"n":[[[]],[{}],{"a":[{"b":"c"}]}],"s":"","e":"\u0000"}`,
}

func TestCanonicalMatchesGeneric(t *testing.T) {
	docs := append([]string(nil), canonicalSeeds...)
	golden, _ := filepath.Glob(filepath.Join("testdata", "*.plan.json"))
	if len(golden) == 0 {
		t.Fatal("no golden plans in testdata")
	}
	for _, path := range golden {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(data))
	}
	srcs, tgt := benchWorld(300)
	p, err := BuildPlan(context.Background(), planReq(srcs, &fakeMapper{name: "users", groups: true}, tgt, DefaultPolicy()))
	if err != nil {
		t.Fatal(err)
	}
	p.Changes[0].Reason = "quote \" backslash \\ <tag> & \u2028 \x01 é 😀"
	data, err := MarshalPlan(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, string(data))
	for _, d := range docs {
		want, err := canonicalGeneric([]byte(d))
		if err != nil {
			t.Fatalf("generic canonical form of %.80q: %v", d, err)
		}
		got, err := canonical([]byte(d))
		if err != nil {
			t.Fatalf("canonical form of %.80q: %v", d, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("canonical form of %.200q\n got %.300q\nwant %.300q", d, got, want)
		}
	}
	for _, bad := range []string{``, `[]`, `{"a":1} x`, `{"a":}`} {
		if _, err := canonical([]byte(bad)); err == nil {
			t.Errorf("canonical(%q) succeeded", bad)
		}
	}
}

// FuzzCanonical checks canonical against its definition on any input
// (go test -fuzz FuzzCanonical ./engine; plain go test runs the seeds).
func FuzzCanonical(f *testing.F) {
	for _, s := range canonicalSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, werr := canonicalGeneric(data)
		got, gerr := canonical(data)
		if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("canonical(%q) = %q, %v; generic %q, %v", data, got, gerr, want, werr)
		}
	})
}

// BenchmarkUnmarshalPlan10kCreates verifies and reads a plan of 10,000
// creates, what apply does first.
func BenchmarkUnmarshalPlan10kCreates(b *testing.B) {
	srcs, _ := benchWorld(10000)
	p, err := BuildPlan(context.Background(), planReq(srcs, &fakeMapper{name: "users", groups: true}, newTarget(), DefaultPolicy()))
	if err != nil || p.Summary.Create != 10000 {
		b.Fatalf("%v %+v", err, p.Summary)
	}
	data, err := MarshalPlan(p, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.Run("canonical", func(b *testing.B) {
		for b.Loop() {
			if _, err := canonical(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("generic", func(b *testing.B) {
		for b.Loop() {
			if _, err := canonicalGeneric(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("UnmarshalPlan", func(b *testing.B) {
		for b.Loop() {
			if _, err := UnmarshalPlan(data, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
