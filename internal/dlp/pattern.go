package dlp

// A pattern is a fixed sequence of literals and bounded character runs,
// matched greedily at one position without backtracking. The formats it
// describes (token prefixes, $-separated hash fields) never need more:
// every run is followed by a byte its charset does not hold.

type charset [256]bool

func chars(spec ...string) *charset {
	var c charset
	for _, s := range spec {
		for i := 0; i < len(s); i++ {
			if i+2 < len(s) && s[i+1] == '-' {
				for b := int(s[i]); b <= int(s[i+2]); b++ {
					c[b] = true
				}
				i += 2
				continue
			}
			c[s[i]] = true
		}
	}
	return &c
}

var (
	digits  = chars("0-9")
	upperD  = chars("A-Z0-9")
	alnum   = chars("A-Za-z0-9")
	alnumU  = chars("A-Za-z0-9_")
	b64url  = chars("A-Za-z0-9_-")
	b64std  = chars("A-Za-z0-9+/")
	b64pad  = chars("A-Za-z0-9+/=")
	crypt64 = chars("./A-Za-z0-9")
	hexd    = chars("0-9a-fA-F")
	params  = chars("a-z0-9=,")
	slackCh = chars("A-Za-z0-9-")
	hookCh  = chars("A-Za-z0-9/_-")
	b64any  = chars("A-Za-z0-9+/=._-")
	scramCh = chars("A-Za-z0-9+/=.,-")
)

type elem struct {
	lit      string   // a literal, when set is nil and alt is empty
	fold     bool     // lit compared ignoring ASCII case
	alt      []string // one of these literals (the first that fits)
	set      *charset // a run of bytes of this set
	min, max int
}

func lit(s string) elem                 { return elem{lit: s} }
func alt(s ...string) elem              { return elem{alt: s} }
func run(c *charset, min, max int) elem { return elem{set: c, min: min, max: max} }

type pattern struct {
	kind  Kind
	elems []elem
	// tail, when set, is what must not follow the match (the value would
	// be longer than its format allows).
	tail *charset
}

// matchPattern returns the end of p matched at s[i:], or -1.
func matchPattern[T Text](p *pattern, s T, i int) int {
	j := i
	for _, e := range p.elems {
		switch {
		case e.set != nil:
			k := 0
			for j < len(s) && k < e.max && e.set[s[j]] {
				j++
				k++
			}
			if k < e.min {
				return -1
			}
		case len(e.alt) > 0:
			ok := false
			for _, a := range e.alt {
				if hasPrefixAt(s, j, a) {
					j += len(a)
					ok = true
					break
				}
			}
			if !ok {
				return -1
			}
		case e.fold:
			if !hasFoldPrefixAt(s, j, e.lit) {
				return -1
			}
			j += len(e.lit)
		default:
			if !hasPrefixAt(s, j, e.lit) {
				return -1
			}
			j += len(e.lit)
		}
	}
	if p.tail != nil && j < len(s) && p.tail[s[j]] {
		return -1
	}
	return j
}

