// Command freeport prints n distinct free TCP ports on 127.0.0.1, one per
// line. It holds all of them open until it has found n, so the ports are
// distinct; another process may still take one before the caller does.
//
// Usage: freeport [-n 1]
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
)

func main() {
	n := flag.Int("n", 1, "how many ports")
	flag.Parse()
	if *n < 1 || *n > 64 {
		log.Fatalf("freeport: -n must be from 1 to 64")
	}
	var held []net.Listener
	for range *n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatalf("freeport: %v", err)
		}
		held = append(held, l)
	}
	for _, l := range held {
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
		_ = l.Close()
	}
}
