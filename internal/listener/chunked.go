package listener

import "errors"

// Limits of the chunked framing follower; they match net/http's chunked
// reader so that both agree on where a body ends.
const (
	maxChunkLine    = 4096
	maxTrailerBytes = 64 << 10
)

var errChunked = errors.New("malformed chunked encoding")

type chunkState uint8

const (
	chunkSizeLine chunkState = iota // reading "HEX[;ext]\r\n"
	chunkData                       // reading chunk bytes
	chunkDataCR                     // expecting '\r' after the data
	chunkDataLF                     // expecting '\n' after the data
	chunkTrailer                    // reading trailer lines up to an empty line
	chunkDone
)

// chunkParser follows the chunked framing of one request body as its bytes
// flow past, so the sniffer knows where the next request starts. It does not
// decode anything; net/http does. On anything it does not fully understand
// it returns an error and the sniffer stops sniffing the connection (net/http
// then refuses the body itself).
type chunkParser struct {
	state     chunkState
	line      []byte // current size or trailer line, without the LF
	remaining uint64 // data bytes left in the current chunk
	trailer   int    // trailer bytes read so far
}

// feed consumes the prefix of b that belongs to the body. It returns how
// many bytes it consumed and whether the body ended with the last of them.
func (p *chunkParser) feed(b []byte) (n int, done bool, err error) {
	for n < len(b) {
		switch p.state {
		case chunkData:
			k := uint64(len(b) - n)
			if k > p.remaining {
				k = p.remaining
			}
			n += int(k)
			p.remaining -= k
			if p.remaining == 0 {
				p.state = chunkDataCR
			}
		case chunkDataCR, chunkDataLF:
			want := byte('\r')
			if p.state == chunkDataLF {
				want = '\n'
			}
			if b[n] != want {
				return n, false, errChunked
			}
			n++
			if p.state == chunkDataCR {
				p.state = chunkDataLF
			} else {
				p.state = chunkSizeLine
			}
		case chunkSizeLine, chunkTrailer:
			c := b[n]
			n++
			if c != '\n' {
				if len(p.line) >= maxChunkLine {
					return n, false, errChunked
				}
				p.line = append(p.line, c)
				if p.state == chunkTrailer {
					p.trailer++
					if p.trailer > maxTrailerBytes {
						return n, false, errChunked
					}
				}
				continue
			}
			line := p.line
			p.line = p.line[:0]
			// Like net/http: the line must end in CRLF, with no other CR.
			if len(line) == 0 || line[len(line)-1] != '\r' {
				return n, false, errChunked
			}
			line = line[:len(line)-1]
			for _, c := range line {
				if c == '\r' {
					return n, false, errChunked
				}
			}
			if p.state == chunkTrailer {
				if len(line) == 0 {
					p.state = chunkDone
					return n, true, nil
				}
				continue
			}
			size, ok := chunkSize(line)
			if !ok {
				return n, false, errChunked
			}
			if size == 0 {
				p.state = chunkTrailer
			} else {
				p.remaining = size
				p.state = chunkData
			}
		case chunkDone:
			return n, true, nil
		}
	}
	return n, p.state == chunkDone, nil
}

// chunkSize parses "HEX[ ws][;ext]" as net/http does.
func chunkSize(line []byte) (uint64, bool) {
	for i, c := range line {
		if c == ';' {
			line = line[:i]
			break
		}
	}
	for len(line) > 0 && (line[len(line)-1] == ' ' || line[len(line)-1] == '\t') {
		line = line[:len(line)-1]
	}
	if len(line) == 0 || len(line) > 16 {
		return 0, false
	}
	var n uint64
	for _, c := range line {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | uint64(d)
	}
	return n, true
}
