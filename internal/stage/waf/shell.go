package waf

import (
	"bufio"
	"strings"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
)

// Shell command injection (rule waf.cmdi). The vocabulary is the CRS's own
// (unix-shell.data, unix-shell-builtins.data, windows-powershell-commands
// .data) plus the Windows cmd.exe commands of Microsoft's command
// reference; the decision is ours: a command word counts only where a
// shell would run it, so that prose which happens to contain command
// names ("cat food; more later") passes.

// shellWords maps a lower-case command name to its kind.
var shellWords = map[string]cmdKind{}

type cmdKind uint8

const (
	cmdUnix cmdKind = 1 << iota
	cmdWindows
	cmdPowerShell
	// cmdStrong: a command whose name is not an everyday English word
	// (whoami, wget, powershell...): it counts after any separator.
	cmdStrong
)

// windowsCommands are the commands of cmd.exe and Windows' system tools
// (Microsoft's "Windows commands" reference).
var windowsCommands = strings.Fields(`assoc attrib cd bcdedit bitsadmin cacls call certutil chcp chdir chkdsk cipher
cls cmd cmdkey color comp compact copy cscript date defrag del diskpart dism dir doskey driverquery echo
endlocal erase eventcreate eventtriggers expand fc find findstr for forfiles format fsutil ftype getmac goto
gpresult gpupdate icacls if ipconfig label mkdir mklink mode more mountvol move msiexec nbtstat net net1
netsh netstat nltest nslookup openfiles pagefileconfig path pathping pause ping popd powercfg print prompt
pushd qwinsta rd reg regsvr32 rem ren rename replace rmdir robocopy route rundll32 runas sc schtasks set
setlocal setx sfc shift shutdown sort start subst systeminfo takeown taskkill tasklist tftp timeout title
tracert tree type ver verify vol vssadmin w32tm wbadmin wevtutil where whoami wmic wscript xcopy`)

// strongCommands are command names that are not ordinary words; after a
// separator they are an attack whatever follows.
var strongCommands = strings.Fields(`whoami uname ifconfig ipconfig wget curl nc ncat netcat socat telnet bash sh zsh
ksh csh tcsh powershell pwsh cmd certutil bitsadmin systeminfo tasklist taskkill netstat nslookup
chmod chown passwd useradd usermod gpasswd sudo nohup xterm python python2 python3 perl php lua
jrunscript gcc ldconfig crontab atq printenv hostname getent lsof pkill killall usleep
traceroute tracert nmap ssh scp sftp tftp rsync base64 xxd hexdump gawk nawk egrep fgrep
mkfifo mknod sysctl systemctl iptables wmic regsvr32 rundll32 mshta cscript wscript msiexec schtasks
icacls cacls net1 vssadmin wevtutil certreq findstr forfiles pcalua odbcconf installutil cmstp msbuild
nltest dsquery uname`)

func init() {
	add := func(w string, k cmdKind) {
		w = strings.ToLower(strings.TrimSpace(w))
		if w == "" || strings.ContainsAny(w, "${}") {
			return
		}
		shellWords[w] |= k
	}
	for _, f := range []string{"unix-shell.data", "unix-shell-builtins.data", "unix-shell-aliases.data"} {
		for _, l := range dataLines(f) {
			if i := strings.LastIndex(l, "bin/"); i >= 0 {
				l = l[i+4:]
			}
			add(l, cmdUnix)
		}
	}
	for _, l := range dataLines("windows-powershell-commands.data") {
		add(l, cmdPowerShell|cmdStrong)
	}
	for _, w := range windowsCommands {
		add(w, cmdWindows)
	}
	// The Windows commands and PowerShell aliases the CRS knows only
	// inside 932125/932370/932380 (removed by the API tuning: they fire on
	// code), as cmd.exe words: a command only where a shell runs it. An
	// alias of three letters or more (iwr, iex, gwmi) is no English word
	// and counts after any separator, as PowerShell commands do.
	for _, w := range crsRuleWords("REQUEST-932-APPLICATION-ATTACK-RCE.conf", 932370, 932380) {
		if shellWords[w] == 0 {
			add(w, cmdWindows)
		}
	}
	for _, w := range crsRuleWords("REQUEST-932-APPLICATION-ATTACK-RCE.conf", 932125) {
		if shellWords[w] == 0 {
			k := cmdWindows
			if len(w) >= 3 {
				k |= cmdStrong
			}
			add(w, k)
		}
	}
	for _, w := range strongCommands {
		add(w, cmdStrong)
	}
}

