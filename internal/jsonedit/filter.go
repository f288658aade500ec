package jsonedit

// Inspector is the part of a Filter walk that reads values (the response
// masking): Filter calls it only where its gates cannot rule it out.
type Inspector interface {
	// Member is called for a member outside any tagged value whose name
	// Filter's Gate lets through. p holds the member's pointer down to
	// depth d. It returns the tag of the member's value (nil: none) and
	// Keep, Drop or Stop.
	Member(p *Pointer, d int, name []byte) (tag any, act Action)
	// Scalar is called for each scalar inside a tagged value (tag is the
	// nearest tag) and for the others at least MinScalar bytes long (a
	// string MinScalar besides its quotes). p holds the value's pointer
	// down to depth d (-1 for a scalar at the root). It returns what
	// Visitor.Scalar returns.
	Scalar(p *Pointer, d int, tag any, kind Kind, raw []byte) ([]byte, Action)
}

// Filter is one walk of a JSON answer by the two response stages at once,
// without a call per part: members their object's Shape does not
// declare are removed (or stop the walk, or are noted), and an Inspector
// sees only what its gates let through. Either side may be missing (a nil
// Shape, a nil Inspector). The results are read after Run; a Filter may be
// run again (its results are then cleared).
type Filter struct {
	// Shape is the root value's (nil: no contract).
	Shape *Shape
	// Undeclared is what is done with a member its object's shape closes
	// out: Drop, Stop, or Keep (noted only).
	Undeclared Action
	// Limit bounds the pointers kept in Reported.
	Limit int

	// Inspector reads the values (nil: none); Gate and MinScalar are its
	// gates (a nil Gate lets no member name through).
	Inspector Inspector
	Gate      *NameGate
	MinScalar int

	// MaxDepth is the nesting limit (0: DefaultMaxDepth).
	MaxDepth int

	// Count is the number of undeclared members met; Reported holds the
	// pointers of the first Limit of them (Named), joined by ", ", the
	// first one being Reported[:First]. Stopped says an undeclared member
	// stopped the walk.
	Count, Named, First int
	Reported            []byte
	Stopped             bool
	rbuf                [192]byte

	src     []byte
	i       int
	out     []byte
	last    int
	changed bool
	max     int
	ptr     Pointer
}

// fctx is the context a Filter container passes to its children: the
// shape they are held to and the Inspector's tag.
type fctx struct {
	shape *Shape
	tag   any
}

// Run walks src and returns the rewritten document
// (appended to dst[:0]) and true, or src itself and false when nothing
// changed; an error for a malformed document, one nested too deep, or a
// Stop.
func (f *Filter) Run(src, dst []byte) ([]byte, bool, error) {
	f.Count, f.Named, f.First, f.Stopped = 0, 0, 0, false
	f.Reported = f.rbuf[:0]
	f.src, f.i, f.out, f.last, f.changed = src, 0, nil, 0, false
	f.max = f.MaxDepth
	if f.max <= 0 {
		f.max = DefaultMaxDepth
	}
	if dst != nil {
		f.out = dst[:0]
	}
	defer func() { f.src, f.out = nil, nil }()
	f.i = skipWS(src, 0)
	start := f.i
	dropped, err := f.value(fctx{shape: f.Shape}, 0)
	if err != nil {
		return nil, false, err
	}
	if dropped { // a scalar at the root has no holder to drop: it becomes null
		f.changed = true
		f.emit(start)
		f.out = append(f.out, "null"...)
		f.last = f.i
	}
	f.i = skipWS(src, f.i)
	if f.i != len(src) {
		return nil, false, f.errf("data after the document")
	}
	if !f.changed {
		return src, false, nil
	}
	f.out = append(f.out, src[f.last:]...)
	return f.out, true, nil
}

//go:noinline
func (f *Filter) errf(format string, a ...any) error {
	return (&scanner{src: f.src, i: f.i}).errf(format, a...)
}

//go:noinline
func (f *Filter) strErr(end int) error {
	w := &scanner{src: f.src}
	err := w.strErr(end)
	f.i = w.i
	return err
}

func (f *Filter) emit(pos int) {
	if f.out == nil {
		f.out = make([]byte, 0, len(f.src))
	}
	f.out = append(f.out, f.src[f.last:pos]...)
	f.last = pos
}

