package scan

import (
	"crypto/hmac"
	"crypto/sha256"
	"testing"
)

func hs256(secret, signed string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(signed))
	return m.Sum(nil)
}

func TestCrackHMACFindsKnownAndNumericSecrets(t *testing.T) {
	signed := b64json(map[string]any{"alg": "HS256", "typ": "JWT"}) + "." + b64json(map[string]any{"sub": "alice"})
	for _, secret := range []string{"lavender", "keyboard cat", "secret", "042917", "7"} {
		got, ok := crackHMAC("HS256", signed, hs256(secret, signed))
		if !ok || got != secret {
			t.Errorf("secret %q: got %q, %v", secret, got, ok)
		}
	}
	if n := len(knownJWTSecrets()); n < 100000 {
		t.Errorf("got %d known secrets, want the public list (> 100000)", n)
	}
}

func TestCrackHMACMissesStrongSecret(t *testing.T) {
	if testing.Short() {
		t.Skip("tries every candidate")
	}
	signed := b64json(map[string]any{"alg": "HS256"}) + "." + b64json(map[string]any{"sub": "alice"})
	if got, ok := crackHMAC("HS256", signed, hs256("Qm9vHk3x-not-in-any-list-8d1f0e2a", signed)); ok {
		t.Errorf("got %q, want no secret found", got)
	}
}
