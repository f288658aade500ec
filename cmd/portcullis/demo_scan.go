package main

import (
	"fmt"
	"io"
)

// demoVulnerable is `portcullis demo --vulnerable`: the demo API serves the
// scanner lab (internal/demo/vulnerable.go) with its planted flaws.
var demoVulnerable bool

// printVulnerableHint tells how to scan the vulnerable demo API.
func printVulnerableHint(w io.Writer, upstreamAddr string) {
	base := "http://" + upstreamAddr
	fmt.Fprintf(w, `
VULNERABLE LAB: the demo API at %[1]s has planted flaws of every kind
portcullis scan checks. Do not expose it. Scan it directly (alice and bob
log in; the description is the one served at %[1]s/openapi-vulnerable.yaml):

  portcullis scan --config examples/scan/lab.yaml --target %[1]s

or through the gateway to see what it blocks (examples/protect-vulnerable-demo.yaml).
`, base)
}
