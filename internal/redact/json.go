package redact

import (
	"context"
	"io"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/portcullis/portcullis/internal/dlp"
)

// JSONHandler is Handler(slog.NewJSONHandler(w, nil)), byte for byte,
// with a faster path for the records the access log writes: flat
// attributes of strings, integers, floats, booleans, string lists and
// groups of them, none of them sensitive. Anything else (and any record
// with a value to mask) goes through the general handlers. The access
// record is written on every request, and the general JSON handler's
// per-attribute dispatch and its json.Marshal of every float and list
// cost more than the record's own redaction (TestJSONHandlerMatches holds
// the two to the same bytes).
func JSONHandler(w io.Writer) slog.Handler {
	return &jsonHandler{w: w, slow: Handler(slog.NewJSONHandler(w, nil))}
}

type jsonHandler struct {
	mu   sync.Mutex
	w    io.Writer
	slow slog.Handler
}

var jsonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func (h *jsonHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.slow.Enabled(ctx, l) }

func (h *jsonHandler) WithAttrs(as []slog.Attr) slog.Handler { return h.slow.WithAttrs(as) }

func (h *jsonHandler) WithGroup(name string) slog.Handler { return h.slow.WithGroup(name) }

func (h *jsonHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.write(ctx, r.Time, r.Level, r.Message, nil, &r)
}

// Log hands h a record of msg at level with attrs, as slog.Logger's
// LogAttrs does but without the caller's program counter (for handlers
// that write no source). A JSONHandler writes such a record without
// building a slog.Record (whose attributes past the fifth are copied to
// the heap); it writes the same bytes.
func Log(ctx context.Context, h slog.Handler, t time.Time, level slog.Level, msg string, attrs []slog.Attr) error {
	if jh, ok := h.(*jsonHandler); ok {
		return jh.write(ctx, t, level, msg, attrs, nil)
	}
	r := slog.NewRecord(t, level, msg, 0)
	r.AddAttrs(attrs...)
	return h.Handle(ctx, r)
}

// write writes a record's line: its attributes are attrs or, when r is
// not nil, r's. A record the fast path leaves (a value to mask, a kind
// left to slog) goes to the general handlers.
func (h *jsonHandler) write(ctx context.Context, t time.Time, level slog.Level, msg string, attrs []slog.Attr, r *slog.Record) error {
	slow := func() error {
		if r != nil {
			return h.slow.Handle(ctx, *r)
		}
		rec := slog.NewRecord(t, level, msg, 0)
		rec.AddAttrs(attrs...)
		return h.slow.Handle(ctx, rec)
	}
	if y := t.Year(); !t.IsZero() && (y < 0 || y >= 10000) || sensitiveText(msg) {
		return slow()
	}
	bp := jsonBufs.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 64<<10 {
			*bp = (*bp)[:0]
			jsonBufs.Put(bp)
		}
	}()
	b := append((*bp)[:0], '{')
	if !t.IsZero() {
		b = append(b, `"time":"`...)
		b = t.Round(0).AppendFormat(b, time.RFC3339Nano)
		b = append(b, `",`...)
	}
	b = append(b, `"level":`...)
	b = appendJSONString(b, level.String(), false)
	b = append(b, `,"msg":`...)
	b = appendJSONString(b, msg, false)
	ok := true
	if r != nil {
		r.Attrs(func(a slog.Attr) bool {
			b, ok = appendAttr(b, a, 0)
			return ok
		})
	} else {
		for _, a := range attrs {
			if b, ok = appendAttr(b, a, 0); !ok {
				break
			}
		}
	}
	if !ok {
		return slow() // something to mask or a kind left to slog
	}
	b = append(b, "}\n"...)
	*bp = b
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.w.Write(b)
	return err
}

// appendAttr appends ,"key":value; false when the attribute needs the
// general handlers (a kind not handled here, an empty key or group, a
// value to mask).
func appendAttr(b []byte, a slog.Attr, depth int) ([]byte, bool) {
	if a.Key == "" || depth > 4 {
		return b, false
	}
	b = append(b, ',')
	b = appendJSONString(b, a.Key, false)
	b = append(b, ':')
	v := a.Value
	switch v.Kind() {
	case slog.KindString:
		s := v.String()
		if sensitiveText(s) {
			return b, false
		}
		b = appendJSONString(b, s, false)
	case slog.KindInt64:
		b = strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		b = strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindBool:
		b = strconv.AppendBool(b, v.Bool())
	case slog.KindFloat64:
		f := v.Float64()
		// json.Marshal's form: %f between 1e-6 and 1e21, else an
		// exponent it spells its own way (left to it).
		if math.IsNaN(f) || math.IsInf(f, 0) || f != 0 && (math.Abs(f) < 1e-6 || math.Abs(f) >= 1e21) {
			return b, false
		}
		b = strconv.AppendFloat(b, f, 'f', -1, 64)
	case slog.KindAny:
		list, isList := v.Any().([]string)
		if !isList {
			return b, false
		}
		if list == nil {
			return append(b, "null"...), true
		}
		b = append(b, '[')
		for i, s := range list {
			if sensitiveText(s) {
				return b, false
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s, true) // as slog's json.Encoder writes it
		}
		b = append(b, ']')
	case slog.KindGroup:
		g := v.Group()
		if len(g) == 0 {
			return b, false
		}
		b = append(b, '{')
		mark := len(b)
		for _, ga := range g {
			var ok bool
			if b, ok = appendAttr(b, ga, depth+1); !ok {
				return b, false
			}
		}
		b = append(b[:mark], b[mark+1:]...) // the first member's comma
		b = append(b, '}')
	default:
		return b, false
	}
	return b, true
}

// sensitiveText reports what Handler masks in a string.
// (attrSensitive of a string attribute, without building one).
func sensitiveText(s string) bool { return dlp.Contains(s, dlp.All) }

// appendJSONString appends s quoted as slog's JSON handler writes a
// string (marshal false) or as its json.Encoder (no HTML escaping) writes
// one in a list (marshal true): control characters, quotes and
// backslashes escaped, invalid UTF-8 as U+FFFD, U+2028 and U+2029
// escaped; the encoder spells backspace and form feed \b and \f.
func appendJSONString(b []byte, s string, marshal bool) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Eight plain bytes at a time (printable ASCII other than '"'
		// and '\\'), appended as one run with the rest.
		for i+8 <= len(s) && plain8(load64(s[i:i+8])) {
			i += 8
		}
		// Then byte by byte up to the byte that stopped the scan (or the
		// end of a short string).
		for i < len(s) && jsonPlain[s[i]] {
			i++
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				if marshal {
					b = append(b, '\\', 'b')
				} else {
					b = append(b, '\\', 'u', '0', '0', '0', '8')
				}
			case '\f':
				if marshal {
					b = append(b, '\\', 'f')
				} else {
					b = append(b, '\\', 'u', '0', '0', '0', 'c')
				}
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jsonPlain are the bytes appendJSONString copies as they are.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// load64 is the first eight bytes of s, little-endian (one load).
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// plain8 reports whether the eight bytes of w are all printable ASCII
// (0x20 to 0x7f) other than '"' and '\\', the bytes appendJSONString
// copies as they are.
func plain8(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	if w&highs != 0 {
		return false
	}
	// With every byte below 0x80, x-ones*n has the high bit of some byte
	// set exactly when some byte of x is below n (the lowest such byte
	// wraps; no borrow reaches a byte below it).
	below := func(x, n uint64) uint64 { return x - ones*n }
	return (below(w, 0x20)|below(w^(ones*'"'), 1)|below(w^(ones*'\\'), 1))&highs == 0
}