// undeclared notes a member its object closes out (its pointer is down
// to depth d).
func (f *Filter) undeclared(d int) Action {
	f.Count++
	if f.Named < f.Limit {
		if f.Named > 0 {
			f.Reported = append(f.Reported, ", "...)
		}
		f.Reported = f.ptr.Append(f.Reported, d)
		if f.Named == 0 {
			f.First = len(f.Reported)
		}
		f.Named++
	}
	if f.Undeclared == Stop {
		f.Stopped = true
	}
	return f.Undeclared
}

// scalar shows a scalar (src[start:f.i], in a container at nesting depth
// depth) to the Inspector if its gates let it through.
func (f *Filter) scalar(ctx fctx, depth int, k Kind, start int) (bool, error) {
	if n := f.i - start; f.Inspector == nil || ctx.tag == nil && (n < f.MinScalar || k == String && n < f.MinScalar+2) {
		return false, nil
	}
	repl, act := f.Inspector.Scalar(&f.ptr, depth-1, ctx.tag, k, f.src[start:f.i])
	switch act {
	case Stop:
		return false, ErrStopped
	case Drop:
		return true, nil
	case Replace:
		f.changed = true
		f.emit(start)
		f.out = append(f.out, repl...)
		f.last = f.i
	}
	return false, nil
}

// value walks one value in a container at nesting depth depth (0: the
// root). It reports whether the scalar it is is to be dropped.
func (f *Filter) value(ctx fctx, depth int) (bool, error) {
	if f.i >= len(f.src) {
		return false, f.errf("unexpected end, expected a value")
	}
	switch c := f.src[f.i]; {
	case c == '{':
		return false, f.object(ctx, depth+1)
	case c == '[':
		return false, f.array(ctx, depth+1)
	case c == '"':
		start := f.i
		end, _ := ScanString(f.src, start)
		if end < 0 {
			return false, f.strErr(end)
		}
		f.i = end
		return f.scalar(ctx, depth, String, start)
	case c == '-' || c >= '0' && c <= '9':
		start := f.i
		end := ScanNumber(f.src, start)
		if end < 0 {
			f.i = -end - 1
			return false, f.errf("bad number")
		}
		f.i = end
		return f.scalar(ctx, depth, Number, start)
	case c == 't':
		return f.literal(ctx, depth, "true", Bool)
	case c == 'f':
		return f.literal(ctx, depth, "false", Bool)
	case c == 'n':
		return f.literal(ctx, depth, "null", Null)
	}
	return false, f.errf("unexpected %q, expected a value", f.src[f.i])
}

func (f *Filter) literal(ctx fctx, depth int, lit string, k Kind) (bool, error) {
	start := f.i
	if len(f.src)-f.i < len(lit) || string(f.src[f.i:f.i+len(lit)]) != lit {
		return false, f.errf("expected %s", lit)
	}
	f.i += len(lit)
	return f.scalar(ctx, depth, k, start)
}