// tokenPatterns are the patterns that start a word, by first byte.
var tokenPatterns = [256][]*pattern{
	'A': {
		// AWS access key ids: the documented prefixes, 16 more characters.
		{kind: AWS, elems: []elem{alt("AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "ANPA", "ANVA", "APKA", "AROA", "ASCA"), run(upperD, 16, 16)}, tail: alnum},
		// Google API keys.
		{kind: GCP, elems: []elem{lit("AIza"), run(b64url, 35, 35)}, tail: b64url},
	},
	'G': {{kind: GCP, elems: []elem{lit("GOCSPX-"), run(b64url, 28, 28)}, tail: b64url}},
	'y': {{kind: GCP, elems: []elem{lit("ya29."), run(b64url, 20, 4096)}, tail: b64url}},
	'g': {
		{kind: GitHub, elems: []elem{alt("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), run(alnum, 36, 251)}, tail: alnumU},
		{kind: GitHub, elems: []elem{lit("github_pat_"), run(alnumU, 36, 251)}, tail: alnumU},
		// GRUB 2's PBKDF2 password hash.
		{kind: PasswordHash, elems: []elem{lit("grub.pbkdf2.sha512."), run(digits, 1, 10), lit("."), run(hexd, 32, 1024), lit("."), run(hexd, 32, 1024)}, tail: hexd},
	},
	// Django's salted SHA-1 and MD5, PostgreSQL's md5 and SCRAM-SHA-256.
	'm': {
		{kind: PasswordHash, elems: []elem{lit("md5$"), run(alnum, 1, 64), lit("$"), run(hexd, 32, 32)}, tail: hexd},
		{kind: PasswordHash, elems: []elem{lit("md5"), run(hexd, 32, 32)}, tail: hexd},
	},
	'S': {{kind: PasswordHash, elems: []elem{lit("SCRAM-SHA-256$"), run(digits, 1, 10), lit(":"), run(b64pad, 8, 256), lit("$"), run(b64pad, 20, 256), lit(":"), run(b64pad, 20, 256)}, tail: b64pad}},
	'x': {
		{kind: Slack, elems: []elem{lit("xox"), run(chars("abeoprs"), 1, 1), lit("-"), run(slackCh, 10, 251)}, tail: slackCh},
		{kind: Slack, elems: []elem{lit("xapp-"), run(slackCh, 10, 251)}, tail: slackCh},
	},
	'h': {{kind: Slack, elems: []elem{alt("https://hooks.slack.com/", "http://hooks.slack.com/", "hooks.slack.com/"),
		alt("services/", "workflows/", "triggers/"), run(hookCh, 20, 256)}, tail: hookCh}},
	// Framework password hashes that start with a word.
	'p': {
		// Django: pbkdf2_sha256$<iterations>$<salt>$<base64 hash>.
		{kind: PasswordHash, elems: []elem{alt("pbkdf2_sha256$", "pbkdf2_sha1$", "pbkdf2_sha512$"), run(digits, 1, 10), lit("$"), run(alnum, 1, 128), lit("$"), run(b64pad, 20, 256)}, tail: b64pad},
		// Werkzeug: pbkdf2:sha256:<iterations>$<salt>$<hex hash>.
		{kind: PasswordHash, elems: []elem{alt("pbkdf2:sha256:", "pbkdf2:sha512:", "pbkdf2:sha1:"), run(digits, 1, 10), lit("$"), run(alnum, 1, 128), lit("$"), run(hexd, 32, 256)}, tail: hexd},
	},
	's': {
		// Werkzeug: scrypt:<n>:<r>:<p>$<salt>$<hex hash>.
		{kind: PasswordHash, elems: []elem{lit("scrypt:"), run(digits, 1, 10), lit(":"), run(digits, 1, 4), lit(":"), run(digits, 1, 4), lit("$"), run(alnum, 1, 128), lit("$"), run(hexd, 32, 512)}, tail: hexd},
		{kind: PasswordHash, elems: []elem{lit("sha1$"), run(alnum, 1, 64), lit("$"), run(hexd, 40, 40)}, tail: hexd},
		// Django: scrypt$<n>$<salt>$<r>$<p>$<base64 hash>.
		{kind: PasswordHash, elems: []elem{lit("scrypt$"), run(digits, 1, 10), lit("$"), run(alnum, 1, 128), lit("$"), run(digits, 1, 4), lit("$"), run(digits, 1, 4), lit("$"), run(b64pad, 20, 512)}, tail: b64pad},
	},
}

// hashPatterns are the password-hash formats that start with '$' or '{'.
// They may start inside a word ("bcrypt_sha256$$2b$...", "{CRYPT}$6$...").
var hashPatterns = []*pattern{
	{elems: []elem{alt("$2a$", "$2b$", "$2x$", "$2y$", "$2$"), run(digits, 2, 2), lit("$"), run(crypt64, 53, 53)}, tail: crypt64},
	// argon2 (PHC string format), with and without the version field.
	{elems: []elem{alt("$argon2id$", "$argon2i$", "$argon2d$"), lit("v="), run(digits, 1, 4), lit("$"), lit("m="), run(params, 3, 200), lit("$"), run(b64std, 8, 1024), lit("$"), run(b64std, 16, 1024)}, tail: b64std},
	{elems: []elem{alt("$argon2id$", "$argon2i$", "$argon2d$"), lit("m="), run(params, 3, 200), lit("$"), run(b64std, 8, 1024), lit("$"), run(b64std, 16, 1024)}, tail: b64std},
	// scrypt: passlib's $scrypt$ln=..,r=..,p=..$salt$hash and the $7$ format.
	{elems: []elem{lit("$scrypt$"), lit("ln="), run(params, 3, 200), lit("$"), run(b64std, 4, 1024), lit("$"), run(b64std, 16, 1024)}, tail: b64std},
	{elems: []elem{lit("$7$"), run(crypt64, 11, 128), lit("$"), run(crypt64, 43, 43)}, tail: crypt64},
	// passlib pbkdf2: $pbkdf2-sha256$<rounds>$<salt>$<hash>.
	{elems: []elem{alt("$pbkdf2$", "$pbkdf2-sha1$", "$pbkdf2-sha256$", "$pbkdf2-sha512$"), run(digits, 1, 10), lit("$"), run(crypt64, 1, 128), lit("$"), run(crypt64, 16, 256)}, tail: crypt64},
	// crypt(3): MD5 ($1$, Apache $apr1$), SHA-256 ($5$), SHA-512 ($6$),
	// with an optional rounds= field, and yescrypt/gost-yescrypt.
	{elems: []elem{alt("$1$", "$apr1$"), run(crypt64, 0, 8), lit("$"), run(crypt64, 22, 22)}, tail: crypt64},
	{elems: []elem{lit("$5$rounds="), run(digits, 1, 10), lit("$"), run(crypt64, 0, 16), lit("$"), run(crypt64, 43, 43)}, tail: crypt64},
	{elems: []elem{lit("$5$"), run(crypt64, 0, 16), lit("$"), run(crypt64, 43, 43)}, tail: crypt64},
	{elems: []elem{lit("$6$rounds="), run(digits, 1, 10), lit("$"), run(crypt64, 0, 16), lit("$"), run(crypt64, 86, 86)}, tail: crypt64},
	{elems: []elem{lit("$6$"), run(crypt64, 0, 16), lit("$"), run(crypt64, 86, 86)}, tail: crypt64},
	{elems: []elem{alt("$y$", "$gy$"), run(crypt64, 1, 64), lit("$"), run(crypt64, 1, 128), lit("$"), run(crypt64, 43, 43)}, tail: crypt64},
	// passlib's own formats: bcrypt over SHA-256, PBKDF2 (Cryptacular,
	// dlitz), SCRAM; FreeBSD's NT hash; SunMD5; NetBSD's SHA-1 crypt.
	{elems: []elem{lit("$bcrypt-sha256$"), run(params, 3, 64), lit("$"), run(crypt64, 22, 22), lit("$"), run(crypt64, 31, 31)}, tail: crypt64},
	{elems: []elem{lit("$p5k2$"), run(hexd, 0, 16), lit("$"), run(b64any, 1, 128), lit("$"), run(b64any, 16, 256)}, tail: b64any},
	{elems: []elem{lit("$scram$"), run(digits, 1, 10), lit("$"), run(crypt64, 1, 128), lit("$"), run(scramCh, 20, 2048)}, tail: scramCh},
	{elems: []elem{lit("$3$$"), run(hexd, 32, 32)}, tail: hexd},
	{elems: []elem{lit("$md5"), run(params, 0, 24), lit("$"), run(crypt64, 1, 16), alt("$$", "$"), run(crypt64, 22, 22)}, tail: crypt64},
	{elems: []elem{lit("$sha1$"), run(digits, 1, 10), lit("$"), run(crypt64, 1, 64), lit("$"), run(crypt64, 28, 28)}, tail: crypt64},
	// phpass (WordPress, phpBB) and Drupal 7.
	{elems: []elem{alt("$P$", "$H$"), run(crypt64, 31, 31)}, tail: crypt64},
	{elems: []elem{lit("$S$"), run(crypt64, 52, 52)}, tail: crypt64},
	// LDAP userPassword schemes.
	{elems: []elem{{lit: "{ssha}", fold: true}, run(b64pad, 16, 512)}, tail: b64pad},
	{elems: []elem{{lit: "{ssha256}", fold: true}, run(b64pad, 16, 512)}, tail: b64pad},
	{elems: []elem{{lit: "{ssha512}", fold: true}, run(b64pad, 16, 512)}, tail: b64pad},
	{elems: []elem{{lit: "{sha}", fold: true}, run(b64pad, 16, 512)}, tail: b64pad},
	{elems: []elem{{lit: "{sha256}", fold: true}, run(b64pad, 16, 512)}, tail: b64pad},
	{elems: []elem{{lit: "{sha512}", fold: true}, run(b64pad, 16, 512)}, tail: b64pad},
	{elems: []elem{{lit: "{smd5}", fold: true}, run(b64pad, 16, 512)}, tail: b64pad},
	{elems: []elem{{lit: "{md5}", fold: true}, run(b64pad, 16, 512)}, tail: b64pad},
	{elems: []elem{alt("{PBKDF2}", "{PBKDF2-SHA1}", "{PBKDF2-SHA256}", "{PBKDF2-SHA512}"), run(digits, 1, 10), lit("$"), run(crypt64, 1, 128), lit("$"), run(crypt64, 16, 256)}, tail: crypt64},
	// Atlassian (Jira, Confluence) and FSHP.
	{elems: []elem{lit("{PKCS5S2}"), run(b64pad, 40, 256)}, tail: b64pad},
	{elems: []elem{lit("{FSHP"), run(chars("0-9|"), 1, 24), lit("}"), run(b64pad, 20, 512)}, tail: b64pad},
}

// hashIndex lists the hash patterns by their first two bytes ('$' or
// '{', then the next one), so that the '{' of every JSON object and the
// '$' of every price try nothing, or one or two patterns.
var hashIndex = func() map[[2]byte][]*pattern {
	idx := map[[2]byte][]*pattern{}
	for _, p := range hashPatterns {
		e := p.elems[0]
		lits := e.alt
		if e.lit != "" {
			lits = []string{e.lit}
		}
		seen := map[[2]byte]bool{}
		for _, l := range lits {
			keys := [][2]byte{{l[0], l[1]}}
			if e.fold {
				keys = append(keys, [2]byte{l[0], l[1] - 'a' + 'A'})
			}
			for _, k := range keys {
				if !seen[k] {
					seen[k] = true
					idx[k] = append(idx[k], p)
				}
			}
		}
	}
	return idx
}()

// hashAt matches a password hash starting with '$' or '{' at s[i:].
func hashAt[T Text](s T, i int) int {
	if i+1 >= len(s) {
		return -1
	}
	for _, p := range hashIndex[[2]byte{s[i], s[i+1]}] {
		if end := matchPattern(p, s, i); end > 0 {
			return end
		}
	}
	return -1
}