// dataLines reads a CRS data file: one entry per line, '#' comments.
func dataLines(name string) []string {
	f, err := coreruleset.FS.Open("@owasp_crs/" + name)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l != "" && l[0] != '#' {
			out = append(out, l)
		}
	}
	return out
}

var shellReplacer = strings.NewReplacer("${IFS}", " ", "$IFS$9", " ", "$IFS", " ", "$@", "", "$()", "", "''", "", `""`, "", `\`, "")

// normalizeShell removes what shells ignore inside a word and what
// attackers put there to break signatures: quotes, backslashes and carets
// (c'a't, c\at, c^a^t), ${IFS} and $IFS used as spaces, empty
// substitutions ($@, $()) and variables glued into a word (see
// unsetVarLen). cs is v's bytes; a value with nothing to remove is
// returned as it is.
//
// When shellReplacer had nothing to replace (ok), n is v less some bytes,
// and the offset in n of each place they were taken from is appended to
// seams: a phrase n holds and v does not spans one of them (seamGates).
// Plain runs are copied whole: a 1 KB sentence with a few apostrophes
// (She's, doesn't) cost 3 µs byte by byte.
func normalizeShell(v string, cs *charset, seams []int) (n string, _ []int, ok bool) {
	if !cs.any("'\"\\^$") {
		return v, seams, true
	}
	ok = true
	if cs.any("\"\\$") || strings.Contains(v, "''") {
		r := shellReplacer.Replace(v)
		// Every replacement is shorter than what it replaces.
		ok = len(r) == len(v)
		v = r
	}
	var b []byte
	start := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !shellSpecial[c] {
			continue
		}
		k := 0 // bytes removed at i
		// A quote or caret directly between two word characters only
		// joins them (c'a't, c^m^d).
		if c != '$' && i > 0 && i+1 < len(v) && isWordByte(v[i-1]) && isWordByte(v[i+1]) {
			k = 1
		} else if c == '$' {
			k = unsetVarLen(v, i)
		}
		if k == 0 {
			continue
		}
		if b == nil {
			b = make([]byte, 0, len(v))
		}
		b = append(b, v[start:i]...)
		if len(seams) == 0 || seams[len(seams)-1] != len(b) {
			seams = append(seams, len(b))
		}
		i += k - 1
		start = i + 1
	}
	if b == nil {
		return v, seams, ok
	}
	b = append(b, v[start:]...)
	return string(b), seams, ok
}

// shellSpecial are the bytes normalizeShell may remove.
var shellSpecial = [256]bool{'\'': true, '"': true, '^': true, '$': true}

// seamGates returns the Windows and VBScript gates of the phrases of n that
// span a seam (normalizeShell): only the bytes within the longest such
// phrase of a seam are walked, not all of n.
func seamGates(n string, seams []int) gate {
	var g gate
	for k := 0; k < len(seams); {
		lo, hi := max(0, seams[k]-maxShellGate+1), min(len(n), seams[k]+maxShellGate-1)
		for k++; k < len(seams) && seams[k]-maxShellGate+1 < hi; k++ {
			hi = min(len(n), seams[k]+maxShellGate-1)
		}
		g |= gateSet.marks(n[lo:hi])
	}
	return g & (gateWindows | gateVBS)
}

// maxShellGate is the length of the longest Windows or VBScript gate
// phrase (set with gateSet).
var maxShellGate int

// unsetVarLen is the length of the variable reference at v[i] ('$' and a
// name, or ${name}) when it is glued to a word before it or to a path
// after it ("cat$xy", "$xy/etc"): the shell expands a variable nobody set
// to nothing, which is how "cat$xy $xy/etc$xy/passwd" runs
// "cat /etc/passwd" past signatures. 0 for anything else ("$5", "the
// $PATH variable", "$(id)").
func unsetVarLen(v string, i int) int {
	j := i + 1
	braced := j < len(v) && v[j] == '{'
	if braced {
		j++
	}
	start := j
	if j >= len(v) || !(v[j] == '_' || v[j] >= 'a' && v[j] <= 'z' || v[j] >= 'A' && v[j] <= 'Z') {
		return 0
	}
	for j < len(v) && (isWordByte(v[j]) && v[j] != '-') {
		j++
	}
	if braced {
		if j >= len(v) || v[j] != '}' || j == start {
			return 0
		}
		j++
	}
	glued := i > 0 && isWordByte(v[i-1]) || j < len(v) && v[j] == '/'
	if !glued {
		return 0
	}
	return j - i
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// detectShell reports a shell command where a shell would run it.
func detectShell(v string, g gate, cs *charset) bool {
	if !cs.any(";&|`$\n\r<>%(^") && !hasCommandLineShape(v) {
		return false
	}
	masked := false
	if cs.any("`") {
		if m, ok := maskCodeSpans(v); ok {
			v, masked = m, true
			mcs := charsetOf(v)
			cs = &mcs
		}
	}
	var seamBuf [16]int
	n, seams, exact := normalizeShell(v, cs, seamBuf[:0])
	if n != v {
		// c'md /c is cmd /c. The gates of v hold those of the phrases
		// n keeps from it; a phrase n has and v has not spans a seam.
		// More gates than n's only run windowsShape, which finds what
		// they let through or nothing.
		if exact && !masked {
			g |= seamGates(n, seams)
		} else {
			g = gates(n)
		}
	}
	if shellScan(n) || leadingProgram(n) {
		return true
	}
	if t := strings.TrimSpace(n); len(t) <= maxReconCommand && reconCommands[strings.ToLower(t)] {
		return true
	}
	if g&(gateWindows|gateVBS) != 0 && windowsShape(n) || hasCommandLineShape(n) && commandLine(n) {
		return true
	}
	// Normalising removes backslashes (c\at is cat), and with them the
	// separators of Windows paths: "type C:\Windows\repair\SAM" and
	// "dir c:\" are read as written too.
	if n != v && strings.IndexByte(v, '\\') >= 0 {
		return shellScan(v) || windowsShape(v) || hasCommandLineShape(v) && commandLine(v)
	}
	return false
}

