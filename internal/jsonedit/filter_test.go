package jsonedit

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// The reference for Filter: Rewrite with two visitors composed as the
// response stages composed them before Filter (contract's visitor first,
// then the inspection with its gates), written from the rules Filter's
// doc states.

type refCtx struct {
	shape *Shape
	tag   any
	depth int
}

type refVisitor struct {
	f   *Filter // its Shape, Undeclared, Limit, Inspector, Gate, MinScalar; results go here
	ptr Pointer
}

func (v *refVisitor) Member(parent refCtx, name []byte) (refCtx, Action) {
	child := refCtx{depth: parent.depth + 1}
	v.ptr.Name(parent.depth, name)
	if s := parent.shape; s != nil {
		if sub, ok := s.Props[string(name)]; ok {
			child.shape = sub
		} else if s.Extra != nil || !s.Closed {
			child.shape = s.Extra
		} else {
			f := v.f
			f.Count++
			if f.Named < f.Limit {
				if f.Named > 0 {
					f.Reported = append(f.Reported, ", "...)
				}
				f.Reported = v.ptr.Append(f.Reported, parent.depth)
				if f.Named == 0 {
					f.First = len(f.Reported)
				}
				f.Named++
			}
			if f.Undeclared == Stop {
				f.Stopped = true
			}
			if f.Undeclared != Keep {
				return refCtx{}, f.Undeclared
			}
		}
	}
	if parent.tag != nil {
		child.tag = parent.tag
		return child, Keep
	}
	if v.f.Inspector != nil && v.f.Gate != nil && v.f.Gate.May(name) {
		tag, act := v.f.Inspector.Member(&v.ptr, parent.depth, name)
		if act != Keep {
			return refCtx{}, act
		}
		child.tag = tag
	}
	return child, Keep
}

func (v *refVisitor) Element(parent refCtx, i int) (refCtx, Action) {
	v.ptr.Index(parent.depth, i)
	child := refCtx{tag: parent.tag, depth: parent.depth + 1}
	if parent.shape != nil {
		child.shape = parent.shape.Items
	}
	return child, Keep
}

func (v *refVisitor) Scalar(ctx refCtx, k Kind, raw []byte) ([]byte, Action) {
	if v.f.Inspector == nil || ctx.tag == nil && (len(raw) < v.f.MinScalar || k == String && len(raw) < v.f.MinScalar+2) {
		return nil, Keep
	}
	return v.f.Inspector.Scalar(&v.ptr, ctx.depth-1, ctx.tag, k, raw)
}

// logInspector decides from the bytes it is shown, and logs every call
// with the pointer it was given.
type logInspector struct{ log strings.Builder }

func (l *logInspector) Member(p *Pointer, d int, name []byte) (any, Action) {
	fmt.Fprintf(&l.log, "M %s %q\n", p.String(d), name)
	switch {
	case bytes.Contains(name, []byte("xs")):
		return nil, Stop
	case bytes.Contains(name, []byte("x")):
		return nil, Drop
	case bytes.Contains(name, []byte("m")):
		return "masked", Keep
	}
	return nil, Keep
}

func (l *logInspector) Scalar(p *Pointer, d int, tag any, k Kind, raw []byte) ([]byte, Action) {
	fmt.Fprintf(&l.log, "S %s %v %d %q\n", p.String(d), tag, k, raw)
	switch {
	case tag != nil:
		return []byte(`"****"`), Replace
	case bytes.Contains(raw, []byte("99")):
		return nil, Stop
	case bytes.Contains(raw, []byte("9")):
		return nil, Drop
	case bytes.Contains(raw, []byte("7")):
		return []byte(`"r7"`), Replace
	}
	return nil, Keep
}

// testShape: {"a": {"b", "c"}, "arr": [{"x", "y"}], "open": {...},
// "extra": {"e"} + additionalProperties {"z"}}, closed unless open.
func testShape(open bool) *Shape {
	leaf := func() *Shape { return &Shape{} }
	obj := func(closed bool, names ...string) *Shape {
		s := &Shape{Props: map[string]*Shape{}, Closed: closed}
		for _, n := range names {
			s.Props[n] = leaf()
		}
		return s
	}
	root := obj(!open, "a", "arr", "open", "extra", "m")
	root.Props["a"] = obj(!open, "b", "c")
	root.Props["arr"] = &Shape{Items: obj(!open, "x", "y")}
	root.Props["open"] = obj(false, "q")
	ex := obj(!open, "e")
	ex.Extra = obj(true, "z")
	root.Props["extra"] = ex
	for _, s := range []*Shape{root.Props["a"], root.Props["arr"].Items, root.Props["open"], ex, ex.Extra, root} {
		s.Index()
	}
	return root
}

// FuzzFilter checks Filter against Rewrite with the reference visitors:
// the same output, change flag, error, undeclared members reported and
// Inspector calls (with the same pointers), for every mode and gate.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{`{"a":{"b":1,"d":2},"arr":[{"x":1,"w":"abcdefgh"}],"extra":{"e":1,"k":{"z":1,"u":2}},"u":"77777777"}`,
		`{"m":{"p":[1,"secret value"]},"mx":1,"open":{"any":"9999"}}`, `[{"a":1},"long string 7",12345678901]`, `"root 7 scalar"`,
		`{"a\u0062":{"b":[]},"xs":1}`, ` { "a" : { "c" : null } , "zz" : true } `, `{"u":1,"v":2,"a":{}}`, `{"a":{"d":1},"a":{"e":1}`} {
		for mode := byte(0); mode < 8; mode++ {
			f.Add(mode, []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, mode byte, in []byte) {
		undeclared := [...]Action{Drop, Stop, Keep, Drop}[mode&3]
		var gate NameGate
		gate.Add("ma")
		gate.Add("x")
		gate.Add("xs")
		gate.All = mode&4 != 0
		shape := testShape(mode&8 != 0)
		if mode&16 != 0 {
			shape = nil
		}
		var gotLog, wantLog logInspector
		got := &Filter{Shape: shape, Undeclared: undeclared, Limit: 3, Gate: &gate, MinScalar: 6, MaxDepth: 32}
		want := &Filter{Shape: shape, Undeclared: undeclared, Limit: 3, Gate: &gate, MinScalar: 6, MaxDepth: 32}
		if mode&32 == 0 {
			got.Inspector, want.Inspector = &gotLog, &wantLog
		}
		gout, gchanged, gerr := got.Run(in, nil)
		want.Reported = want.rbuf[:0]
		wout, wchanged, werr := Rewrite(in, refCtx{shape: shape}, &refVisitor{f: want}, nil, 32)
		if fmt.Sprint(gerr) != fmt.Sprint(werr) || string(gout) != string(wout) || gchanged != wchanged {
			t.Fatalf("input %q mode %d:\nFilter  %q %v %v\nRewrite %q %v %v", in, mode, gout, gchanged, gerr, wout, wchanged, werr)
		}
		if got.Count != want.Count || got.Named != want.Named || got.First != want.First || got.Stopped != want.Stopped ||
			string(got.Reported) != string(want.Reported) {
			t.Fatalf("input %q mode %d: undeclared %d %d %d %v %q, want %d %d %d %v %q", in, mode,
				got.Count, got.Named, got.First, got.Stopped, got.Reported, want.Count, want.Named, want.First, want.Stopped, want.Reported)
		}
		if gotLog.log.String() != wantLog.log.String() {
			t.Fatalf("input %q mode %d: inspector calls\n%s\nwant\n%s", in, mode, gotLog.log.String(), wantLog.log.String())
		}
	})
}
