package jsonedit

// Ctx is the context of a visitor that can be walked together with
// another one (Then): a reference (a compiled schema node, a rule; a
// pointer stored in an interface costs no allocation) and a depth. It
// lets a stage hand its visitor to a later stage's walk without either
// knowing the other's types.
type Ctx struct {
	Ref   any
	Depth int
}

// Both is the context of a Then walk: each visitor's own.
type Both[B any] struct {
	First  Ctx
	Second B
}

// Then walks a document once for two visitors: First sees every part
// before Second does, and what First drops (or stops at) Second never
// sees. A scalar First replaces is shown to Second as the replacement,
// with the kind it had. Two body stages share one pass over an answer
// this way instead of walking it twice.
type Then[B any] struct {
	First  Visitor[Ctx]
	Second Visitor[B]
}

// Member implements Visitor.
func (t *Then[B]) Member(parent Both[B], name []byte) (Both[B], Action) {
	a, act := t.First.Member(parent.First, name)
	if act != Keep {
		return Both[B]{}, act
	}
	b, act := t.Second.Member(parent.Second, name)
	return Both[B]{First: a, Second: b}, act
}

// Element implements Visitor.
func (t *Then[B]) Element(parent Both[B], index int) (Both[B], Action) {
	a, act := t.First.Element(parent.First, index)
	if act != Keep {
		return Both[B]{}, act
	}
	b, act := t.Second.Element(parent.Second, index)
	return Both[B]{First: a, Second: b}, act
}

// Scalar implements Visitor.
func (t *Then[B]) Scalar(ctx Both[B], kind Kind, raw []byte) ([]byte, Action) {
	repl, act := t.First.Scalar(ctx.First, kind, raw)
	switch act {
	case Drop, Stop:
		return nil, act
	case Replace:
		raw = repl
	}
	r2, act2 := t.Second.Scalar(ctx.Second, kind, raw)
	if act2 == Keep && act == Replace {
		return repl, Replace
	}
	return r2, act2
}
