// Package dlp finds sensitive values in text: payment card numbers (Luhn
// checked, known issuer ranges), IBANs (ISO 13616 length and mod-97
// checksum), US social security numbers, cloud and SaaS credentials (AWS,
// GCP, GitHub, Slack), private-key blocks, JWTs and password hashes
// (bcrypt, argon2, scrypt, pbkdf2, crypt, phpass, LDAP).
//
// It is shared by the response masking stage (internal/stage/mask), which
// masks what upstreams send to clients, and by internal/redact, which masks
// the same values in logs and events. Detection is one pass over the
// bytes: a value can only start at a few byte values, each of which tries a
// handful of fixed-shape patterns anchored at that position, so cost grows
// with the text, not with the number of patterns, and nothing backtracks.
// Checksums (Luhn, mod 97) and issuer ranges keep ordinary numbers, ids
// and words from being taken for secrets.
package dlp

import "strings"

// Kind is a class of sensitive value.
type Kind uint8

// The kinds, in the order Kinds lists them.
const (
	// Card is a payment card number (PAN): 13-19 digits, optionally in
	// groups separated by one space or dash, with a valid Luhn check digit
	// and a known issuer prefix and length (Visa, Mastercard, Amex,
	// Discover, JCB, Diners, UnionPay, Maestro, Mir, Troy).
	Card Kind = iota
	// IBAN is an international bank account number: a country with an
	// IBAN, its registered length, and a valid mod-97 check, in
	// electronic form or in groups of four.
	IBAN
	// SSN is a US social security number written ddd-dd-dddd or
	// ddd dd dddd, with the numbers never issued refused (area 000, 666,
	// 900-999; group 00; serial 0000).
	SSN
	// AWS is an AWS access key id (AKIA..., ASIA...) or a secret access
	// key written after its name (aws_secret_access_key = ...).
	AWS
	// GCP is a Google Cloud API key (AIza...), an OAuth client secret
	// (GOCSPX-...) or an OAuth access token (ya29....).
	GCP
	// GitHub is a GitHub token: personal, OAuth, user-to-server,
	// server-to-server and refresh tokens (ghp_, gho_, ghu_, ghs_, ghr_)
	// and fine-grained personal access tokens (github_pat_).
	GitHub
	// Slack is a Slack token (xoxb-, xoxp-, xoxa-, xoxo-, xoxr-, xoxs-,
	// xoxe-, xapp-) or an incoming-webhook URL.
	Slack
	// PrivateKey is a PEM private-key block, from its BEGIN line to its
	// END line (or to the end of the text when it is cut): PKCS#1, PKCS#8
	// (also encrypted), SEC 1, OpenSSH, PGP.
	PrivateKey
	// JWT is a JSON Web Token (or JWS/JWE compact serialization): base64url
	// segments separated by dots, the first one a JSON object.
	JWT
	// PasswordHash is a password hash in one of the formats password
	// stores use: bcrypt ($2a$, $2b$, $2y$), argon2 ($argon2id$...),
	// scrypt ($scrypt$, $7$), pbkdf2 (passlib $pbkdf2-sha256$, Django
	// pbkdf2_sha256$, Werkzeug pbkdf2:sha256:), crypt ($1$, $5$, $6$,
	// $y$, $gy$, $apr1$), phpass ($P$, $H$) and LDAP ({SSHA}, {SHA}...).
	PasswordHash
	numKinds
)

var kindNames = [numKinds]string{"card", "iban", "ssn", "aws", "gcp", "github", "slack", "private-key", "jwt", "password-hash"}

// String returns the kind's name as config, events and metrics write it
// ("card", "private-key").
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "unknown"
}

// ParseKind returns the kind named s.
func ParseKind(s string) (Kind, bool) {
	for i, n := range kindNames {
		if n == s {
			return Kind(i), true
		}
	}
	return 0, false
}

// Kinds returns every kind, in order.
func Kinds() []Kind {
	out := make([]Kind, numKinds)
	for i := range out {
		out[i] = Kind(i)
	}
	return out
}

// KindNames returns the names of every kind, for error messages.
func KindNames() string { return strings.Join(kindNames[:], ", ") }

// Set is a set of kinds.
type Set uint16

// All is every kind.
const All Set = 1<<numKinds - 1

// SetOf returns the set of the given kinds.
func SetOf(kinds ...Kind) Set {
	var s Set
	for _, k := range kinds {
		s |= 1 << k
	}
	return s
}

// Has reports whether k is in s.
func (s Set) Has(k Kind) bool { return s&(1<<k) != 0 }

// MinLength is the length of the shortest value any kind matches (an SSN,
// ddd-dd-dddd): a shorter text holds none, and callers skip it.
const MinLength = 11

// Match is one sensitive value found in a text: its kind and the byte
// range s[Start:End].
type Match struct {
	Kind       Kind
	Start, End int
}

// Text is what Find reads: a string or a byte slice, never copied.
type Text interface{ ~string | ~[]byte }

// Find appends to dst the sensitive values of the kinds in set that s
// holds, in order, without overlaps, and returns dst. It does not
// allocate when dst has room.
func Find[T Text](s T, set Set, dst []Match) []Match {
	if set == 0 {
		return dst
	}
	n := len(s)
	for i := 0; i < n; {
		c := s[i]
		if !wordByte[c] {
			if c == '%' && i+2 < n && isHex(s[i+1]) && isHex(s[i+2]) {
				// A percent-escape in a URL separates like the byte it
				// stands for: "q=%204111..." holds a card number.
				i += 3
				continue
			}
			if (c == '$' || c == '{' || c == '-' && i+1 < n && s[i+1] == '-') && i+1 < n {
				if k, start, end := at(s, i, set); end > start {
					dst = append(dst, Match{Kind: k, Start: start, End: end})
					i = end
					continue
				}
			}
			i++
			continue
		}
		if starts[c] && i+1 < n && next[c][s[i+1]] && (c > '9' || mayNumber(s, i)) && (i == 0 || !wordByte[s[i-1]] || escaped(s, i)) {
			if k, start, end := at(s, i, set); end > start {
				dst = append(dst, Match{Kind: k, Start: start, End: end})
				i = end
				continue
			}
		}
		// Skip the rest of the word: values only start at a boundary.
		for i++; i < n && wordByte[s[i]]; i++ {
		}
	}
	return dst
}

