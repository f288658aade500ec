package dlp

// card matches a payment card number starting at s[i] (a digit at a word
// boundary): 13-19 digits in one run, or in groups of 2-7 digits separated
// by one space or one dash (the same one throughout, the first group of 4)
// as cards are printed. A grouped number followed by more groups (a card
// and then a year) is tried on its shorter group boundaries too.
func card[T Text](s T, i int) int {
	// Every card number starts with four digits followed by a fifth or a
	// separator (13-19 digits in one run, or a first group of exactly
	// four): most numbers, dates and ids fail this before the arrays
	// below are set up.
	if len(s)-i < 13 || !isDigit(s[i+1]) || !isDigit(s[i+2]) || !isDigit(s[i+3]) {
		return -1
	}
	if c := s[i+4]; !isDigit(c) && c != ' ' && c != '-' {
		return -1
	}
	// Thirteen digits at least, with no more than one separator between
	// two of them (a superset of what the loop below accepts): dates,
	// times, phone numbers and short ids stop here, before its arrays are
	// set up.
	for j, nd := i, 0; nd < 13; j++ {
		if j >= len(s) {
			return -1
		}
		if c := s[j]; isDigit(c) {
			nd++
		} else if c != ' ' && c != '-' || j+1 >= len(s) || !isDigit(s[j+1]) {
			return -1
		}
	}
	var d [19]byte
	var ends [8]int   // index after each group
	var counts [8]int // digits up to the end of each group
	nd, ng, glen := 0, 0, 0
	var sep byte
	j := i
	for j < len(s) {
		c := s[j]
		if isDigit(c) {
			if nd < len(d) {
				d[nd] = c
			}
			nd++
			glen++
			j++
			continue
		}
		if (c == ' ' || c == '-') && (sep == 0 || sep == c) && j+1 < len(s) && isDigit(s[j+1]) && ng < len(ends)-1 {
			if glen < 2 || glen > 7 || ng == 0 && glen != 4 {
				break
			}
			ends[ng], counts[ng] = j, nd
			ng++
			sep, glen = c, 0
			j++
			continue
		}
		break
	}
	if j < len(s) && isWord(s[j]) {
		return -1 // the number goes on into a word ("4111...x")
	}
	if sep == 0 {
		if nd >= 13 && nd <= 19 && validCard(d[:nd]) {
			return j
		}
		return -1
	}
	if glen >= 2 && glen <= 7 {
		ends[ng], counts[ng] = j, nd
		ng++
	}
	for g := ng - 1; g >= 1; g-- {
		if n := counts[g]; n >= 13 && n <= 19 && validCard(d[:n]) {
			return ends[g]
		}
	}
	return -1
}

// validCard checks the issuer prefix, its lengths and the Luhn digit.
func validCard(d []byte) bool {
	return issuer(d) && luhn(d)
}

