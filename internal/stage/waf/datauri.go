package waf

import (
	"bytes"
	"encoding/base64"
	"strings"
)

// passiveDataURI reports whether v is one data: URI (RFC 2397) of a
// media type a browser only displays and that carries what its type
// says: an image, audio, video, font or PDF, base64-encoded, whose
// decoded bytes start with that format's signature and hold no PHP open
// tag. API bodies carry avatars and attachments this way; the CRS reads
// every "data:" value as a script (941130, 941170) or a PHP stream
// wrapper (934170). What those rules are for stays matched: a text,
// HTML, SVG, XML or script type, a URI without base64, bytes that are
// not the format named (a payload labelled image/png), and a polyglot
// with "<?" in it (PHP's data:// wrapper runs what it reads whatever the
// label).
func passiveDataURI(v string) bool {
	const prefix = "data:"
	if len(v) < len(prefix)+16 || !strings.EqualFold(v[:len(prefix)], prefix) {
		return false
	}
	meta, payload, ok := strings.Cut(v[len(prefix):], ",")
	if !ok {
		return false
	}
	typ, params, _ := strings.Cut(strings.ToLower(meta), ";")
	if !strings.HasSuffix(params, "base64") || strings.ContainsAny(params, " \t\"'<>()") {
		return false
	}
	sig, known := dataSignatures[typ]
	if !known && !strings.HasPrefix(typ, "audio/") && !strings.HasPrefix(typ, "video/") && !strings.HasPrefix(typ, "font/") {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(payload, "=")); err != nil {
			return false
		}
	}
	if known && !sig(raw) {
		return false
	}
	return !bytes.Contains(raw, []byte("<?"))
}

// dataSignatures are the passive image and document types with the first
// bytes every file of the type starts with.
var dataSignatures = map[string]func([]byte) bool{
	"image/png":  prefixed("\x89PNG\r\n\x1a\n"),
	"image/apng": prefixed("\x89PNG\r\n\x1a\n"),
	"image/jpeg": prefixed("\xff\xd8\xff"),
	"image/jpg":  prefixed("\xff\xd8\xff"),
	"image/gif": func(b []byte) bool {
		return bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a"))
	},
	"image/webp": func(b []byte) bool {
		return len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP"
	},
	"image/avif": func(b []byte) bool { return len(b) >= 12 && string(b[4:8]) == "ftyp" },
	"image/heic": func(b []byte) bool { return len(b) >= 12 && string(b[4:8]) == "ftyp" },
	"image/bmp":  prefixed("BM"),
	"image/x-icon": func(b []byte) bool {
		return bytes.HasPrefix(b, []byte("\x00\x00\x01\x00")) || bytes.HasPrefix(b, []byte("\x89PNG"))
	},
	"image/vnd.microsoft.icon": prefixed("\x00\x00\x01\x00"),
	"image/tiff": func(b []byte) bool {
		return bytes.HasPrefix(b, []byte("II*\x00")) || bytes.HasPrefix(b, []byte("MM\x00*"))
	},
	"application/pdf": prefixed("%PDF-"),
}

func prefixed(sig string) func([]byte) bool {
	return func(b []byte) bool { return bytes.HasPrefix(b, []byte(sig)) }
}