// Contains reports whether s holds a sensitive value of a kind in set.
func Contains[T Text](s T, set Set) bool {
	var buf [1]Match
	return len(Find(s, set, buf[:0])) > 0
}

// at tries every pattern that can start at s[i] (a word boundary unless
// s[i] is '$', '{' or '-'). It returns the value's range; start may be
// after i when a name introduces the value (aws_secret_access_key=...).
func at[T Text](s T, i int, set Set) (Kind, int, int) {
	c := s[i]
	switch {
	case c >= '0' && c <= '9':
		if set.Has(Card) {
			if end := card(s, i); end > 0 {
				return Card, i, end
			}
		}
		if set.Has(SSN) {
			if end := ssn(s, i); end > 0 {
				return SSN, i, end
			}
		}
		return 0, i, -1
	case c == '$' || c == '{':
		if set.Has(PasswordHash) {
			if end := hashAt(s, i); end > 0 {
				return PasswordHash, i, end
			}
		}
		return 0, i, -1
	case c == '-':
		if set.Has(PrivateKey) {
			if end := privateKey(s, i); end > 0 {
				return PrivateKey, i, end
			}
		}
		return 0, i, -1
	case c == 'e':
		if set.Has(JWT) {
			if end := jwt(s, i); end > 0 {
				return JWT, i, end
			}
		}
		return 0, i, -1
	case c == 'a' || c == 'A':
		if set.Has(AWS) {
			if start, end := awsSecret(s, i); end > 0 {
				return AWS, start, end
			}
		}
	}
	for _, p := range tokenPatterns[c] {
		if !set.Has(p.kind) {
			continue
		}
		if end := matchPattern(p, s, i); end > 0 {
			return p.kind, i, end
		}
	}
	if c >= 'A' && c <= 'Z' && set.Has(IBAN) {
		if end := iban(s, i); end > 0 {
			return IBAN, i, end
		}
	}
	return 0, i, -1
}

// mayNumber is a necessary condition for a card number or an SSN at
// s[i] (a digit followed by a digit): the only kinds a digit starts. A
// card has 13 bytes at least and its first four are digits (card); an
// SSN has 11, three digits and a separator (ssn). So both need 11 bytes,
// a third digit and a fourth byte that is a digit, a space or a dash:
// most numbers, dates, times and ids in answers fail it without a call
// (TestGatesAreNecessary: wherever it fails, at finds nothing).
func mayNumber[T Text](s T, i int) bool {
	if len(s)-i < MinLength || !isDigit(s[i+2]) {
		return false
	}
	c := s[i+3]
	return isDigit(c) || c == ' ' || c == '-'
}

// starts are the word bytes a value can start with: digits (cards,
// SSNs), upper-case letters (IBANs, AWS and GCP keys, SCRAM), and the
// first letters of the token patterns, JWTs and AWS secret names.
var starts = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	t['e'], t['a'] = true, true
	for c := range tokenPatterns {
		if len(tokenPatterns[c]) > 0 {
			t[c] = true
		}
	}
	return t
}()

// next[a][b] is set when a value can start with the bytes a, b: a
// second table lookup rules out almost every word before any pattern is
// tried.
var next = func() *[256][256]bool {
	t := &[256][256]bool{}
	for a := '0'; a <= '9'; a++ {
		for b := '0'; b <= '9'; b++ {
			t[a][b] = true // cards and SSNs start with two digits
		}
	}
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			t[a][b] = true // IBANs, AWS and GCP keys, SCRAM
		}
	}
	t['A']['w'], t['a']['w'], t['a']['W'] = true, true, true // aws_secret_access_key
	t['e']['y'] = true                                       // eyJ...
	for a := range tokenPatterns {
		for _, p := range tokenPatterns[a] {
			e := p.elems[0]
			lits := e.alt
			if e.lit != "" {
				lits = []string{e.lit}
			}
			for _, l := range lits {
				if len(l) >= 2 {
					t[l[0]][l[1]] = true
				}
			}
		}
	}
	return t
}()

// isWord reports whether c belongs to a word for boundary purposes:
// letters, digits and '_' (so that "my_ghp_..." is not a token start).
func isWord(c byte) bool { return wordByte[c] }

var wordByte = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		t[c] = b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '_'
	}
	return t
}()

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// escaped reports whether s[i] follows a percent-escape ("%20").
func escaped[T Text](s T, i int) bool {
	return i >= 3 && s[i-3] == '%' && isHex(s[i-2]) && isHex(s[i-1])
}

// hasPrefixAt reports whether s[i:] starts with p.
func hasPrefixAt[T Text](s T, i int, p string) bool {
	if len(s)-i < len(p) {
		return false
	}
	for j := 0; j < len(p); j++ {
		if s[i+j] != p[j] {
			return false
		}
	}
	return true
}

// hasFoldPrefixAt is hasPrefixAt ignoring ASCII case (p is lower case).
func hasFoldPrefixAt[T Text](s T, i int, p string) bool {
	if len(s)-i < len(p) {
		return false
	}
	for j := 0; j < len(p); j++ {
		c := s[i+j]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != p[j] {
			return false
		}
	}
	return true
}
