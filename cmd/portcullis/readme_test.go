package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A README command is a shell line (continuations joined) and the exit
// status it promises ("# exit 1" in its comment; 0 otherwise).
type readmeCommand struct {
	line string
	exit int
}

// readmeBlock is one ```sh block of the README or one example's header.
type readmeBlock struct {
	name string
	cmds []readmeCommand
}

// notRun are the commands that the README shows and this test does not
// run, each with its reason. Nothing else is left out.
var notRun = map[string]string{
	"make test":    "it is what runs this test",
	"bench/run.sh": "minutes of load by design; bench/ has its own bounded runs",
	"make build":   "run once before the blocks (the blocks then use its bin/portcullis)",
}

var exitComment = regexp.MustCompile(`#.*\bexit (\d+)\b`)

// stripComment removes a trailing shell comment (a # after a blank,
// outside quotes).
func stripComment(line string) string {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return strings.TrimSpace(line[:i])
		}
	}
	return strings.TrimSpace(line)
}

// commandsOf turns shell lines into commands: continuations joined,
// prompts ("$ ") stripped, output lines of prompted blocks dropped.
func commandsOf(lines []string) []readmeCommand {
	prompted := false
	for _, l := range lines {
		if strings.HasPrefix(l, "$ ") {
			prompted = true
		}
	}
	var out []readmeCommand
	cur := ""
	for _, l := range lines {
		if prompted && cur == "" {
			var ok bool
			if l, ok = strings.CutPrefix(l, "$ "); !ok {
				continue // output shown after the command
			}
		}
		if cur == "" {
			cur = l
		} else {
			cur += strings.TrimLeft(l, " \t")
		}
		if strings.HasSuffix(strings.TrimSpace(cur), "\\") {
			cur = strings.TrimSuffix(strings.TrimSpace(cur), "\\")
			continue
		}
		c := readmeCommand{line: strings.TrimSpace(cur)}
		if m := exitComment.FindStringSubmatch(cur); m != nil {
			c.exit, _ = strconv.Atoi(m[1])
		}
		cur = ""
		if stripComment(c.line) != "" {
			out = append(out, c)
		}
	}
	return out
}

// readmeBlocks returns the README's ```sh blocks.
func readmeBlocks(t *testing.T, file string) []readmeBlock {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []readmeBlock
	var lines []string
	in := false
	heading := ""
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case !in && strings.HasPrefix(l, "#"):
			heading = strings.TrimSpace(strings.TrimLeft(l, "#"))
		case !in && strings.TrimSpace(l) == "```sh":
			in, lines = true, nil
		case in && strings.TrimSpace(l) == "```":
			in = false
			n++
			blocks = append(blocks, readmeBlock{name: fmt.Sprintf("README %d %s", n, heading), cmds: commandsOf(lines)})
		case in:
			lines = append(lines, l)
		}
	}
	return blocks
}

// headerCommand matches a command in an example's header comment.
var headerCommand = regexp.MustCompile(`^#\s{2,}((?:[A-Z_]+=\S+ )*(?:bin/portcullis|until|curl) .*)$`)

// exampleHeaderBlocks returns the commands in the leading comments of
// every example config.
func exampleHeaderBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	files, _ := filepath.Glob("../../examples/*.yaml")
	more, _ := filepath.Glob("../../examples/*/*.yaml")
	files = append(files, more...)
	var blocks []readmeBlock
	for _, f := range files {
		b, _ := os.ReadFile(f)
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(l, "#") {
				break
			}
			if m := headerCommand.FindStringSubmatch(l); m != nil {
				lines = append(lines, m[1])
			}
		}
		if len(lines) > 0 {
			rel, _ := filepath.Rel("../..", f)
			blocks = append(blocks, readmeBlock{name: rel, cmds: commandsOf(lines)})
		}
	}
	return blocks
}

// longRunning are commands that serve until interrupted: the test starts
// them, waits until they are ready, and stops them with SIGINT at the end
// of the block, expecting a clean exit.
var longRunning = regexp.MustCompile(`^(?:[A-Z_]+=\S+ )*bin/portcullis (?:demo|serve)\b`)