// leadingProgram reports a value that starts with a program no sentence
// starts with (whoami, wget, perl, powershell: cmdStrong), after an
// optional quote that closes the argument it was put in ("' whoami"),
// and that is followed by what a command line has: an option, a path, a
// URL, a variable, or nothing at all after a quote. "Python 3.12 is out"
// and "curl is a tool" are not.
func leadingProgram(v string) bool {
	r := strings.TrimLeft(v, " \t")
	quoted := false
	if r != "" && (r[0] == '\'' || r[0] == '"') {
		quoted = true
		r = strings.TrimLeft(r[1:], " \t")
	}
	i := 0
	for i < len(r) && isWordByte(r[i]) {
		i++
	}
	if i == 0 || shellWords[strings.ToLower(r[:i])]&cmdStrong == 0 {
		return false
	}
	rest := r[i:]
	if quoted && endOfCommand(rest) {
		return true
	}
	if shellArgs(rest) && !numeric(strings.TrimSpace(rest)) {
		return true // "Python 3.12": a version is not an argument
	}
	u := strings.TrimLeft(rest, " \t")
	return len(u) < len(rest) && (strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "ftp://"))
}

// reconCommands are commands an attacker runs first to see whether
// injection works; none is a word, so the name alone as a value is an
// attempt.
var reconCommands = map[string]bool{"whoami": true, "uname": true, "ifconfig": true, "ipconfig": true, "systeminfo": true,
	"netstat": true, "tasklist": true, "printenv": true, "uname -a": true, "id;": true, "whoami;": true}

// maxReconCommand is the longest of reconCommands: a longer value is not
// one (and is not lower-cased to find out).
const maxReconCommand = len("systeminfo")

