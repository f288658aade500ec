package dlp

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// seeds are real-shaped values and near misses for the fuzzers' corpora.
var seeds = []string{
	"4111 1111 1111 1111", "3782 822463 10005", "5555555555554444", "6011-1111-1111-1117",
	"DE89370400440532013000", "GB82 WEST 1234 5698 7654 32", "078-05-1120", "AKIAIOSFODNN7EXAMPLE",
	"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	"AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "ghp_a1B2a1B2a1B2a1B2a1B2a1B2a1B2a1B2a1B2",
	"xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
	"https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
	"-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
	"$2b$12$mOfY8.7kqchyW.0HuvtcMeqaXjZp5m4LmRSKOy7ZDCGjQBigHHAjC",
	"$argon2id$v=19$m=102400,t=2,p=8$xtj7f2+tFSLEuDdGiHEupQ$3b1J3j+u9HWg1yxcIq7B9w",
	"$6$rounds=656000$9PxQO.nC0sdM0NjY$mWvnJ8J1iu3LS4J.mkhfRASwC/.lhPRmSpEteftpaq2LAjmdnLxwEenlnZfGKof/YiKk.Npz2xmtMyU6ifBdR.",
	"pbkdf2_sha256$29000$tzjwmVbHgRmu$t9cY4s6Nt4inaMWUbEHMGC1+Nczv1uWbTHqFdznYIoc=",
	"{SSHA}IenGx0BIY0CrMWwZ/RGaz/xBETTx/h/j", "$y$j9T$2pdDsUvc5LGrYxbC2EjMb.$K/n5sZpYWUjAuouOO.Xi0.2xo1RghZMXtbbAkuGG4wA",
	"4111 1111 1111 1111 2031", "1-212-55-1234", "eyJ.eyJ.", "$2b$12$", "-----BEGIN ", "DE00", "xox-",
}

// FuzzFind checks the scanner's invariants on any input: matches are in
// order, inside the text, never overlap, are the same for bytes and
// strings; and redacting is idempotent (a placeholder never forms a new
// value with its neighbours).
func FuzzFind(f *testing.F) {
	for _, s := range seeds {
		f.Add(s)
		f.Add(`{"v":"` + s + `","n":` + s + `}`)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms := Find(s, All, nil)
		last := 0
		for _, m := range ms {
			if m.Start < last || m.End <= m.Start || m.End > len(s) || m.Kind >= numKinds {
				t.Fatalf("bad match %+v after %d in %q", m, last, s)
			}
			last = m.End
		}
		if bs := Find([]byte(s), All, nil); !slices.Equal(bs, ms) {
			t.Fatalf("bytes %v, string %v", bs, ms)
		}
		r := Redact(s, All)
		if r2 := Redact(r, All); r2 != r {
			t.Fatalf("Redact is not idempotent:\n%q\n%q", r, r2)
		}
		if len(ms) == 0 && r != s {
			t.Fatalf("Redact changed text without a match")
		}
	})
}

