package audit

import (
	"bufio"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
)

// Problem kinds Verify reports.
const (
	ProblemModified  = "modified"
	ProblemDeleted   = "deleted"
	ProblemInserted  = "inserted"
	ProblemReordered = "reordered"
	ProblemSignature = "signature"
	ProblemMalformed = "malformed"
)

// Problem is one finding of Verify, naming the record it is about.
type Problem struct {
	// Kind is one of the Problem* constants.
	Kind string `json:"kind"`
	// Seq is the record's sequence number (for deleted: the missing one).
	Seq uint64 `json:"seq"`
	// Line is the 1-based line of the file the record is on (for deleted:
	// the line where it should have been).
	Line int `json:"line"`
	// Msg says what is wrong, in a sentence.
	Msg string `json:"msg"`
}

// String formats the problem as "line N: record S: msg".
func (p Problem) String() string {
	return fmt.Sprintf("line %d: record %d %s: %s", p.Line, p.Seq, p.Kind, p.Msg)
}

// Report is what Verify found.
type Report struct {
	// Records is how many records the file holds.
	Records int `json:"records"`
	// Checkpoints is how many checkpoints verified.
	Checkpoints int `json:"checkpoints"`
	// Unsigned is how many records after the last good checkpoint no
	// signature covers yet.
	Unsigned int `json:"unsigned"`
	// Keys are the ids of the keys that signed checkpoints.
	Keys []string `json:"keys,omitempty"`
	// Problems are every finding; empty means the log is intact.
	Problems []Problem `json:"problems,omitempty"`
}

// OK reports whether no problem was found.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

type parsed struct {
	line   int
	seq    uint64
	kind   string
	prev   string
	hash   string // as claimed on the line
	selfOK bool   // hash matches the bytes
	data   json.RawMessage
}