// shellScan finds a separator followed by a command.
func shellScan(v string) bool {
	table := markdownTable(v)
	// A value that is itself a command line ("cd ~/src && make") is text
	// about a shell; a bare everyday command chained to it is not an
	// injection. Injections are appended to something else
	// ("127.0.0.1; ls").
	first := strings.TrimLeft(v, " \t\r\n")
	if i := strings.IndexAny(first, " \t\r\n"); i >= 0 {
		first = first[:i]
	}
	script := first != "" && isWordByte(v[0]) && shellWords[strings.ToLower(first)] != 0
	lead := len(v) - len(strings.TrimLeft(v, " \t")) // where the value's text starts
	for i := 0; i < len(v); i++ {
		c := v[i]
		var strong bool
		j := i + 1
		switch c {
		case ';':
			// "a;id", ";ls" and a value that starts with ';' are shell;
			// "good; there's" (a space after it) is a sentence.
			strong = i == lead || j < len(v) && v[j] != ' ' && v[j] != '\n'
		case '&':
			if j < len(v) && v[j] == '&' {
				j++
				strong = true
			} else if i > 0 && isWordByte(v[i-1]) && j < len(v) && isWordByte(v[j]) {
				continue // "AT&T", "R&D", a query string inside text
			} else {
				strong = i == lead
			}
		case '^':
			// The Bourne shell's pipe, at the start of a value.
			if i != lead {
				continue
			}
			strong = true
		case '|':
			if table {
				continue
			}
			if j < len(v) && v[j] == '|' {
				j++
			}
			strong = true
		case '`':
			strong = true
		case '$':
			if j < len(v) && (v[j] == '(' || v[j] == '{') {
				j++
				strong = true
			} else {
				continue
			}
		case '\n', '\r':
			strong = true
		case '<', '>':
			// Redirection into or out of a command: "<cmd", "x>cmd"
			// is not, but "<(cmd)" process substitution is.
			if j < len(v) && v[j] == '(' {
				j++
				strong = true
			} else if c == '<' && i == lead {
				k := j
				for k < len(v) && v[k] == ' ' {
					k++
				}
				for k < len(v) && isWordByte(v[k]) {
					k++
				}
				if k < len(v) && v[k] == '>' {
					continue // "<nick> said", a tag
				}
				strong = true // a value that starts with a redirection is shell
			} else {
				continue
			}
		case '(':
			// A subshell at the start: "(id)".
			if i != 0 {
				continue
			}
		default:
			continue
		}
		if commandAt(v, j, strong, c == '\n' || c == '\r', script, strong && i == lead) {
			return true
		}
	}
	return false
}

// commandAt reports whether a command starts at v[i:] (after blanks) and
// is followed by what a command is followed by.
func commandAt(v string, i int, strong, line, script, atLead bool) bool {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
		i++
	}
	start := i
	// A path to the program: /bin/cat, /usr/bin/id, C:\Windows\cmd.exe.
	for i < len(v) && (isWordByte(v[i]) || v[i] == '/' || v[i] == '.' || v[i] == ':' || v[i] == '\\') {
		i++
	}
	word := v[start:i]
	if k := strings.LastIndexAny(word, `/\`); k >= 0 {
		word = word[k+1:]
	}
	word = strings.TrimSuffix(strings.ToLower(word), ".exe")
	kind := shellWords[word]
	if kind == 0 {
		// A word the lists do not know, right after a separator that
		// starts the value ("&&fuser", "|kernelversion", ";rcp -x"):
		// nothing but a command goes there.
		return atLead && unknownCommand(v[start:i]) && (endOfCommand(v[i:]) || shellArgs(v[i:]))
	}
	if line && word != v[start:start+len(word)] {
		// At the start of a line, Unix commands are lower case; a
		// capitalised word begins a sentence.
		if kind&(cmdWindows|cmdPowerShell) == 0 {
			return false
		}
		if kind&cmdPowerShell == 0 && strings.ToUpper(word) != v[start:start+len(word)] {
			return false
		}
	}
	rest := v[i:]
	if glued(v, start, rest) {
		return false
	}
	if after := shellArgs(rest); after {
		return true
	}
	if adminSubcommand(word, rest) {
		return true
	}
	if kind&cmdStrong != 0 && (strong || endOfCommand(rest)) {
		return true
	}
	return strong && !script && endOfCommand(rest)
}

// glued reports whether the word at v[start:] goes on past the command
// name, into rest, as one word for the shell: "base64,iVBOR…" (the
// ";base64," of a data: URI) names no program, and "id=5" after a ';' is
// an assignment ("lang=en;time=5"). A comma separates words only inside
// a brace expansion ("{cat,/etc/passwd}").
func glued(v string, start int, rest string) bool {
	if rest == "" {
		return false
	}
	switch rest[0] {
	case ',':
		return start == 0 || v[start-1] != '{'
	case '=':
		return len(rest) == 1 || rest[1] != '='
	}
	return false
}

// unknownCommand reports whether w can be a program name: 2 to 24 lower
// case letters, digits, '-' and '_', starting with a letter.
func unknownCommand(w string) bool {
	if len(w) < 2 || len(w) > 24 || w[0] < 'a' || w[0] > 'z' {
		return false
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// endOfCommand reports whether rest ends the command: nothing, blanks, or
// another separator.
func endOfCommand(rest string) bool {
	r := strings.TrimLeft(rest, " \t")
	if r == "" {
		return true
	}
	switch r[0] {
	case ';', '|', '&', '`', ')', '\n', '\r', '#', '>', '<':
		return true
	}
	return false
}