// luhn reports whether the digits end in a valid Luhn check digit.
func luhn(d []byte) bool {
	sum, double := 0, false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if double {
			if v *= 2; v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

// prefix returns the number formed by the first n digits.
func prefix(d []byte, n int) int {
	v := 0
	for i := 0; i < n && i < len(d); i++ {
		v = v*10 + int(d[i]-'0')
	}
	return v
}

// issuer reports whether the digits start with a known card issuer range
// and have one of its lengths. Ranges (ISO/IEC 7812 IINs as the networks
// publish them) keep 16-digit ids and order numbers with a lucky Luhn
// digit from being taken for cards.
func issuer(d []byte) bool {
	n := len(d)
	p1, p2, p3, p4, p6 := prefix(d, 1), prefix(d, 2), prefix(d, 3), prefix(d, 4), prefix(d, 6)
	between := func(v, lo, hi int) bool { return v >= lo && v <= hi }
	switch {
	case p1 == 4: // Visa
		return n == 13 || n == 16 || n == 19
	case between(p2, 51, 55), between(p4, 2221, 2720): // Mastercard
		return n == 16
	case p2 == 34 || p2 == 37: // American Express
		return n == 15
	case between(p4, 2200, 2204): // Mir
		return n >= 16 && n <= 19
	case p4 == 6011, between(p3, 644, 649), p2 == 65, between(p6, 622126, 622925): // Discover
		return n >= 16 && n <= 19
	case between(p4, 3528, 3589): // JCB
		return n >= 16 && n <= 19
	case between(p3, 300, 305), p4 == 3095, p2 == 36, p2 == 38, p2 == 39: // Diners Club
		return n >= 14 && n <= 19
	case p2 == 62: // UnionPay
		return n >= 16 && n <= 19
	case p4 == 9792: // Troy
		return n == 16
	case p2 == 50, between(p2, 56, 69): // Maestro
		return n >= 13 && n <= 19
	}
	return false
}

// ssn matches a US social security number at s[i]: ddd-dd-dddd or
// ddd dd dddd, not part of a longer dashed number, with the numbers the
// SSA never issues refused.
func ssn[T Text](s T, i int) int {
	if len(s)-i < 11 {
		return -1
	}
	sep := s[i+3]
	if sep != '-' && sep != ' ' || s[i+6] != sep {
		return -1
	}
	for _, k := range []int{0, 1, 2, 4, 5, 7, 8, 9, 10} {
		if !isDigit(s[i+k]) {
			return -1
		}
	}
	end := i + 11
	if end < len(s) && (isWord(s[end]) || s[end] == '-' && end+1 < len(s) && isDigit(s[end+1])) {
		return -1
	}
	if i >= 2 && s[i-1] == '-' && isDigit(s[i-2]) {
		return -1 // the tail of a longer dashed number (a phone number)
	}
	area := int(s[i]-'0')*100 + int(s[i+1]-'0')*10 + int(s[i+2]-'0')
	group := int(s[i+4]-'0')*10 + int(s[i+5]-'0')
	serial := int(s[i+7]-'0')*1000 + int(s[i+8]-'0')*100 + int(s[i+9]-'0')*10 + int(s[i+10]-'0')
	if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
		return -1
	}
	return end
}

// ibanLengths are the IBAN lengths of the countries in the SWIFT IBAN
// registry, by country code.
var ibanLengths = map[[2]byte]int{
	{'A', 'D'}: 24, {'A', 'E'}: 23, {'A', 'L'}: 28, {'A', 'T'}: 20, {'A', 'Z'}: 28, {'B', 'A'}: 20, {'B', 'E'}: 16,
	{'B', 'G'}: 22, {'B', 'H'}: 22, {'B', 'I'}: 27, {'B', 'R'}: 29, {'B', 'Y'}: 28, {'C', 'H'}: 21, {'C', 'R'}: 22,
	{'C', 'Y'}: 28, {'C', 'Z'}: 24, {'D', 'E'}: 22, {'D', 'J'}: 27, {'D', 'K'}: 18, {'D', 'O'}: 28, {'E', 'E'}: 20,
	{'E', 'G'}: 29, {'E', 'S'}: 24, {'F', 'I'}: 18, {'F', 'K'}: 18, {'F', 'O'}: 18, {'F', 'R'}: 27, {'G', 'B'}: 22,
	{'G', 'E'}: 22, {'G', 'I'}: 23, {'G', 'L'}: 18, {'G', 'R'}: 27, {'G', 'T'}: 28, {'H', 'N'}: 28, {'H', 'R'}: 21,
	{'H', 'U'}: 28, {'I', 'E'}: 22, {'I', 'L'}: 23, {'I', 'Q'}: 23, {'I', 'S'}: 26, {'I', 'T'}: 27, {'J', 'O'}: 30,
	{'K', 'W'}: 30, {'K', 'Z'}: 20, {'L', 'B'}: 28, {'L', 'C'}: 32, {'L', 'I'}: 21, {'L', 'T'}: 20, {'L', 'U'}: 20,
	{'L', 'V'}: 21, {'L', 'Y'}: 25, {'M', 'C'}: 27, {'M', 'D'}: 24, {'M', 'E'}: 22, {'M', 'K'}: 19, {'M', 'N'}: 20,
	{'M', 'R'}: 27, {'M', 'T'}: 31, {'M', 'U'}: 30, {'N', 'I'}: 28, {'N', 'L'}: 18, {'N', 'O'}: 15, {'O', 'M'}: 23,
	{'P', 'K'}: 24, {'P', 'L'}: 28, {'P', 'S'}: 29, {'P', 'T'}: 25, {'Q', 'A'}: 29, {'R', 'O'}: 24, {'R', 'S'}: 22,
	{'R', 'U'}: 33, {'S', 'A'}: 24, {'S', 'C'}: 31, {'S', 'D'}: 18, {'S', 'E'}: 24, {'S', 'I'}: 19, {'S', 'K'}: 24,
	{'S', 'M'}: 27, {'S', 'O'}: 23, {'S', 'T'}: 25, {'S', 'V'}: 28, {'T', 'L'}: 23, {'T', 'N'}: 24, {'T', 'R'}: 26,
	{'U', 'A'}: 29, {'V', 'A'}: 22, {'V', 'G'}: 24, {'X', 'K'}: 20, {'Y', 'E'}: 30,
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

// iban matches an IBAN at s[i]: a registered country, two check digits,
// the country's length in upper-case letters and digits (electronic form,
// or groups of four separated by single spaces), and a valid mod-97 check
// (ISO 7064 MOD 97-10).
func iban[T Text](s T, i int) int {
	if len(s)-i < 15 || !isUpper(s[i+1]) || !isDigit(s[i+2]) || !isDigit(s[i+3]) {
		return -1
	}
	want, ok := ibanLengths[[2]byte{s[i], s[i+1]}]
	if !ok {
		return -1
	}
	// Check digits are 02 to 98: 00, 01 and 99 pass the mod-97 test (they
	// are 97, 98 and 2 over again) but are never issued.
	if cd := int(s[i+2]-'0')*10 + int(s[i+3]-'0'); cd < 2 || cd > 98 {
		return -1
	}
	var buf [34]byte
	n, j := 0, i
	spaced := len(s)-i > 4 && s[i+4] == ' '
	for j < len(s) && n < want {
		c := s[j]
		if c == ' ' && spaced && n%4 == 0 && n > 0 && j+1 < len(s) && s[j-1] != ' ' {
			j++
			continue
		}
		if !isUpper(c) && !isDigit(c) {
			break
		}
		buf[n] = c
		n++
		j++
	}
	if n != want || j < len(s) && isWord(s[j]) {
		return -1
	}
	r := 0
	for k := 0; k < n; k++ {
		c := buf[(k+4)%n]
		if isDigit(c) {
			r = (r*10 + int(c-'0')) % 97
		} else {
			r = (r*100 + int(c-'A'+10)) % 97
		}
	}
	if r != 1 {
		return -1
	}
	return j
}

// privateKey matches a PEM private-key block at s[i] ("-----BEGIN ...
// PRIVATE KEY-----") up to the end of its END line, or to the end of s
// when the block is cut short (what is left of a key is still secret).
func privateKey[T Text](s T, i int) int {
	const begin = "-----BEGIN "
	if !hasPrefixAt(s, i, begin) {
		return -1
	}
	j := i + len(begin)
	label := j
	for j < len(s) && j-label <= 48 && (isUpper(s[j]) || isDigit(s[j]) || s[j] == ' ') {
		j++
	}
	if !hasPrefixAt(s, j, "-----") || !containsAt(s, label, j, "PRIVATE KEY") {
		return -1
	}
	j += 5
	for k := j; k+8 <= len(s); k++ {
		if s[k] == '-' && hasPrefixAt(s, k, "-----END") {
			for m := k + 8; m+5 <= len(s); m++ {
				if s[m] == '-' && hasPrefixAt(s, m, "-----") {
					return m + 5
				}
				if s[m] == '\n' {
					break
				}
			}
			return len(s)
		}
	}
	return len(s)
}

// containsAt reports whether s[from:to] contains p.
func containsAt[T Text](s T, from, to int, p string) bool {
	for k := from; k+len(p) <= to; k++ {
		if hasPrefixAt(s, k, p) {
			return true
		}
	}
	return false
}

// jwt matches a JWT (JWS or JWE compact serialization) at s[i]: three or
// five base64url segments separated by dots, the first a JSON object
// ("eyJ" is the base64url of `{"`) of at least 8 characters. A dot right
// after the last segment (the end of a sentence) is not part of it.
func jwt[T Text](s T, i int) int {
	if !hasPrefixAt(s, i, "eyJ") {
		return -1
	}
	var ends [6]int // index after each segment
	var lens [6]int
	seg, j := 0, i
	for seg < len(ends) {
		k := j
		for k < len(s) && b64url[s[k]] {
			k++
		}
		lens[seg], ends[seg] = k-j, k
		seg++
		j = k
		if j < len(s) && s[j] == '.' && seg < len(ends) {
			j++
			continue
		}
		break
	}
	if lens[seg-1] == 0 && (seg == 4 || seg == 6) {
		seg-- // "….sig." : the sentence's full stop
		j = ends[seg-1]
	}
	switch {
	case lens[0] < 8:
		return -1
	case seg == 3 && lens[1] >= 2: // JWS: header.payload.signature (may be empty: alg none)
	case seg == 5 && lens[2] >= 2 && lens[3] >= 2: // JWE: header.key.iv.ciphertext.tag (key empty for dir)
	default:
		return -1
	}
	if j < len(s) && isWord(s[j]) {
		return -1
	}
	return j
}

// awsSecret matches an AWS secret access key written after its name, as
// environment files, shell history, logs and config files have it:
// aws_secret_access_key = "…", AWS_SECRET_ACCESS_KEY=…, "awsSecretKey": "…".
// The match is the key alone (40 characters of [A-Za-z0-9/+]); the name
// stays readable.
func awsSecret[T Text](s T, i int) (int, int) {
	if !hasFoldPrefixAt(s, i, "aws") {
		return i, -1
	}
	j := i + 3
	skipSep := func() {
		if j < len(s) && (s[j] == '_' || s[j] == '-' || s[j] == '.' || s[j] == ' ') {
			j++
		}
	}
	skipSep()
	if !hasFoldPrefixAt(s, j, "secret") {
		return i, -1
	}
	j += 6
	for _, w := range []string{"access", "key"} {
		k := j
		skipSep()
		if hasFoldPrefixAt(s, j, w) {
			j += len(w)
		} else {
			j = k
		}
	}
	// Quotes and spaces, then = or : (or =>), then quotes and spaces.
	for j < len(s) && (s[j] == '"' || s[j] == '\'' || s[j] == ' ' || s[j] == '\t') {
		j++
	}
	if j >= len(s) || s[j] != '=' && s[j] != ':' {
		return i, -1
	}
	j++
	if j < len(s) && s[j] == '>' {
		j++
	}
	for j < len(s) && (s[j] == '"' || s[j] == '\'' || s[j] == ' ' || s[j] == '\t') {
		j++
	}
	start := j
	for j < len(s) && j-start < 41 && b64std[s[j]] {
		j++
	}
	if j-start != 40 {
		return i, -1
	}
	return start, j
}
