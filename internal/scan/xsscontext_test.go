package scan

import "testing"

func TestXSSContext(t *testing.T) {
	p := xssMarker + `"'`
	tests := []struct {
		name, body string
		want       bool
	}{
		{"body text", "<!doctype html><h1>Hello " + p + "</h1>", true},
		{"title", "<!doctype html><title>Not found: " + p + "</title><p>sorry</p>", false},
		{"textarea", "<textarea>" + p + "</textarea>", false},
		{"comment", "<p>x</p><!-- query was " + p + " -->", false},
		{"style", "<style>/* " + p + " */</style>", false},
		{"attribute, quotes unescaped", `<input value="` + p + `">`, true},
		{"attribute, quotes escaped", `<input value="&lt;pcx9k&gt;&#34;&#39;">`, false},
		{"script string", `<script>var q = "` + p + `";</script>`, true},
		{"escaped body", "<h1>Hello &lt;pcx9k&gt;&#34;&#39;</h1>", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			where, got := xssContext([]byte(tt.body))
			if got != tt.want {
				t.Errorf("got %v (%s), want %v", got, where, tt.want)
			}
		})
	}
}