func (f *Filter) object(ctx fctx, depth int) error {
	if depth > f.max {
		return f.errf("nested deeper than %d", f.max)
	}
	src := f.src
	i := skipWS(src, f.i+1) // after the {
	if i < len(src) && src[i] == '}' {
		f.i = i + 1
		return nil
	}
	kept := false   // a member of this object has been written
	skipping := -1  // dropping a first member: where the output resumes is the next member
	prevComma := -1 // the comma before the current member
	for {
		if i >= len(src) || src[i] != '"' {
			f.i = i
			return f.errf("expected a member name")
		}
		mstart := i
		if skipping >= 0 {
			f.last = mstart // resume the copy at this member
			skipping = -1
		}
		end, escaped := ScanString(src, i)
		if end < 0 {
			return f.strErr(end)
		}
		name := src[mstart+1 : end-1]
		if escaped {
			name = AppendUnquoted(nil, name) // rare: a copy the pointer keeps
		}
		i = end
		if i >= len(src) || src[i] != ':' { // compact JSON: the colon follows the name
			i = skipWS(src, i)
			if i >= len(src) || src[i] != ':' {
				f.i = i
				return f.errf("expected ':' after a member name")
			}
		}
		i = skipWS(src, i+1)
		// The member's contract, then its inspection (member, inlined).
		f.ptr.Name(depth-1, name)
		child := fctx{tag: ctx.tag}
		act := Keep
		if sh := ctx.shape; sh != nil {
			if sub, ok := sh.Lookup(name); ok {
				child.shape = sub
			} else if sh.Extra != nil || !sh.Closed {
				child.shape = sh.Extra
			} else {
				act = f.undeclared(depth - 1)
			}
		}
		if g := f.Gate; act == Keep && ctx.tag == nil && g != nil && f.Inspector != nil {
			// g.May(name), its common case inlined (FuzzFilter holds it
			// to May).
			var may bool
			if n := len(name); n >= 2 && !g.All {
				a, b, c := lowerSep[name[0]], lowerSep[name[1]], lowerSep[name[n-1]]
				if a != 0 && b != 0 && c != 0 {
					may = g.ends[a]&(1<<(c&63)) != 0 && g.seconds[a]&(1<<(b&63)) != 0
				} else {
					may = g.mayNormalized(name)
				}
			} else {
				may = g.mayNormalized(name)
			}
			if may {
				child.tag, act = f.Inspector.Member(&f.ptr, depth-1, name)
			}
		}
		var drop bool
		var err error
		switch {
		case act == Stop:
			return ErrStopped
		case act == Drop:
			f.i = i
			drop, err = true, f.skipValue(depth)
		case i < len(src) && src[i] == '"':
			end, _ := ScanString(src, i)
			if end < 0 {
				return f.strErr(end)
			}
			f.i = end
			// scalar's gate, here: most values are short and untagged.
			if f.Inspector != nil && (child.tag != nil || end-i >= f.MinScalar+2) {
				drop, err = f.scalar(child, depth, String, i)
			}
		default:
			f.i = i
			drop, err = f.value(child, depth)
		}
		if err != nil {
			return err
		}
		if drop {
			skipping = f.drop(mstart, prevComma, kept)
		} else {
			kept = true
		}
		i = skipWS(src, f.i)
		if i >= len(src) {
			f.i = i
			return f.errf("unexpected end in an object")
		}
		switch src[i] {
		case ',':
			prevComma = i
			i = skipWS(src, i+1)
		case '}':
			if skipping >= 0 {
				f.last = i // every member so far was dropped
			}
			f.i = i + 1
			return nil
		default:
			f.i = i
			return f.errf("expected ',' or '}' in an object")
		}
	}
}

// drop is walker.drop.
func (f *Filter) drop(start, prevComma int, kept bool) int {
	f.changed = true
	skipping := -1
	if kept {
		f.emit(prevComma)
	} else {
		f.emit(start)
		skipping = start
	}
	f.last = f.i
	return skipping
}

func (f *Filter) array(ctx fctx, depth int) error {
	if depth > f.max {
		return f.errf("nested deeper than %d", f.max)
	}
	src := f.src
	f.i = skipWS(src, f.i+1) // after the [
	if f.i < len(src) && src[f.i] == ']' {
		f.i++
		return nil
	}
	var child fctx
	if ctx.shape != nil {
		child.shape = ctx.shape.Items
	}
	child.tag = ctx.tag
	kept, skipping, prevComma := false, -1, -1
	for index := 0; ; index++ {
		estart := f.i
		if skipping >= 0 {
			f.last = estart
			skipping = -1
		}
		f.ptr.Index(depth-1, index)
		drop, err := f.value(child, depth)
		if err != nil {
			return err
		}
		if drop {
			skipping = f.drop(estart, prevComma, kept)
		} else {
			kept = true
		}
		i := skipWS(src, f.i)
		if i >= len(src) {
			f.i = i
			return f.errf("unexpected end in an array")
		}
		switch src[i] {
		case ',':
			prevComma = i
			f.i = skipWS(src, i+1)
		case ']':
			if skipping >= 0 {
				f.last = i
			}
			f.i = i + 1
			return nil
		default:
			f.i = i
			return f.errf("expected ',' or ']' in an array")
		}
	}
}

// skipValue validates and steps over a value without visiting it.
func (f *Filter) skipValue(depth int) error {
	w := scanner{src: f.src, i: f.i, max: f.max}
	err := w.skipValue(depth)
	f.i = w.i
	return err
}