// script renders a block as one bash script. Substitutes: a fresh network
// namespace gives the block its own loopback (the README's ports are
// free, nothing of the machine's is reached); /etc/portcullis/ is a
// temporary directory; TOKEN is the demo's admin token. A block that does
// not start a gateway itself runs with `bin/portcullis demo` in the
// background, the gateway the README's curl lines talk to.
func (b readmeBlock) script() string {
	var s strings.Builder
	s.WriteString(`set -u
ip link set lo up
tmp=$(mktemp -d)
mkdir -p "$tmp/etc/portcullis"
export TOKEN=demo-admin-token
pids=()
ready() { # wait until the log in $1 says the gateway is up, or its process $2 died
  for _ in $(seq 1 600); do
    grep -q -e 'admin listening' -e 'Press Ctrl-C' "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { echo "exited before it was ready:"; cat "$1"; exit 1; }
    sleep 0.1
  done
  echo "not ready after 60s:"; cat "$1"; exit 1
}
stop() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p"; st=$?; [ $st -eq 0 ] || { echo "a server exited $st after SIGINT"; exit 1; }; done
}
`)
	starts := false
	for _, c := range b.cmds {
		if longRunning.MatchString(stripComment(c.line)) {
			starts = true
		}
	}
	if !starts {
		s.WriteString("bin/portcullis demo > \"$tmp/env.log\" 2>&1 & pids+=($!); ready \"$tmp/env.log\" $!\n")
	}
	for i, c := range b.cmds {
		line := strings.ReplaceAll(stripComment(c.line), "/etc/portcullis/", "$tmp/etc/portcullis/")
		if _, skip := notRun[line]; skip {
			continue
		}
		log := fmt.Sprintf("\"$tmp/cmd%d.log\"", i)
		switch bg := strings.HasSuffix(line, "&"); {
		case longRunning.MatchString(line):
			line = strings.TrimSpace(strings.TrimSuffix(line, "&"))
			fmt.Fprintf(&s, "%s > %s 2>&1 & pids+=($!); ready %s $!\n", line, log, log)
		case bg:
			fmt.Fprintf(&s, "%s pids+=($!)\n", line)
		default:
			fmt.Fprintf(&s, "{ %s\n} > %s 2>&1; st=$?\n", line, log)
			fmt.Fprintf(&s, "[ $st -eq %d ] || { echo %s; echo \"exit $st, want %d\"; cat %s; stop; exit 1; }\n",
				c.exit, strconv.Quote(c.line), c.exit, log)
		}
	}
	s.WriteString("stop\n")
	return s.String()
}

// untracked lists files git does not know in the repository (ignored ones
// included), so that a command writing into the work tree is noticed.
func untracked(t *testing.T, root string) map[string]bool {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=all", "--ignored").Output()
	if err != nil {
		t.Skipf("git status: %v (not a git checkout)", err)
	}
	m := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "??") || strings.HasPrefix(l, "!!") {
			m[strings.TrimSpace(l[2:])] = true
		}
	}
	return m
}

// TestReadmeCommands executes every shell command of README.md and of the
// examples' header comments, as written, and checks each exit status; it
// also checks that none writes a file into the repository.
func TestReadmeCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the README's scans (about a minute)")
	}
	for _, tool := range []string{"unshare", "ip", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed", tool)
		}
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("a network namespace needs root")
		}
		t.Skip("a network namespace (unshare --net) needs root")
	}
	root, _ := filepath.Abs("../..")
	blocks := append(readmeBlocks(t, filepath.Join(root, "README.md")), exampleHeaderBlocks(t)...)
	total := 0
	for _, b := range blocks {
		total += len(b.cmds)
	}
	if len(blocks) < 10 || total < 25 {
		t.Fatalf("found %d blocks, %d commands: the parser lost some", len(blocks), total)
	}

	// make build, as the README's first command says, outside the
	// namespace (it may need the module proxy).
	build := exec.Command("make", "build")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	before := untracked(t, root)
	for _, b := range blocks {
		t.Run(b.name, func(t *testing.T) {
			// A hang guard: the first block builds and starts the demo, which
			// takes minutes on a machine loaded by the race tests of every package.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "unshare", "--net", "bash", "-c", b.script())
			cmd.Dir = root
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v\n%s\nscript:\n%s", err, out.String(), b.script())
			}
		})
	}
	for f := range untracked(t, root) {
		if !before[f] {
			t.Errorf("a README command wrote %s into the repository", f)
		}
	}
}

// TestReadmeParser: the block parser keeps what it must.
func TestReadmeParser(t *testing.T) {
	cmds := commandsOf([]string{
		"$ curl -s 'http://x/#a' # exit 3",
		`{"type": "x"}`,
	})
	if len(cmds) != 1 || cmds[0].exit != 3 || stripComment(cmds[0].line) != "curl -s 'http://x/#a'" {
		t.Fatalf("prompted block: %+v", cmds)
	}
	cmds = commandsOf([]string{"a \\", "  b   # exit 1", "", "# only a comment", "c &"})
	if len(cmds) != 2 || stripComment(cmds[0].line) != "a b" || cmds[0].exit != 1 || cmds[1].line != "c &" {
		t.Fatalf("continuations: %+v", cmds)
	}
}

// TestReadmeMinimalConfig: the config the README shows as
// examples/minimal.yaml is that file, comments aside.
func TestReadmeMinimalConfig(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "`examples/minimal.yaml`, the smallest useful config")
	if !ok {
		t.Fatal("the README does not show examples/minimal.yaml")
	}
	_, block, _ := strings.Cut(after, "```yaml\n")
	block, _, _ = strings.Cut(block, "```")
	file, err := os.ReadFile("../../examples/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range strings.Split(string(file), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			kept = append(kept, l)
		}
	}
	if strings.TrimSpace(strings.Join(kept, "\n")) != strings.TrimSpace(block) {
		t.Fatalf("README shows\n%s\nexamples/minimal.yaml holds\n%s", block, strings.Join(kept, "\n"))
	}
}
