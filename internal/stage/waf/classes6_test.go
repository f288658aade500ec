package waf

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http/httptest"
	"net/url"
	"testing"
)

// TestNodeRuntime sends server-side JavaScript aimed at Node.js's runtime
// (CRS 934100's class, whose rule the API tuning removes) as a JSON field
// and as a query value, beside the Node.js snippets and sentences the
// tuning keeps passing.
func TestNodeRuntime(t *testing.T) {
	s := sharedStage(t)
	cases := []struct {
		v     string
		block bool
	}{
		{"process.env", true},
		{`process["env"]`, true},
		{"process[req.query.a]", true},
		{"process.mainModule.require('child_process').execSync('id')", true},
		{"#{process.binding(foo).spawn(foo2)}", true},
		{"require.main", true},
		{"require[req.query.a]", true},
		{"require('child_process').exec('id')", true},
		{`require("fs").readFileSync("/etc/hostname")`, true},
		{"module.exports=1", true},
		{`{"__js_function": "function(){ return 1 }"}`, true},
		{`console["info"](1)`, true},
		{"console.info.call(this,1)", true},
		{"this.constructor.constructor('return process')()", true},
		{"global.process.exit()", true},
		// Sentences and snippets.
		{"We will walk you through the whole process. Env variables come next.", false},
		{"the process [1] is described in the appendix", false},
		{"Please require (at least) two reviewers before merging.", false},
		{"for (let i = 0; i < n; i++) { console.log(i) }", false},
		{"module.exports = { add, remove }", false},
		{"The build process is slow; we require faster machines.", false},
		{"const express = require('express')", false},
	}
	for _, c := range cases {
		b, _ := json.Marshal(map[string]string{"note": c.v})
		for _, r := range []*httptestRequest{
			{"json", jsonRequest(string(b))},
			{"query", httptest.NewRequest("GET", "/items?q="+url.QueryEscape(c.v), nil)},
		} {
			v, err := s.Inspect(exchange(r.r))
			if err != nil {
				t.Fatal(err)
			}
			if v.Blocked != c.block {
				t.Errorf("%s: %q blocked %v (rules %v), want %v", r.place, c.v, v.Blocked, v.Rules, c.block)
			}
		}
	}
}

// TestUploadNames uploads files whose names make a server run them (CRS
// 933110, 944140, 933220's classes), in a multipart part and in an
// X-Filename header, beside ordinary file names.
func TestUploadNames(t *testing.T) {
	s := sharedStage(t)
	cases := []struct {
		name  string
		block bool
	}{
		{"shell.php", true}, {"photo. php", true}, {"photo.php  ", true}, {"x.PHTML", true}, {"a.php5", true},
		{"x.phar", true}, {"shell.jsp", true}, {"shell. jspx", true}, {"up.aspx", true},
		{"sess_d8ew88tqmabdcokhumchsrs9cd", true},
		{"photo.jpg", false}, {"report.pdf", false}, {"php-guide.txt", false}, {"notes.json", false},
		{"session_notes.txt", false}, {"graph.png", false},
	}
	for _, c := range cases {
		var body bytes.Buffer
		w := multipart.NewWriter(&body)
		fw, _ := w.CreateFormFile("file", c.name)
		fw.Write([]byte("GIF89a"))
		w.Close()
		r := httptest.NewRequest("POST", "/upload", &body)
		r.Header.Set("Content-Type", w.FormDataContentType())
		v, err := s.Inspect(exchange(r))
		if err != nil {
			t.Fatal(err)
		}
		if v.Blocked != c.block {
			t.Errorf("multipart filename %q: blocked %v (rules %v), want %v", c.name, v.Blocked, v.Rules, c.block)
		}
		r = httptest.NewRequest("PUT", "/files", bytes.NewReader([]byte("GIF89a")))
		r.Header.Set("Content-Type", "application/octet-stream")
		r.Header.Set("X-Filename", c.name)
		if v, err = s.Inspect(exchange(r)); err != nil {
			t.Fatal(err)
		}
		if v.Blocked != c.block {
			t.Errorf("X-Filename %q: blocked %v (rules %v), want %v", c.name, v.Blocked, v.Rules, c.block)
		}
	}
}

// TestRestrictedFilesInThePath asks for files that span segments (CRS
// 930130's and 930140's lists), whose segments alone are harmless.
func TestRestrictedFilesInThePath(t *testing.T) {
	s := sharedStage(t)
	for _, c := range []struct {
		path  string
		block bool
	}{
		{"/.claude/settings.json", true},
		{"/app/.cursor/mcp.json", true},
		{"/@fs/etc/passwd", true},
		{"/static/.git/config", true},
		{"/proc/self/environ", true},
		{"/api/users/42/profile", false},
		{"/api/processes/7", false},
		{"/api/systems/status", false},
		{"/api/v1/settings.json", false},
	} {
		v, err := s.Inspect(exchange(httptest.NewRequest("GET", c.path, nil)))
		if err != nil {
			t.Fatal(err)
		}
		if v.Blocked != c.block {
			t.Errorf("GET %s: blocked %v (rules %v), want %v", c.path, v.Blocked, v.Rules, c.block)
		}
	}
}

// TestPrototypePollution sends names that reach an object's prototype
// (CRS 934130's class) as JSON keys at any depth, query and form names,
// beside names that only look alike.
func TestPrototypePollution(t *testing.T) {
	s := sharedStage(t)
	for _, c := range []struct {
		method, target, body string
		block                bool
	}{
		{"POST", "/items", `{"title": {"__proto__": {"isAdmin": true}}}`, true},
		{"POST", "/items", `{"constructor": {"prototype": {"isAdmin": true}}}`, true},
		{"POST", "/items", `{"constructor": {"name": "Acme"}, "prototype": {"name": "v2"}}`, false},
		{"GET", "/items?__proto__[isAdmin]=1", "", true},
		{"GET", "/items?constructor.prototype.isAdmin=1", "", true},
		{"GET", "/items?constructor[prototype][isAdmin]=1", "", true},
		{"GET", "/items?prototype=v2&constructor=acme", "", false},
		{"POST", "/items", `{"prototype": "v2", "constructor": "Acme"}`, false},
	} {
		var r = httptest.NewRequest(c.method, c.target, nil)
		if c.body != "" {
			r = jsonRequest(c.body)
		}
		v, err := s.Inspect(exchange(r))
		if err != nil {
			t.Fatal(err)
		}
		if v.Blocked != c.block {
			t.Errorf("%s %s %s: blocked %v (rules %v), want %v", c.method, c.target, c.body, v.Blocked, v.Rules, c.block)
		}
	}
}