// shellArgs reports whether rest begins with arguments as shells take
// them: an option (-la, --help, /c), a path, a variable, a redirection, a
// number or address.
func shellArgs(rest string) bool {
	if rest == "" || rest[0] != ' ' && rest[0] != '\t' {
		return false
	}
	r := strings.TrimLeft(rest, " \t")
	if r == "" {
		return false
	}
	switch c := r[0]; {
	case c == '-' && len(r) > 1 && (isWordByte(r[1])):
		return true
	case c == '/' && len(r) > 1 && isWordByte(r[1]):
		return true
	case c == '$' || c == '~' || c == '>' || c == '<' || c == '|' || c == '%':
		return true
	case c == '.' && len(r) > 1 && (r[1] == '/' || r[1] == '.'):
		return true
	case c >= '0' && c <= '9':
		// A number alone or an address (sleep 5, ping 10.0.0.1), not
		// "10 minutes".
		k := 0
		for k < len(r) && (r[k] >= '0' && r[k] <= '9' || r[k] == '.' || r[k] == ':') {
			k++
		}
		return k == len(r) || strings.ContainsRune(" ;|&`)#\n", rune(r[k])) && !startsWord(r[k:])
	case len(r) > 2 && (r[1] == ':' && (r[2] == '\\' || r[2] == '/')):
		return true // C:\ or c:/
	}
	return false
}

// startsWord reports whether s (after blanks) begins with a word of two or
// more letters: the prose after a number ("5 minutes").
func startsWord(s string) bool {
	s = strings.TrimLeft(s, " ")
	n := 0
	for n < len(s) && (s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z') {
		n++
	}
	return n >= 2
}

// markdownTable reports whether v holds a Markdown table (two lines that
// start with '|'), where '|' is a cell border, not a pipe.
func markdownTable(v string) bool {
	if strings.IndexByte(v, '|') < 0 {
		return false // no row, no border
	}
	n := 0
	all := v
	for line := true; len(v) > 0; v = v[1:] {
		switch c := v[0]; {
		case c == '\n':
			line = true
		case c == ' ' || c == '\t':
		case c == '|' && line:
			n++
			line = false
		default:
			line = false
		}
	}
	if t := strings.TrimSpace(all); n == 1 && strings.Count(t, "|") >= 3 && strings.Contains(t, " ") && t[0] == '|' && t[len(t)-1] == '|' {
		return true // one row: "| col1 | col2 |"
	}
	return n >= 2
}

// hasCommandLineShape is the cheap test for commandLine: a short,
// single-line value.
func hasCommandLineShape(v string) bool {
	return len(v) <= 256 && len(v) >= 2 && !strings.ContainsAny(v, "\n")
}