// Verify reads an audit log and checks every record's hash, the chain
// (each record's prev is its predecessor's hash), the sequence numbers and
// every checkpoint's signature against pub (nil: against the key the open
// records name, which only proves consistency, not origin). Each problem
// names the record and line: a record whose bytes do not match its hash
// (modified), a record whose successor does not link to it although its
// own hash is right (modified and re-hashed), a sequence number that is
// missing (deleted), one that appears twice (the copy that breaks the
// chain was inserted), and records out of order (reordered).
func Verify(r io.Reader, pub ed25519.PublicKey) (*Report, error) {
	rep := &Report{}
	var recs []*parsed
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	n := 0
	for sc.Scan() {
		n++
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		body, hash, err := split(b)
		if err != nil {
			rep.Problems = append(rep.Problems, Problem{Kind: ProblemMalformed, Line: n, Msg: err.Error()})
			continue
		}
		var ln line
		if err := json.Unmarshal(body, &ln); err != nil {
			rep.Problems = append(rep.Problems, Problem{Kind: ProblemMalformed, Line: n, Msg: "not valid JSON: " + err.Error()})
			continue
		}
		p := &parsed{line: n, seq: ln.Seq, kind: ln.Kind, prev: ln.Prev, hash: hash, data: ln.Data}
		p.selfOK = hashOf(body) == hash
		recs = append(recs, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading audit log: %w", err)
	}
	rep.Records = len(recs)
	if len(recs) == 0 {
		return rep, nil
	}
	add := func(kind string, p *parsed, format string, args ...any) {
		rep.Problems = append(rep.Problems, Problem{Kind: kind, Seq: p.seq, Line: p.line, Msg: fmt.Sprintf(format, args...)})
	}

	// 2. Duplicated sequence numbers: the copy that does not chain is the
	// inserted one.
	bySeq := map[uint64][]*parsed{}
	for _, p := range recs {
		bySeq[p.seq] = append(bySeq[p.seq], p)
	}
	genuine := map[uint64]*parsed{}
	inserted := map[*parsed]bool{}
	seqs := make([]uint64, 0, len(bySeq))
	for s := range bySeq {
		seqs = append(seqs, s)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for _, s := range seqs {
		cands := bySeq[s]
		if len(cands) == 1 {
			genuine[s] = cands[0]
			continue
		}
		best := pickGenuine(cands, genuine[s-1], bySeq[s+1])
		genuine[s] = best
		for _, c := range cands {
			if c != best {
				inserted[c] = true
				add(ProblemInserted, c, "a second record %d (the chain goes through the one on line %d)", s, best.line)
			}
		}
	}

	// 1. Records whose bytes do not match their hash.
	for _, p := range recs {
		if !p.selfOK && !inserted[p] {
			add(ProblemModified, p, "its content does not match its hash")
		}
	}

	// 3. Missing sequence numbers.
	first, last := seqs[0], seqs[len(seqs)-1]
	if first != 1 && genuine[first].prev != zeroHash {
		// The file does not start at the beginning of its chain: the
		// records before were removed (a rotated file starts at 1 too).
		rep.Problems = append(rep.Problems, Problem{Kind: ProblemDeleted, Seq: 1, Line: 1,
			Msg: fmt.Sprintf("records 1 to %d are missing from the start of the file", first-1)})
	}
	for s := first; s < last; s++ {
		if genuine[s] != nil {
			continue
		}
		end := s
		for genuine[end+1] == nil {
			end++
		}
		at := genuine[end+1].line
		if end == s {
			rep.Problems = append(rep.Problems, Problem{Kind: ProblemDeleted, Seq: s, Line: at,
				Msg: fmt.Sprintf("record %d is missing (deleted before line %d)", s, at)})
		} else {
			rep.Problems = append(rep.Problems, Problem{Kind: ProblemDeleted, Seq: s, Line: at,
				Msg: fmt.Sprintf("records %d to %d are missing (deleted before line %d)", s, end, at)})
		}
		s = end
	}

	// 4. Order: genuine records must appear in increasing sequence order.
	var prevRec *parsed
	for _, p := range recs {
		if inserted[p] || genuine[p.seq] != p {
			continue
		}
		if prevRec != nil && p.seq < prevRec.seq {
			add(ProblemReordered, p, "it comes after record %d (line %d); it belongs before it", prevRec.seq, prevRec.line)
		}
		prevRec = p
	}

	// 5. Links: each genuine record's prev is its predecessor's hash. A
	// broken link after a record whose own hash is right means that record
	// was changed and re-hashed (or the successor's prev was edited, which
	// breaks the successor's own hash and is reported in step 1).
	reported := map[*parsed]bool{}
	for _, p := range rep.Problems {
		if p.Kind == ProblemModified {
			reported[genuine[p.Seq]] = true
		}
	}
	for _, s := range seqs {
		p, q := genuine[s], genuine[s+1]
		if q == nil || q.prev == p.hash || !q.selfOK {
			continue
		}
		if p.selfOK && !reported[p] {
			add(ProblemModified, p, "record %d (line %d) does not link to it: it was changed and its hash recomputed", q.seq, q.line)
			reported[p] = true
		}
	}
	if g := genuine[first]; first == 1 && g.selfOK && g.prev != zeroHash {
		add(ProblemModified, g, "the first record's prev is not the zero hash")
	}

	// 6. Checkpoints.
	keys := map[string]bool{}
	named := map[string]ed25519.PublicKey{} // keys the open records carry
	lastGood := uint64(0)
	for _, s := range seqs {
		p := genuine[s]
		if p.kind == KindOpen {
			var o struct {
				PublicKey string `json:"public_key"`
			}
			if json.Unmarshal(p.data, &o) == nil {
				if k, err := hex.DecodeString(o.PublicKey); err == nil && len(k) == ed25519.PublicKeySize {
					named[KeyID(k)] = k
				}
			}
		}
		if p.kind != KindCheckpoint {
			continue
		}
		var cp Checkpoint
		if err := json.Unmarshal(p.data, &cp); err != nil {
			add(ProblemSignature, p, "checkpoint data unreadable: %v", err)
			continue
		}
		prev := genuine[cp.Seq]
		switch {
		case cp.Seq != s-1 || prev == nil || prev.hash != cp.Hash || p.prev != cp.Hash:
			add(ProblemSignature, p, "the checkpoint covers record %d with hash %.12s…, which is not the chain before it", cp.Seq, cp.Hash)
			continue
		}
		// Without a trusted key the signature is checked against the key
		// the log's own open record names: that proves the chain was not
		// rewritten after signing, but not who signed (Report.Keys says
		// which key; compare it with yours, or pass --public-key).
		key := pub
		if key == nil {
			key = named[cp.Key]
		}
		sig, err := hex.DecodeString(cp.Sig)
		switch {
		case err != nil:
			add(ProblemSignature, p, "signature is not hex")
			continue
		case key == nil:
			add(ProblemSignature, p, "signed by key %.12s…, which no open record names (pass --public-key)", cp.Key)
			continue
		case KeyID(key) != cp.Key:
			add(ProblemSignature, p, "signed by key %.12s…, not the given public key %.12s…", cp.Key, KeyID(key))
			continue
		case !ed25519.Verify(key, SignedBytes(cp.Seq, cp.Hash), sig):
			add(ProblemSignature, p, "the signature does not verify: records up to %d were rewritten", cp.Seq)
			continue
		}
		keys[cp.Key] = true
		rep.Checkpoints++
		lastGood = s
	}
	for k := range keys {
		rep.Keys = append(rep.Keys, k)
	}
	sort.Strings(rep.Keys)
	for _, s := range seqs {
		if s > lastGood {
			rep.Unsigned++
		}
	}
	sort.SliceStable(rep.Problems, func(i, j int) bool { return rep.Problems[i].Line < rep.Problems[j].Line })
	return rep, nil
}

// pickGenuine chooses, among records sharing a sequence number, the one
// that chains: its prev is the predecessor's hash and a successor links to
// its hash. Ties go to the one whose own hash is right, then the first.
func pickGenuine(cands []*parsed, before *parsed, after []*parsed) *parsed {
	score := func(c *parsed) int {
		s := 0
		if c.selfOK {
			s++
		}
		if before != nil && c.prev == before.hash {
			s += 2
		}
		for _, a := range after {
			if a.prev == c.hash {
				s += 4
			}
		}
		return s
	}
	best := cands[0]
	for _, c := range cands[1:] {
		if score(c) > score(best) {
			best = c
		}
	}
	return best
}

func hashOf(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}
