package dlp

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// tool returns the path of a command that produces test data, skipping
// the test when it is missing (failing in CI: scripts/test-deps.sh
// installs every one of them).
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found (scripts/test-deps.sh installs it)", name)
		}
		t.Skipf("%s not found; install it with scripts/test-deps.sh", name)
	}
	return p
}

func output(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("%s %v: %v %s", name, args, err, msg)
	}
	return strings.TrimSpace(string(out))
}

// passlibSchemes are the passlib handlers whose hashes have a shape a
// password store uses and dlp recognises. (DES crypt, LM/NT hashes,
// MySQL, MSSQL and Oracle hashes are bare hex or a few crypt characters:
// nothing tells them from other data, so only field names find them.)
var passlibSchemes = []string{
	"bcrypt", "bcrypt_sha256", "argon2", "scrypt", "pbkdf2_sha1", "pbkdf2_sha256", "pbkdf2_sha512",
	"sha256_crypt", "sha512_crypt", "md5_crypt", "apr_md5_crypt", "phpass", "sun_md5_crypt", "sha1_crypt",
	"bsd_nthash", "cta_pbkdf2_sha1", "dlitz_pbkdf2_sha1", "scram", "grub_pbkdf2_sha512",
	"django_pbkdf2_sha256", "django_pbkdf2_sha1", "django_argon2", "django_bcrypt_sha256", "django_bcrypt",
	"django_salted_sha1", "django_salted_md5", "postgres_md5",
	"ldap_salted_sha1", "ldap_salted_sha256", "ldap_salted_sha512", "ldap_sha1", "ldap_salted_md5", "ldap_md5",
	"ldap_pbkdf2_sha256", "ldap_sha512_crypt", "atlassian_pbkdf2_sha1", "fshp",
}

// realHashes asks real password-hashing tools for hashes: passlib (the
// Python library Debian ships), mkpasswd (libxcrypt), htpasswd (Apache),
// the argon2 reference CLI and OpenSSL.
func realHashes(t *testing.T) map[string]string {
	t.Helper()
	py := tool(t, "/usr/bin/python3")
	script := `
import json, sys, passlib.hash as h
out = {}
for n in sys.argv[1:]:
    H = getattr(h, n)
    # The cheapest settings each scheme allows: the format is what counts.
    kw = {}
    if "rounds" in getattr(H, "setting_kwds", ()) and getattr(H, "min_rounds", None) is not None:
        kw["rounds"] = max(H.min_rounds, 1)
    if "memory_cost" in getattr(H, "setting_kwds", ()):
        kw["memory_cost"] = 64
    if kw:
        H = H.using(**kw)
    out["passlib " + n] = H.hash("correct horse", user="alice") if n == "postgres_md5" else H.hash("correct horse")
print(json.dumps(out))
`
	raw := output(t, "", py, append([]string{"-c", script}, passlibSchemes...)...)
	hashes := map[string]string{}
	if err := json.Unmarshal([]byte(raw), &hashes); err != nil {
		t.Fatalf("passlib output: %v", err)
	}
	mk := tool(t, "mkpasswd")
	for _, m := range []string{"yescrypt", "gost-yescrypt", "scrypt", "bcrypt", "bcrypt-a", "sha512crypt", "sha256crypt", "sunmd5", "md5crypt", "nt"} {
		hashes["mkpasswd "+m] = output(t, "", mk, "-m", m, "correct horse")
	}
	ht := tool(t, "htpasswd")
	for _, f := range []string{"-B", "-m", "-s", "-2", "-5"} {
		line := output(t, "", ht, "-nb"+f[1:], "alice", "correct horse")
		hashes["htpasswd "+f] = strings.TrimPrefix(line, "alice:")
	}
	a2 := tool(t, "argon2")
	for _, v := range []string{"-id", "-i", "-d"} {
		hashes["argon2 "+v] = output(t, "correct horse", a2, "saltsaltsalt", v, "-e")
	}
	ossl := tool(t, "openssl")
	for _, v := range []string{"-1", "-5", "-6", "-apr1"} {
		hashes["openssl passwd "+v] = output(t, "", ossl, "passwd", v, "correct horse")
	}
	return hashes
}

func TestPasswordHashesFromRealTools(t *testing.T) {
	for name, h := range realHashes(t) {
		t.Run(name, func(t *testing.T) {
			for _, ctx := range []string{"%s", `{"password":"%s"}`, "user alice hash=%s; done", "alice:%s:19000:0:99999:7:::"} {
				s := strings.Replace(ctx, "%s", h, 1)
				ms := Find(s, All, nil)
				if !covered(ms, strings.Index(s, h), strings.Index(s, h)+len(h), PasswordHash) {
					t.Errorf("in %q: got %v, want the whole hash as password-hash", s, ms)
				}
			}
		})
	}
}

// covered reports whether [start, end) lies inside one match of kind k,
// allowing a fixed, non-secret scheme prefix (Django's "bcrypt$",
// "{CRYPT}") outside it.
func covered(ms []Match, start, end int, k Kind) bool {
	for _, m := range ms {
		if m.Kind == k && m.End == end && m.Start >= start && m.Start-start <= 16 {
			return true
		}
	}
	return false
}

func TestPrivateKeysFromRealTools(t *testing.T) {
	ossl := tool(t, "openssl")
	dir := t.TempDir()
	keys := map[string]string{
		"rsa pkcs8":    output(t, "", ossl, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"),
		"ec pkcs8":     output(t, "", ossl, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"),
		"ed25519":      output(t, "", ossl, "genpkey", "-algorithm", "ED25519"),
		"rsa pkcs1":    output(t, "", ossl, "genrsa", "-traditional", "1024"),
		"ec sec1":      output(t, "", ossl, "ecparam", "-genkey", "-name", "prime256v1", "-noout"),
		"encrypted p8": output(t, "", ossl, "genpkey", "-algorithm", "ED25519", "-aes256", "-pass", "pass:x"),
	}
	kg := tool(t, "ssh-keygen")
	f := filepath.Join(dir, "id")
	output(t, "", kg, "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", f)
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	keys["openssh"] = strings.TrimSpace(string(b))
	for name, k := range keys {
		t.Run(name, func(t *testing.T) {
			enc, _ := json.Marshal(map[string]string{"private_key": k, "type": "service_account"})
			for _, s := range []string{k, "key:\n" + k + "\nthat was it", string(enc)} {
				red := Redact(s, All)
				body := strings.Split(k, "\n")[1]
				if strings.Contains(red, body) || !strings.Contains(red, Placeholder(PrivateKey)) {
					t.Errorf("Redact left the key in %q", red)
				}
			}
		})
	}
}