// commandLine reports whether the whole value is a command line: a
// command followed only by shell arguments (options, paths, numbers,
// addresses, variables), or a Windows management command.
func commandLine(v string) bool {
	if first, ok := firstFieldASCII(v); ok && !commandWord(first) {
		return false // what follows never makes a sentence a command
	}
	f := strings.Fields(v)
	if len(f) < 2 {
		return false
	}
	w := strings.TrimSuffix(strings.ToLower(f[0]), ".exe")
	if k := strings.LastIndexAny(w, `/\`); k >= 0 {
		w = w[k+1:]
	}
	if (w == "which" || w == "whereis") && len(f) == 2 && shellWords[strings.ToLower(f[1])]&cmdStrong != 0 {
		return true // "which wget": probing for a tool to run next
	}
	kind := shellWords[w]
	if kind == 0 {
		return false
	}
	if adminSubcommand(w, " "+strings.Join(f[1:], " ")) {
		return true
	}
	numericOK := w == "sleep" || w == "usleep" || w == "ping" || w == "timeout" || w == "nc" || w == "telnet"
	syntax := false
	for _, a := range f[1:] {
		if !shellToken(a) {
			return false
		}
		if !numeric(a) || numericOK {
			syntax = true
		}
	}
	// "Python 3.12", "Go 1.22": a version number is not an argument.
	return syntax
}

func numeric(a string) bool {
	for i := 0; i < len(a); i++ {
		if !(a[i] >= '0' && a[i] <= '9' || a[i] == '.' || a[i] == ':') {
			return false
		}
	}
	return true
}

// adminSubcommand reports whether rest (after a Windows administration
// command) begins with one of its subcommands: "net localgroup …",
// "netsh firewall …", "reg add …", "sc create …". Their arguments are
// words, so shellArgs cannot see them.
func adminSubcommand(word, rest string) bool {
	subs, ok := adminSubcommands[word]
	if !ok {
		return false
	}
	r := strings.TrimLeft(rest, " \t")
	if len(r) == len(rest) {
		return false
	}
	end := strings.IndexAny(r, " \t;|&")
	if end < 0 {
		end = len(r)
	}
	return subs[strings.ToLower(r[:end])]
}

var adminSubcommands = map[string]map[string]bool{
	"net":      set("user", "localgroup", "group", "share", "use", "view", "start", "stop", "accounts", "session", "config"),
	"net1":     set("user", "localgroup", "group", "share", "use", "view", "start", "stop", "accounts", "session", "config"),
	"netsh":    set("firewall", "advfirewall", "interface", "wlan", "http", "winsock", "portproxy", "trace", "lan", "ras"),
	"reg":      set("add", "query", "delete", "export", "import", "save", "load", "copy"),
	"sc":       set("create", "config", "start", "stop", "delete", "query", "qc", "failure"),
	"schtasks": set("/create", "/run", "/delete", "/query", "/change"),
	"wmic":     set("process", "os", "useraccount", "shadowcopy", "service", "startup", "nicconfig", "qfe", "product", "/node"),
	"vssadmin": set("delete", "list", "create", "resize"),
	"bcdedit":  set("/set", "/deletevalue", "/enum"),
}

func set(w ...string) map[string]bool {
	m := map[string]bool{}
	for _, x := range w {
		m[x] = true
	}
	return m
}

// shellToken reports whether one argument is shell syntax rather than a
// word of prose.
func shellToken(a string) bool {
	switch {
	case a == "":
		return false
	case a[0] == '-' && len(a) > 1 && a[1] != '-' || strings.HasPrefix(a, "--") && len(a) > 2:
		return true
	case a[0] == '/' || a[0] == '~' || a[0] == '$' || a[0] == '%' || a[0] == '>' || a[0] == '<' || a[0] == '|':
		return true
	case strings.HasPrefix(a, "./") || strings.HasPrefix(a, "../"):
		return true
	case len(a) > 2 && a[1] == ':' && (a[2] == '\\' || a[2] == '/'):
		return true
	case strings.ContainsAny(a, `\`):
		return true
	}
	digits := true
	for i := 0; i < len(a); i++ {
		if !(a[i] >= '0' && a[i] <= '9' || a[i] == '.' || a[i] == ':') {
			digits = false
			break
		}
	}
	return digits
}

// windowsShape reports Windows-only command syntax that needs no
// separator: cmd /c, set /a arithmetic, %ENV% expansions into paths,
// PowerShell download-and-run idioms, VBScript string building.
func windowsShape(v string) bool {
	l := strings.ToLower(v)
	for _, s := range windowsMarkers {
		if strings.Contains(l, s) {
			return true
		}
	}
	if i := strings.Index(l, "set /a"); i >= 0 {
		return true
	}
	// %SYSTEMROOT%\..., %COMSPEC%, %WINDIR%.
	if strings.IndexByte(l, '%') >= 0 {
		for _, e := range []string{"%systemroot%", "%windir%", "%comspec%", "%programfiles%", "%temp%\\", "%appdata%", "%userprofile%", "%systemdrive%", "%homedrive%"} {
			if strings.Contains(l, e) {
				return true
			}
		}
	}
	return vbscriptShape(l)
}

// windowsMarkers are substrings (lower case) that only a Windows command
// line or script carries.
var windowsMarkers = []string{
	"cmd /c", "cmd.exe /c", "cmd /k", "cmd.exe /k", "cmd /q", "cmd.exe", "command.com",
	"powershell -", "powershell.exe", "pwsh -", "iex(", "iex (", "invoke-expression", "invoke-webrequest",
	"downloadstring(", "downloadfile(", "new-object net.webclient", "new-object system.net",
	"start-process", "-encodedcommand", "frombase64string(", "[system.convert]", "[convert]::",
	"wscript.shell", "shell.application", "scripting.filesystemobject", "createobject(",
	"rundll32 ", "rundll32.exe", "regsvr32 /", "mshta ", "mshta.exe", "certutil -", "certutil.exe",
	"bitsadmin /", "wmic ", "schtasks /", "vssadmin ", "reg add ", "reg query ", "reg delete ",
	"\\windows\\system32", "\\system32\\", "c:\\windows", "\\boot.ini", "win.ini",
}

// vbscriptShape reports VBScript string building (Chr(65) & "x"), the way
// payloads hide commands from signatures, and VBScript execution calls.
func vbscriptShape(l string) bool {
	if strings.Contains(l, "execute(") || strings.Contains(l, "executeglobal") || strings.Contains(l, "wscript.") || strings.Contains(l, "response.write(") {
		return true
	}
	n := strings.Count(l, "chr(") + strings.Count(l, "chrw(") + strings.Count(l, "chrb(")
	return n >= 2 || n == 1 && strings.Contains(l, "&")
}

// maskCodeSpans replaces Markdown inline code spans (`go`, `Op`,
// `cmd/compile`) by a word, when v is text around them: at least four
// words outside the spans, and no span that holds shell syntax (; | & $ <
// > or a line break) or starts with a program no sentence names in code
// (cmdStrong: `whoami`, `wget x`). In a shell, backticks substitute a
// command; in the Markdown that notes, reviews and docs fields carry they
// mark a name, and every span would otherwise read as a substitution.
func maskCodeSpans(v string) (string, bool) {
	n := strings.Count(v, "`")
	if n < 2 || n%2 != 0 {
		return v, false
	}
	var b strings.Builder
	words := 0
	inWord := 0
	rest := v
	for {
		i := strings.IndexByte(rest, '`')
		if i < 0 {
			break
		}
		outside := rest[:i]
		words += countWords(outside, &inWord)
		j := strings.IndexByte(rest[i+1:], '`')
		if j < 0 {
			return v, false
		}
		span := rest[i+1 : i+1+j]
		if span == "" || strings.ContainsAny(span, ";|&$<>\n\r") {
			return v, false
		}
		f := strings.TrimSpace(span)
		if k := strings.IndexAny(f, " \t"); k >= 0 {
			f = f[:k]
		}
		if shellWords[strings.ToLower(f)]&cmdStrong != 0 {
			return v, false
		}
		b.WriteString(outside)
		b.WriteString("code")
		rest = rest[i+1+j+1:]
	}
	words += countWords(rest+" ", &inWord)
	if words < 4 {
		return v, false
	}
	b.WriteString(rest)
	return b.String(), true
}

// countWords counts the words of two or more ASCII letters that end in s;
// *run carries the letters of a word still open at s's end to the next
// call.
func countWords(s string, run *int) int {
	n := 0
	for k := 0; k < len(s); k++ {
		c := s[k]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			*run++
			continue
		}
		if *run >= 2 {
			n++
		}
		*run = 0
	}
	return n
}

// firstFieldASCII is strings.Fields(v)[0] (or "") without the slice, for
// an ASCII v; ok is false for any other v (Fields splits it on Unicode
// spaces too).
func firstFieldASCII(v string) (first string, ok bool) {
	if !ascii(v) {
		return "", false
	}
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' }
	i := 0
	for i < len(v) && isSpace(v[i]) {
		i++
	}
	j := i
	for j < len(v) && !isSpace(v[j]) {
		j++
	}
	return v[i:j], true
}

// commandWord reports whether commandLine can accept a value whose first
// field is first: a known command, or which/whereis.
func commandWord(first string) bool {
	w := strings.TrimSuffix(strings.ToLower(first), ".exe")
	if k := strings.LastIndexAny(w, `/\`); k >= 0 {
		w = w[k+1:]
	}
	return w == "which" || w == "whereis" || shellWords[w] != 0
}
