package jsonedit

// The generic walker Rewrite, which the response stages used before they
// shared Filter, kept as the reference FuzzFilter holds Filter to.

// Visitor decides, for each part of the document, what to keep. C is the
// context a container passes to its children (a schema, a path, a field
// rule); the root gets the context given to Rewrite.
type Visitor[C any] interface {
	// Member is called for each member of an object with its decoded name
	// (valid until Rewrite returns; it must not be changed). It returns the context of the
	// member's value and Keep, Drop or Stop.
	Member(parent C, name []byte) (C, Action)
	// Element is called for each element of an array.
	Element(parent C, index int) (C, Action)
	// Scalar is called for each string, number, boolean and null. raw is
	// the value as written (a string with its quotes). It returns Keep,
	// Stop, Replace with the new value's JSON text, or Drop to remove the
	// member or element holding the value (a scalar at the root becomes
	// null).
	Scalar(ctx C, kind Kind, raw []byte) ([]byte, Action)
}

// Rewrite walks src with v. It returns the rewritten document (appended
// to dst[:0]) and true when the visitor dropped or replaced anything, or
// src itself and false when nothing changed. A malformed document, one
// nested deeper than maxDepth (0: DefaultMaxDepth) or a Stop returns an
// error.
func Rewrite[C any](src []byte, root C, v Visitor[C], dst []byte, maxDepth int) ([]byte, bool, error) {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	w := &walker[C]{scanner: scanner{src: src, max: maxDepth}, v: v}
	if dst != nil {
		w.out = dst[:0]
	}
	w.ws()
	start := w.i
	dropped, err := w.value(root, 0)
	if err != nil {
		return nil, false, err
	}
	if dropped { // a scalar at the root has no holder to drop: it becomes null
		w.changed = true
		w.emit(start)
		w.out = append(w.out, "null"...)
		w.last = w.i
	}
	w.ws()
	if w.i != len(src) {
		return nil, false, w.errf("data after the document")
	}
	if !w.changed {
		return src, false, nil
	}
	w.out = append(w.out, src[w.last:]...)
	return w.out, true, nil
}

type walker[C any] struct {
	scanner
	v       Visitor[C]
	out     []byte
	last    int // src[last:] has not been copied to out yet
	skip    bool
	changed bool
}

// emit copies the source up to pos into the output.
func (w *walker[C]) emit(pos int) {
	if w.out == nil {
		w.out = make([]byte, 0, len(w.src)) // the rewrite is rarely larger
	}
	w.out = append(w.out, w.src[w.last:pos]...)
	w.last = pos
}

// value walks one value. It reports whether the visitor asked to drop
// the scalar it is (the caller drops the member or element).
func (w *walker[C]) value(ctx C, depth int) (bool, error) {
	if w.i >= len(w.src) {
		return false, w.errf("unexpected end, expected a value")
	}
	switch c := w.src[w.i]; {
	case c == '{':
		return false, w.object(ctx, depth+1)
	case c == '[':
		return false, w.array(ctx, depth+1)
	case c == '"':
		start := w.i
		if err := w.str(); err != nil {
			return false, err
		}
		return w.scalar(ctx, String, start)
	case c == '-' || c >= '0' && c <= '9':
		start := w.i
		if err := w.number(); err != nil {
			return false, err
		}
		return w.scalar(ctx, Number, start)
	case c == 't':
		return w.literal(ctx, "true", Bool)
	case c == 'f':
		return w.literal(ctx, "false", Bool)
	case c == 'n':
		return w.literal(ctx, "null", Null)
	}
	return false, w.errf("unexpected %q, expected a value", w.src[w.i])
}

func (w *walker[C]) literal(ctx C, lit string, k Kind) (bool, error) {
	start := w.i
	if len(w.src)-w.i < len(lit) || string(w.src[w.i:w.i+len(lit)]) != lit {
		return false, w.errf("expected %s", lit)
	}
	w.i += len(lit)
	return w.scalar(ctx, k, start)
}

func (w *walker[C]) scalar(ctx C, k Kind, start int) (bool, error) {
	repl, act := w.v.Scalar(ctx, k, w.src[start:w.i])
	switch act {
	case Stop:
		return false, ErrStopped
	case Drop:
		return true, nil
	case Replace:
		w.changed = true
		w.emit(start)
		w.out = append(w.out, repl...)
		w.last = w.i
	}
	return false, nil
}

