package redact

import (
	"net/http"
	"strings"
	"testing"
)

// secretNameBefore is SecretName as it was written before names were
// normalised on the stack: the reference the faster one must agree with.
func (r *Redactor) secretNameBefore(name string) bool {
	if name == "" {
		return false
	}
	if r != nil && (r.query[normalize(name)] || r.headers[http.CanonicalHeaderKey(name)]) {
		return true
	}
	if secretWordBefore(name) {
		return true
	}
	flat := strings.ReplaceAll(normalize(name), "_", "")
	for _, p := range secretParts {
		if strings.Contains(flat, p) {
			return true
		}
	}
	return false
}

func secretWordBefore(name string) bool {
	start := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		isSep := !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80)
		camel := i > start && c >= 'A' && c <= 'Z' && name[i-1] >= 'a' && name[i-1] <= 'z'
		if !isSep && !camel {
			continue
		}
		if i > start && secretWords[strings.ToLower(name[start:i])] {
			return true
		}
		start = i
		if isSep {
			start = i + 1
		}
	}
	return len(name) > start && secretWords[strings.ToLower(name[start:])]
}

var secretNameSeeds = []string{
	"", "q", "limit", "Q", "api_key", "API-KEY", "X-Api-Key", "x-api-key", "x api key", "accessToken", "client_secret",
	"Authorization", "authorization", "proxy-authorization", "PASSWORD", "passWord", "user.pass", "sessionId", "SID",
	"x-auth-token", "X-AUTH-TOKEN", "cookie", "Set-Cookie", "token[]", "data[token]", "páss", "PÁSSWORD", "ǅtoken",
	"CREDENTIALS", "privateKey", "pk", "signature", "x-amz-signature", "x-custom-secret-header", "my_header",
	strings.Repeat("a", 70) + "token", strings.Repeat("X-", 40) + "Key", "a\x00b", "key\xff", "Ünïcode-Kéy",
}

// TestSecretNameAgrees: the stack-buffer SecretName answers as the
// allocating one did, with default and extra names, for every case,
// separator and length around the buffer sizes.
func TestSecretNameAgrees(t *testing.T) {
	for _, r := range []*Redactor{New(nil, nil), New([]string{"X-Custom-Secret-Header", "my-header"}, []string{"pk", "my.param"}), nil} {
		names := append([]string(nil), secretNameSeeds...)
		for _, n := range secretNameSeeds {
			names = append(names, strings.ToUpper(n), strings.ToLower(n), n+"_id", "x-"+n, strings.ReplaceAll(n, "_", "-"))
		}
		for _, n := range names {
			if got, want := r.SecretName(n), r.secretNameBefore(n); got != want {
				t.Errorf("SecretName(%q) = %v, want %v", n, got, want)
			}
			if r == nil || n == "" {
				continue
			}
			if got, want := r.SecretHeader(n), r.headers[http.CanonicalHeaderKey(n)] || r.secretNameBefore(n); got != want {
				t.Errorf("SecretHeader(%q) = %v, want %v", n, got, want)
			}
		}
	}
	r := New(nil, nil)
	if n := testing.AllocsPerRun(100, func() { r.SecretName("Limit"); r.SecretName("q"); r.SecretName("x-request-id") }); n != 0 {
		t.Errorf("%v allocations for three ordinary names, want 0", n)
	}
}

func FuzzSecretName(f *testing.F) {
	for _, s := range secretNameSeeds {
		f.Add(s)
	}
	r := New([]string{"X-Custom-Secret-Header"}, []string{"pk"})
	f.Fuzz(func(t *testing.T, n string) {
		if got, want := r.SecretName(n), r.secretNameBefore(n); got != want {
			t.Errorf("SecretName(%q) = %v, want %v", n, got, want)
		}
	})
}
