package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/stage/authn"
	"github.com/portcullis/portcullis/internal/stage/waf"
)

// secretMaker makes fresh credential-shaped values (random every run, so
// no constant can be special-cased) in the formats people put in requests.
type secretMaker struct{ rng *mrand.Rand }

func (m secretMaker) b64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (m secretMaker) make() string {
	switch m.rng.IntN(7) {
	case 0:
		return "eyJhbGciOiJIUzI1NiJ9." + m.b64(24) + "." + m.b64(32)
	case 1:
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		return "pk_" + hex.EncodeToString(b) + "_" + m.b64(24)
	case 2:
		return "sk_live_" + m.b64(24)
	case 3:
		return "ghp_" + m.b64(27)
	case 4:
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	case 5:
		return "AKIA" + strings.ToUpper(hex.EncodeToString([]byte(m.b64(6))))[:16]
	}
	return m.b64(30) // a random opaque token
}

// plants returns raw HTTP/1.1 requests, each carrying the secret in one of
// the places a request can carry one (well-formed or not).
func plants(sec, key string, rng *mrand.Rand) []string {
	names := []string{"token", "auth_token", "jwt", "pass", "pwd", "private_key", "otp", "x-api-key",
		"X-Amz-Signature", "accessToken", "client_secret", "session", "q", "note", "v"}
	name := names[rng.IntN(len(names))]
	sep := "&"
	if rng.IntN(2) == 0 {
		sep = ";"
	}
	hdrs := []string{"X-Api-Key", "X-Auth-Token", "X-Session-Token", "Private-Token", "X-Custom-Credential", "X-Anything"}
	hdr := hdrs[rng.IntN(len(hdrs))]
	jsonBody := fmt.Sprintf(`{"password":"%s","q":"1' OR '1'='1 %s"}`, sec, sec)
	h := "Host: api.example\r\n"
	return []string{
		"GET /orders?a=1" + sep + name + "=" + sec + sep + "b=2 HTTP/1.1\r\n" + h + "\r\n",
		"GET /keys/" + sec + "/rotate HTTP/1.1\r\n" + h + "\r\n",
		"GET /orders HTTP/1.1\r\n" + h + "Authorization: Bearer " + sec + "\r\n\r\n",
		"GET /orders HTTP/1.1\r\n" + h + hdr + ": " + sec + "\r\n\r\n",
		"GET /orders HTTP/1.1\r\n" + h + "Cookie: sid=" + sec + "\r\n\r\n",
		"GET /orders HTTP/1.1\r\n" + h + "User-Agent: client/1.0 (" + sec + ")\r\n\r\n",
		"GET /orders HTTP/1.1\r\n" + h + "X-Api-Key: " + key + sec[:4] + "\r\n\r\n", // a wrong key: authn refuses it
		"POST /orders HTTP/1.1\r\n" + h + "Content-Type: application/json\r\nContent-Length: " + fmt.Sprint(len(jsonBody)) + "\r\n\r\n" + jsonBody,
		"GET /orders?q=%3Cscript%3Ealert(1)%3C/script%3E" + sep + name + "=" + sec + " HTTP/1.1\r\n" + h + "\r\n",
		// Malformed heads: the listener refuses them, with an excerpt.
		"GET /orders HTTP/1.1\r\n" + h + "X-Api-Key:\r\n " + sec + "\r\n\r\n",
		"GET /orders HTTP/1.1\r\n" + h + "X-Note: a\r\n\t" + sec + "\r\n\r\n",
		"GET /keys/" + sec + "/%zz HTTP/1.1\r\n" + h + "\r\n",
		"GET /orders?" + name + "=" + sec + "&bad=%zz HTTP/1.1\r\n" + h + "\r\n",
		"GET /orders HTTP/1.1\r\n" + h + "Authorization: Bearer " + sec + "\r\nHost: other\r\n\r\n",
		"POST /orders HTTP/1.1\r\n" + h + "X-Auth-Token: " + sec + "\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET /orders HTTP/1.1\r\n" + h + "Bad Header: " + sec + "\r\n\r\n",
	}
}