// planted builds a valid value of kind k from rng, as text[start:end]
// of the returned text (the name of an AWS secret stays outside).
func planted(k Kind, rng *rand.Rand) (text string, start, end int) {
	pick := func(set string, n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteByte(set[rng.IntN(len(set))])
		}
		return b.String()
	}
	const dig, upAlnum, alnum, b64u, c64 = "0123456789", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
		"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	whole := func(v string) (string, int, int) { return v, 0, len(v) }
	switch k {
	case Card:
		issuers := []struct {
			p string
			n int
		}{{"4", 16}, {"4", 13}, {"51", 16}, {"55", 16}, {"2221", 16}, {"34", 15}, {"37", 15}, {"6011", 16}, {"65", 19}, {"3528", 16}, {"36", 14}, {"62", 17}, {"2200", 16}, {"9792", 16}, {"56", 18}}
		is := issuers[rng.IntN(len(issuers))]
		d := []byte(is.p + pick(dig, is.n-len(is.p)-1) + "0")
		for c := byte('0'); c <= '9'; c++ {
			d[len(d)-1] = c
			if luhn(d) {
				break
			}
		}
		v := string(d)
		if rng.IntN(2) == 0 && len(v) == 16 {
			sep := []string{" ", "-"}[rng.IntN(2)]
			v = v[:4] + sep + v[4:8] + sep + v[8:12] + sep + v[12:]
		}
		return whole(v)
	case IBAN:
		countries := slices.Collect(func(yield func([2]byte) bool) {
			for c := range ibanLengths {
				if !yield(c) {
					return
				}
			}
		})
		slices.SortFunc(countries, func(a, b [2]byte) int { return strings.Compare(string(a[:]), string(b[:])) })
		cc := countries[rng.IntN(len(countries))]
		bban := pick(upAlnum, ibanLengths[cc]-4)
		v := string(cc[:]) + ibanCheck(string(cc[:]), bban) + bban
		if rng.IntN(2) == 0 {
			var b strings.Builder
			for i := 0; i < len(v); i += 4 {
				if i > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(v[i:min(i+4, len(v))])
			}
			v = b.String()
		}
		return whole(v)
	case SSN:
		area := 1 + rng.IntN(899)
		if area == 666 {
			area = 667
		}
		return whole(pad(area, 3) + "-" + pad(1+rng.IntN(99), 2) + "-" + pad(1+rng.IntN(9999), 4))
	case AWS:
		if rng.IntN(2) == 0 {
			return whole("AKIA" + pick(upAlnum, 16))
		}
		name := []string{"aws_secret_access_key = ", "AWS_SECRET_ACCESS_KEY=", `"awsSecretKey": "`}[rng.IntN(3)]
		key := pick(alnum+"/+", 40)
		return name + key, len(name), len(name) + 40
	case GCP:
		return whole("AIza" + pick(b64u, 35))
	case GitHub:
		return whole([]string{"ghp_", "gho_", "ghs_"}[rng.IntN(3)] + pick(alnum, 36+rng.IntN(10)))
	case Slack:
		return whole("xoxb-" + pick(dig, 12) + "-" + pick(dig, 13) + "-" + pick(alnum, 24))
	case PrivateKey:
		return whole("-----BEGIN PRIVATE KEY-----\n" + pick(alnum, 64) + "\n" + pick(alnum, 20) + "=\n-----END PRIVATE KEY-----")
	case JWT:
		enc := base64.RawURLEncoding.EncodeToString
		return whole(enc([]byte(`{"alg":"RS256","kid":"`+pick(alnum, 8)+`"}`)) + "." + enc([]byte(`{"sub":"`+pick(alnum, 6)+`"}`)) + "." + pick(b64u, 43))
	case PasswordHash:
		return whole("$2b$1" + pick(dig, 1) + "$" + pick(c64, 53))
	}
	panic("no such kind")
}

func pad(n, w int) string { return fmt.Sprintf("%0*d", w, n) }

// FuzzPlantedValueIsAlwaysFound plants a valid value of each kind between
// arbitrary text (separated by "|", which no value contains) and checks
// that every byte of it is inside a match: whatever surrounds a secret, it
// is masked.
func FuzzPlantedValueIsAlwaysFound(f *testing.F) {
	for i, s := range seeds {
		f.Add(s, "tail "+s, uint64(i), uint8(i))
	}
	f.Add("", "", uint64(0), uint8(0))
	f.Add("-----BEGIN EC PRIVATE KEY-----", "", uint64(7), uint8(PrivateKey))
	f.Fuzz(func(t *testing.T, before, after string, seed uint64, kind uint8) {
		k := Kind(kind % uint8(numKinds))
		v, vs, ve := planted(k, rand.New(rand.NewPCG(seed, uint64(kind))))
		if ve-vs < MinLength {
			t.Fatalf("%s %q is shorter than MinLength", k, v[vs:ve])
		}
		s := before + "|" + v + "|" + after
		off := len(before) + 1
		ms := Find(s, All, nil)
		pos := off + vs
		for _, m := range ms {
			if m.Start <= pos && m.End > pos {
				pos = m.End
			}
		}
		if pos < off+ve {
			t.Fatalf("%s %q planted in %q: bytes from %d not masked (matches %v)", k, v[vs:ve], s, pos, ms)
		}
	})
}