func (w *walker[C]) object(ctx C, depth int) error {
	if depth > w.max {
		return w.errf("nested deeper than %d", w.max)
	}
	// The index lives in i between the visitor's calls (w.i is written
	// before each and read after): the loop does not reload it at every
	// check.
	src := w.src
	i := skipWS(src, w.i+1) // after the {
	if i < len(src) && src[i] == '}' {
		w.i = i + 1
		return nil
	}
	kept := false   // a member of this object has been written
	skipping := -1  // dropping a first member: where the output resumes is the next member
	prevComma := -1 // the comma before the current member
	for {
		if i >= len(src) || src[i] != '"' {
			w.i = i
			return w.errf("expected a member name")
		}
		mstart := i
		if skipping >= 0 {
			w.last = mstart // resume the copy at this member
			skipping = -1
		}
		end, escaped := ScanString(src, i)
		if end < 0 {
			return w.strErr(end)
		}
		name := src[mstart+1 : end-1]
		if escaped {
			name = AppendUnquoted(nil, name) // rare: a copy the visitor may keep
		}
		i = end
		if i >= len(src) || src[i] != ':' { // compact JSON: the colon follows the name
			i = skipWS(src, i)
			if i >= len(src) || src[i] != ':' {
				w.i = i
				return w.errf("expected ':' after a member name")
			}
		}
		i = skipWS(src, i+1)
		child, act := w.v.Member(ctx, name)
		var drop bool
		var err error
		switch {
		case act == Stop:
			return ErrStopped
		case act != Drop && i < len(src) && src[i] == '"':
			// A string, the most common value, walked here: one call
			// less per member.
			end, _ := ScanString(src, i)
			if end < 0 {
				return w.strErr(end)
			}
			w.i = end
			drop, err = w.scalar(child, String, i)
		default:
			w.i = i
			drop, err = w.entry(child, act, depth)
		}
		if err != nil {
			return err
		}
		if drop {
			skipping = w.drop(mstart, prevComma, kept)
		} else {
			kept = true
		}
		i = skipWS(src, w.i)
		if i >= len(src) {
			w.i = i
			return w.errf("unexpected end in an object")
		}
		switch src[i] {
		case ',':
			prevComma = i
			i = skipWS(src, i+1)
		case '}':
			if skipping >= 0 {
				w.last = i // every member so far was dropped
			}
			w.i = i + 1
			return nil
		default:
			w.i = i
			return w.errf("expected ',' or '}' in an object")
		}
	}
}

// entry walks the value of a member or element (or steps over it when
// the visitor said Drop) and reports whether it is to be left out. A
// string, the most common value, is walked here: one call less per
// member.
func (w *walker[C]) entry(child C, act Action, depth int) (bool, error) {
	switch {
	case act == Drop:
		return true, w.skipValue(depth)
	case w.i < len(w.src) && w.src[w.i] == '"':
		start := w.i
		end, _ := ScanString(w.src, start)
		if end < 0 {
			return false, w.strErr(end)
		}
		w.i = end
		return w.scalar(child, String, start)
	}
	return w.value(child, depth)
}

// drop leaves out the entry that started at start and ends at w.i.
// Nothing of it has been written yet: it goes with the comma before it,
// or for a first entry the output resumes at the next one (the position
// returned, the caller's skipping; -1 when the entry was not first).
func (w *walker[C]) drop(start, prevComma int, kept bool) int {
	w.changed = true
	skipping := -1
	if kept {
		w.emit(prevComma)
	} else {
		w.emit(start)
		skipping = start
	}
	w.last = w.i
	return skipping
}

func (w *walker[C]) array(ctx C, depth int) error {
	if depth > w.max {
		return w.errf("nested deeper than %d", w.max)
	}
	w.i++ // [
	w.ws()
	if w.i < len(w.src) && w.src[w.i] == ']' {
		w.i++
		return nil
	}
	kept, skipping, prevComma := false, -1, -1
	for index := 0; ; index++ {
		estart := w.i
		if skipping >= 0 {
			w.last = estart
			skipping = -1
		}
		child, act := w.v.Element(ctx, index)
		if act == Stop {
			return ErrStopped
		}
		drop, err := w.entry(child, act, depth)
		if err != nil {
			return err
		}
		if drop {
			skipping = w.drop(estart, prevComma, kept)
		} else {
			kept = true
		}
		src := w.src
		i := skipWS(src, w.i)
		if i >= len(src) {
			w.i = i
			return w.errf("unexpected end in an array")
		}
		switch src[i] {
		case ',':
			prevComma = i
			w.i = skipWS(src, i+1)
		case ']':
			if skipping >= 0 {
				w.last = i
			}
			w.i = i + 1
			return nil
		default:
			w.i = i
			return w.errf("expected ',' or ']' in an array")
		}
	}
}