// TestPlantedSecretsNeverReachASink is the sink-side fuzz test for finding
// 7 of issue 11: secrets planted in every place a request can carry one
// (query under many names and both separators, path, credential and
// arbitrary headers, cookies, user agent, JSON body fields that trip the
// WAF, folded and malformed header lines) are sent through the real
// server; the JSONL file, the SQLite database (its raw pages and WAL) and
// the access log are then searched for every secret and for a piece of
// it.
func TestPlantedSecretsNeverReachASink(t *testing.T) {
	up := httptest.NewServer(&recorder{})
	defer up.Close()
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "keys.yaml")
	key, k, _ := authn.NewKey("alice", time.Now())
	if err := (&authn.KeyFile{Keys: []*authn.Key{k}}).Save(keysFile); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(up.URL)
	cfg.Stages = nil
	cfg.Events.JSONL = filepath.Join(dir, "events.jsonl")
	cfg.Events.SQLite = filepath.Join(dir, "events.db")
	cfg.Events.ClientBurst = -1 // every event written: nothing hides in a summary
	accessPath := filepath.Join(dir, "access.log")
	cfg.Log.Access = accessPath
	cfg.APIs[0].Stages.Set(&authn.Config{Optional: true, Methods: []authn.Method{{APIKey: &authn.APIKeyConfig{File: keysFile}}}})
	cfg.APIs[0].Stages.Set(&waf.Config{Mode: waf.ModeDetect})
	cfg.Admin.Disabled = true
	cfg.WithDefaults()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(cfg, Options{Listeners: []net.Listener{ln}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}

	rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 11))
	m := secretMaker{rng}
	var planted []string
	for round := 0; round < 12; round++ {
		sec := m.make()
		planted = append(planted, sec)
		for _, req := range plants(sec, key[:len(key)-4], rng) {
			sendRaw(t, ln.Addr().String(), req)
		}
	}
	if err := srv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	sinks := map[string][]byte{}
	for _, p := range []string{cfg.Events.JSONL, cfg.Events.SQLite, cfg.Events.SQLite + "-wal", accessPath} {
		if b, err := os.ReadFile(p); err == nil {
			sinks[filepath.Base(p)] = b
		}
	}
	if len(sinks["events.jsonl"]) == 0 || len(sinks["access.log"]) == 0 || len(sinks["events.db"]) == 0 {
		t.Fatalf("a sink is empty: %v", func() map[string]int {
			n := map[string]int{}
			for k, v := range sinks {
				n[k] = len(v)
			}
			return n
		}())
	}
	if !bytes.Contains(sinks["events.jsonl"], []byte(`"type":"detection"`)) || !bytes.Contains(sinks["events.jsonl"], []byte(`"type":"malformed"`)) {
		t.Fatal("the test did not produce detection and malformed events (nothing to leak through)")
	}
	for _, sec := range planted {
		piece := sec[len(sec)/2-6 : len(sec)/2+6]
		for name, b := range sinks {
			if bytes.Contains(b, []byte(sec)) || bytes.Contains(b, []byte(piece)) {
				i := bytes.Index(b, []byte(piece))
				t.Errorf("%s holds planted secret %q: …%q…", name, sec, b[max(0, i-120):min(len(b), i+60)])
			}
		}
	}
	// The key's own secret part never appears either.
	for name, b := range sinks {
		if bytes.Contains(b, []byte(key[len(key)-12:])) {
			t.Errorf("%s holds the API key", name)
		}
	}
}

// sendRaw writes one raw request and reads until the server answers and
// closes or keeps the connection (the first response is enough).
func sendRaw(t *testing.T, addr, req string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		return
	}
	buf := make([]byte, 4096)
	_, _ = c.Read(buf)
}
