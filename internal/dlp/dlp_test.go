package dlp

import (
	"fmt"
	"strings"
	"testing"
)

// found returns "kind:value" for every match in s.
func found(s string, set Set) []string {
	var out []string
	for _, m := range Find(s, set, nil) {
		out = append(out, m.Kind.String()+":"+s[m.Start:m.End])
	}
	return out
}

func TestFindKnownValues(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []string // "kind:value"; empty means nothing is found
	}{
		// Card numbers: the networks' published test numbers.
		{"visa", "4111111111111111", []string{"card:4111111111111111"}},
		{"visa 13", "card 4222222222222 on file", []string{"card:4222222222222"}},
		{"mastercard grouped", "pan: 5555 5555 5555 4444.", []string{"card:5555 5555 5555 4444"}},
		{"mastercard 2-series", "2223003122003222", []string{"card:2223003122003222"}},
		{"amex 4-6-5", "3782 822463 10005", []string{"card:3782 822463 10005"}},
		{"amex dashes", "3714-496353-98431", []string{"card:3714-496353-98431"}},
		{"discover", `{"n":"6011111111111117"}`, []string{"card:6011111111111117"}},
		{"jcb", "3530111333300000", []string{"card:3530111333300000"}},
		{"diners", "36227206271667", []string{"card:36227206271667"}},
		{"unionpay 19", "6205500000000000004", []string{"card:6205500000000000004"}},
		{"card then a year", "4242 4242 4242 4242 2031", []string{"card:4242 4242 4242 4242"}},
		{"bad luhn", "4111111111111112", nil},
		{"no issuer (a 16-digit id with a lucky Luhn digit)", "1000000000000008", nil},
		{"visa prefix, wrong length", "41111111111111111", nil},
		{"inside a longer number", "941111111111111111", nil},
		{"inside a word", "x4111111111111111", nil},
		{"after a percent-escape", "/search?q=%27%20OR%201%3D1--%204111111111111111", []string{"card:4111111111111111"}},
		{"escaped key", "key=%22AKIAIOSFODNN7EXAMPLE%22", []string{"aws:AKIAIOSFODNN7EXAMPLE"}},
		{"mixed separators", "4111-1111 1111-1111", nil},
		{"unix millis", "1718000000000", nil},
		{"phone", "+1 415-555-2671", nil},
		// IBAN: the registry's examples.
		{"iban de", "DE89370400440532013000", []string{"iban:DE89370400440532013000"}},
		{"iban gb grouped", "IBAN GB82 WEST 1234 5698 7654 32, thanks", []string{"iban:GB82 WEST 1234 5698 7654 32"}},
		{"iban fr", "FR1420041010050500013M02606", []string{"iban:FR1420041010050500013M02606"}},
		{"iban no", "NO9386011117947", []string{"iban:NO9386011117947"}},
		{"iban bad check", "DE89370400440532013001", nil},
		{"iban wrong length", "DE8937040044053201300", nil},
		{"unknown country", "ZZ89370400440532013000", nil},
		// SSN.
		{"ssn", "SSN 078-05-1120 on the card", []string{"ssn:078-05-1120"}},
		{"ssn spaces", "536 90 4399", []string{"ssn:536 90 4399"}},
		{"ssn area 000", "000-12-3456", nil},
		{"ssn area 666", "666-12-3456", nil},
		{"ssn area 9xx", "912-12-3456", nil},
		{"ssn group 00", "123-00-4567", nil},
		{"ssn serial 0000", "123-45-0000", nil},
		{"phone, not ssn", "1-212-55-1234", nil},
		{"date", "2024-01-15", nil},
		// Cloud and SaaS credentials: AWS's documented example key pair.
		{"aws key id", "key=AKIAIOSFODNN7EXAMPLE&x", []string{"aws:AKIAIOSFODNN7EXAMPLE"}},
		{"aws sts key id", "ASIAY34FZKBOKMUTVV7A", []string{"aws:ASIAY34FZKBOKMUTVV7A"}},
		{"aws secret", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", []string{"aws:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}},
		{"aws secret env", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", []string{"aws:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}},
		{"aws secret json", `{"awsSecretKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`, []string{"aws:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}},
		{"aws key id too short", "AKIAIOSFODNN7EXAMPL", nil},
		{"gcp api key", "https://maps.googleapis.com/?key=AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", []string{"gcp:AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"}},
		{"gcp client secret", "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", []string{"gcp: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"}},
		{"gcp oauth token", "Bearer ya29.a0AfH6SMBx3mY7mOZ1t9kqZx8b", []string{"gcp:ya29.a0AfH6SMBx3mY7mOZ1t9kqZx8b"}},
		{"github classic", "ghp_" + strings.Repeat("a1B2", 9), []string{"github:ghp_" + strings.Repeat("a1B2", 9)}},
		{"github fine-grained", "github_pat_11ABCDEFG0123456789abc_" + strings.Repeat("x9", 30), []string{"github:github_pat_11ABCDEFG0123456789abc_" + strings.Repeat("x9", 30)}},
		{"github inside an identifier", "my_ghp_" + strings.Repeat("a1B2", 9), nil},
		{"github too short", "ghp_abc", nil},
		{"slack bot", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", []string{"slack:xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"}},
		{"slack webhook", "post to https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX now",
			[]string{"slack:https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"}},
		// JWT: jwt.io's example and alg none.
		{"jwt", "Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c.",
			[]string{"jwt:eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"}},
		{"jwt alg none", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.", []string{"jwt:eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0."}},
		{"two segments only", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0", nil},
		{"eyJ in a word", "heyJude.was.here", nil},
		// Private keys.
		{"rsa key", "x\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\ny",
			[]string{"private-key:-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"}},
		{"key in json escapes", `{"private_key":"-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----\n"}`,
			[]string{`private-key:-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----`}},
		{"cut key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE", []string{"private-key:-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE"}},
		{"public key", "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----", nil},
		{"certificate", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", nil},
		// Password hashes.
		{"bcrypt", "$2b$12$" + strings.Repeat("N9qo8uLOickgx2ZMRZoMye", 2) + "IjZAgcfl7p92ldGxad68LJZdL17lhWy"[:9],
			[]string{"password-hash:$2b$12$" + strings.Repeat("N9qo8uLOickgx2ZMRZoMye", 2) + "IjZAgcfl7"}},
		{"bcrypt in django", "bcrypt_sha256$$2b$12$" + strings.Repeat("a", 53), []string{"password-hash:$2b$12$" + strings.Repeat("a", 53)}},
		{"argon2id", "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG", []string{"password-hash:$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"}},
		{"sha512crypt", "$6$saltsalt$" + strings.Repeat("b", 86), []string{"password-hash:$6$saltsalt$" + strings.Repeat("b", 86)}},
		{"sha512crypt rounds", "$6$rounds=5000$saltsalt$" + strings.Repeat("b", 86), []string{"password-hash:$6$rounds=5000$saltsalt$" + strings.Repeat("b", 86)}},
		{"md5crypt", "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", []string{"password-hash:$1$saltsalt$qjXMvbEw8oaL.CzflDugX/"}},
		{"phpass", "$P$B123456789012345678901234567890", []string{"password-hash:$P$B123456789012345678901234567890"}},
		{"django pbkdf2", "pbkdf2_sha256$600000$abc123$" + strings.Repeat("Zm9v", 11), []string{"password-hash:pbkdf2_sha256$600000$abc123$" + strings.Repeat("Zm9v", 11)}},
		{"werkzeug", "pbkdf2:sha256:600000$salt$" + strings.Repeat("ab", 32), []string{"password-hash:pbkdf2:sha256:600000$salt$" + strings.Repeat("ab", 32)}},
		{"ldap ssha", "userPassword: {SSHA}DkMTwBl+a/3DQTxCYEApdUtNXGgdUac3", []string{"password-hash:{SSHA}DkMTwBl+a/3DQTxCYEApdUtNXGgdUac3"}},
		{"a price", "costs $2 or $12.50", nil},
		{"shell variable", "echo $HOME $PATH", nil},
		// Ordinary data that must stay.
		{"uuid", "id 3f2504e0-4f89-11d3-9a0c-0305e82c3301", nil},
		{"sha256 hex", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", nil},
		{"iso date time", "2024-01-02T03:04:05Z", nil},
		{"semver", "v1.22.3", nil},
		{"ipv6", "2001:db8::ff00:42:8329", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := found(c.in, All)
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("got %q, want %q", got, c.want)
			}
			for _, m := range Find(c.in, All, nil) {
				if m.End-m.Start < MinLength {
					t.Fatalf("%q is shorter than MinLength", c.in[m.Start:m.End])
				}
			}
			if bs := Find([]byte(c.in), All, nil); len(bs) != len(got) {
				t.Fatalf("bytes and string disagree: %d vs %d matches", len(bs), len(got))
			}
		})
	}
}

func TestSetSelectsKinds(t *testing.T) {
	s := "4111111111111111 and AKIAIOSFODNN7EXAMPLE"
	if got := found(s, SetOf(AWS)); fmt.Sprint(got) != "[aws:AKIAIOSFODNN7EXAMPLE]" {
		t.Fatalf("got %v", got)
	}
	if got := found(s, 0); got != nil {
		t.Fatalf("empty set found %v", got)
	}
	for _, k := range Kinds() {
		back, ok := ParseKind(k.String())
		if !ok || back != k {
			t.Errorf("ParseKind(%q) = %v, %v", k.String(), back, ok)
		}
	}
	if _, ok := ParseKind("cards"); ok {
		t.Error("ParseKind accepted an unknown name")
	}
}

func TestRedact(t *testing.T) {
	in := "card 4111 1111 1111 1111, key AKIAIOSFODNN7EXAMPLE, ok"
	got := Redact(in, All)
	if want := "card [REDACTED:card], key [REDACTED:aws], ok"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	plain := "nothing to see here"
	if got := Redact(plain, All); got != plain {
		t.Fatalf("got %q", got)
	}
	if n := testing.AllocsPerRun(100, func() { Redact(plain, All) }); n != 0 {
		t.Errorf("Redact of clean text allocates %v times, want 0", n)
	}
	if got := MaskDigits("4111 1111 1111 1111", 4); got != "**** **** **** 1111" {
		t.Errorf("MaskDigits: got %q", got)
	}
	if got := MaskDigits("378282246310005", 0); got != strings.Repeat("*", 15) {
		t.Errorf("MaskDigits keep 0: got %q", got)
	}
}
