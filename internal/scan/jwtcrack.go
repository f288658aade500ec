package scan

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/hmac"
	_ "embed"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
)

// jwtSecretsGz is the public list of known JWT secrets (data/README.md
// says where it comes from and under which licence).
//
//go:embed data/jwt-secrets.txt.gz
var jwtSecretsGz []byte

var (
	jwtSecretsOnce sync.Once
	jwtSecrets     []string
)

// knownJWTSecrets returns the built-in dictionary followed by the public
// list, decompressed once.
func knownJWTSecrets() []string {
	jwtSecretsOnce.Do(func() {
		seen := map[string]bool{}
		add := func(w string) {
			if w != "" && !seen[w] {
				seen[w] = true
				jwtSecrets = append(jwtSecrets, w)
			}
		}
		for _, w := range jwtDictionary {
			add(w)
		}
		zr, err := gzip.NewReader(bytes.NewReader(jwtSecretsGz))
		if err != nil {
			return // the embedded file is tested; a broken build still has the dictionary
		}
		sc := bufio.NewScanner(zr)
		sc.Buffer(make([]byte, 64<<10), 64<<10)
		for sc.Scan() {
			add(sc.Text())
		}
	})
	return jwtSecrets
}

// maxDigits is the longest all-digit secret tried: every number of 1 to 6
// digits (leading zeros included), 1,111,110 candidates, about a second
// on one core. Six random digits are what some applications generate and
// call random.
const maxDigits = 6

// crackHMAC looks for the HMAC secret of a token offline: the known
// secrets, then every number of up to maxDigits digits. It uses every CPU
// and stops at the first match.
func crackHMAC(alg, signed string, sig []byte) (string, bool) {
	h := hmacFor(alg)
	if h == nil {
		return "", false
	}
	msg := []byte(signed)
	match := func(secret []byte) bool {
		m := hmac.New(h, secret)
		m.Write(msg)
		return hmac.Equal(m.Sum(nil), sig)
	}
	words := knownJWTSecrets()
	workers := max(1, runtime.NumCPU())
	var found atomic.Value
	var done atomic.Bool
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(words) && !done.Load(); i += workers {
				if match([]byte(words[i])) {
					found.Store(words[i])
					done.Store(true)
				}
			}
			buf := make([]byte, 0, maxDigits)
			for n := 1; n <= maxDigits && !done.Load(); n++ {
				limit := 1
				for range n {
					limit *= 10
				}
				for v := w; v < limit; v += workers {
					if v&1023 == 0 && done.Load() {
						return
					}
					buf = strconv.AppendInt(buf[:0], int64(v), 10)
					for len(buf) < n {
						buf = append([]byte{'0'}, buf...)
					}
					if match(buf) {
						found.Store(string(buf))
						done.Store(true)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if s, ok := found.Load().(string); ok {
		return s, true
	}
	return "", false
}
