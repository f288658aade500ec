package deploy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/tlsconf"
)

// need returns the path of a tool the test needs. scripts/test-deps.sh
// installs every one of them; in CI a missing tool fails the test, on a
// developer's machine it skips it with the install hint.
func need(t *testing.T, tool string, extra ...string) string {
	t.Helper()
	if p, err := exec.LookPath(tool); err == nil {
		return p
	}
	for _, p := range extra {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	msg := tool + " is needed (scripts/test-deps.sh installs it)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the static portcullis binary once, as `make build` does.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "portcullis-deploy-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "portcullis")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", binPath, "../cmd/portcullis")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&os.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, target)
		default:
			copyFile(t, p, target, 0o644)
			return nil
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkConfig runs what `portcullis check` runs on a config text, with
// every "/etc/portcullis/" moved to dir (the files it names live there).
func checkConfig(t *testing.T, text, dir string) {
	t.Helper()
	text = strings.ReplaceAll(text, "/etc/portcullis/", dir+"/")
	file := filepath.Join(dir, "portcullis.yaml")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file)
	if err == nil {
		err = gateway.Check(cfg)
	}
	if err != nil {
		t.Fatalf("portcullis check: %v\n%s", err, text)
	}
}

// TestSystemdUnit: `systemd-analyze verify` accepts the unit without a
// single warning, `systemd-analyze security` rates it 2.0 ("OK") or
// better, and the config it runs passes check.
func TestSystemdUnit(t *testing.T) {
	analyze := need(t, "systemd-analyze")
	// A root directory with systemd's own units, the unit where an admin
	// installs it, and the programs it runs where it runs them.
	root := t.TempDir()
	units := "/usr/lib/systemd/system"
	if _, err := os.Stat(units); err != nil {
		units = "/lib/systemd/system"
	}
	copyTree(t, units, filepath.Join(root, "usr/lib/systemd/system"))
	copyFile(t, "systemd/portcullis.service", filepath.Join(root, "etc/systemd/system/portcullis.service"), 0o644)
	copyFile(t, binary(t), filepath.Join(root, "usr/local/bin/portcullis"), 0o755)
	kill, err := exec.LookPath("kill")
	if err != nil {
		kill = "/bin/kill"
	}
	copyFile(t, kill, filepath.Join(root, "bin/kill"), 0o755)

	out, err := exec.Command(analyze, "verify", "--root="+root, "portcullis.service").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// Breaking the unit must make the check fail: verify prints warnings
	// for unknown keys and bad values.
	unit, _ := os.ReadFile("systemd/portcullis.service")
	broken := strings.Replace(string(unit), "\nProtectSystem=strict\n", "\nProtectSystem=strictly\n", 1)
	if err := os.WriteFile(filepath.Join(root, "etc/systemd/system/portcullis.service"), []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _ := exec.Command(analyze, "verify", "--root="+root, "portcullis.service").CombinedOutput(); !bytes.Contains(out, []byte("strictly")) {
		t.Fatalf("verify did not notice a bad value: %s", out)
	}
	copyFile(t, "systemd/portcullis.service", filepath.Join(root, "etc/systemd/system/portcullis.service"), 0o644)

	out, err = exec.Command(analyze, "security", "--offline=yes", "--root="+root, "--threshold=20", "portcullis.service").CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for portcullis.service: ([0-9.]+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("systemd-analyze security (threshold 2.0): %v\n%s", err, out)
	}
	t.Logf("systemd-analyze security: exposure %s (0 best, 10 worst)", m[1])
	for _, want := range []string{"DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes",
		"CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "AmbientCapabilities=CAP_NET_BIND_SERVICE"} {
		if !strings.Contains(string(unit), "\n"+want+"\n") {
			t.Errorf("unit lacks %s", want)
		}
	}

	// The config the unit serves, with its TLS files and credential.
	dir := t.TempDir()
	ca, err := tlsconf.GenerateCA(dir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := tlsconf.IssueCert(ca, dir, "server", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, cert, filepath.Join(dir, "tls/fullchain.pem"), 0o600)
	copyFile(t, key, filepath.Join(dir, "tls/privkey.pem"), 0o600)
	if err := os.WriteFile(filepath.Join(dir, "admin-token"), []byte("a-long-random-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	text, _ := os.ReadFile("systemd/portcullis.yaml")
	checkConfig(t, string(text), dir)
}

// TestLogrotate: logrotate parses the rotation config.
func TestLogrotate(t *testing.T) {
	lr := need(t, "logrotate", "/usr/sbin/logrotate")
	dir := t.TempDir()
	out, err := exec.Command(lr, "--debug", "--state", filepath.Join(dir, "state"), "systemd/portcullis.logrotate").CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("error:")) {
		t.Fatalf("logrotate --debug: %v\n%s", err, out)
	}
	for _, want := range []string{"/var/log/portcullis/access.log", "/var/lib/portcullis/events.jsonl", "SIGUSR1"} {
		if !bytes.Contains(out, []byte(want)) && !strings.Contains(string(mustRead(t, "systemd/portcullis.logrotate")), want) {
			t.Errorf("logrotate config lacks %s", want)
		}
	}
}

func mustRead(t *testing.T, f string) []byte {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// manifest is one Kubernetes object, decoded loosely.
type manifest map[string]any

func (m manifest) get(path ...any) any {
	var cur any = map[string]any(m)
	for _, p := range path {
		switch k := p.(type) {
		case string:
			mm, ok := cur.(map[string]any)
			if !ok {
				return nil
			}
			cur = mm[k]
		case int:
			l, ok := cur.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			cur = l[k]
		}
	}
	return cur
}

func readManifests(t *testing.T, files []string) map[string]manifest {
	t.Helper()
	out := map[string]manifest{}
	for _, f := range files {
		b := mustRead(t, filepath.Join("kubernetes", f))
		for _, doc := range bytes.Split(b, []byte("\n---\n")) {
			var m manifest
			if err := yaml.Unmarshal(doc, &m); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if m == nil {
				continue
			}
			out[fmt.Sprint(m["kind"])+"/"+fmt.Sprint(m.get("metadata", "name"))] = m
		}
	}
	return out
}

// TestKubernetesManifests validates every manifest against the Kubernetes
// API's own schemas (kubectl-validate, offline, the schemas of 1.30) and
// checks what a schema cannot: the pods are locked down, probes reach the
// admin port, selectors match, and the config passes check.
func TestKubernetesManifests(t *testing.T) {
	root, _ := filepath.Abs("..")
	kv := need(t, "kubectl-validate", filepath.Join(root, ".cache/bin/kubectl-validate"))

	var kz struct {
		Resources []string `yaml:"resources"`
	}
	if err := yaml.Unmarshal(mustRead(t, "kubernetes/kustomization.yaml"), &kz); err != nil {
		t.Fatal(err)
	}
	present, _ := filepath.Glob("kubernetes/*.yaml")
	var files []string
	for _, p := range present {
		if f := filepath.Base(p); f != "kustomization.yaml" {
			files = append(files, f)
		}
	}
	listed := slices.Clone(kz.Resources)
	slices.Sort(listed)
	if !slices.Equal(listed, files) {
		t.Errorf("kustomization resources %v, files %v", listed, files)
	}

	args := []string{"--version", "1.30"}
	for _, f := range files {
		args = append(args, filepath.Join("kubernetes", f))
	}
	out, err := exec.Command(kv, args...).CombinedOutput()
	clean := regexp.MustCompile(`\x1b\[[0-9;]*m`).ReplaceAll(out, nil)
	if err != nil {
		t.Fatalf("kubectl-validate: %v\n%s", err, clean)
	}
	if n := bytes.Count(clean, []byte("...OK")); n != len(files) {
		t.Fatalf("kubectl-validate passed %d of %d files:\n%s", n, len(files), clean)
	}
	// The validator must refuse what the API server refuses.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	dep := strings.Replace(string(mustRead(t, "kubernetes/deployment.yaml")), "replicas: 2", "replicas: two", 1)
	if err := os.WriteFile(bad, []byte(dep), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command(kv, "--version", "1.30", bad).Run(); err == nil {
		t.Fatal("kubectl-validate accepted replicas: two")
	}

	objs := readManifests(t, files)
	d := objs["Deployment/portcullis"]
	if d == nil {
		t.Fatalf("no Deployment/portcullis in %v", files)
	}
	pod := manifest(d.get("spec", "template", "spec").(map[string]any))
	c := manifest(pod.get("containers", 0).(map[string]any))
	checks := []struct {
		what string
		got  any
		want any
	}{
		{"pod runAsNonRoot", pod.get("securityContext", "runAsNonRoot"), true},
		{"pod runAsUser (the image's user)", pod.get("securityContext", "runAsUser"), uint64(65532)},
		{"pod seccomp", pod.get("securityContext", "seccompProfile", "type"), "RuntimeDefault"},
		{"no service account token", pod.get("automountServiceAccountToken"), false},
		{"read-only root file system", c.get("securityContext", "readOnlyRootFilesystem"), true},
		{"no privilege escalation", c.get("securityContext", "allowPrivilegeEscalation"), false},
		{"capabilities dropped", c.get("securityContext", "capabilities", "drop", 0), "ALL"},
		{"liveness /healthz", c.get("livenessProbe", "httpGet", "path"), "/healthz"},
		{"liveness on the admin port", c.get("livenessProbe", "httpGet", "port"), "admin"},
		{"readiness /readyz", c.get("readinessProbe", "httpGet", "path"), "/readyz"},
		{"startup probe", c.get("startupProbe", "httpGet", "path"), "/healthz"},
		{"tmp mounted (waf buffers)", c.get("volumeMounts", 2, "mountPath"), "/tmp"},
		{"PDB", objs["PodDisruptionBudget/portcullis"].get("spec", "minAvailable"), uint64(1)},
	}
	for _, ck := range checks {
		if fmt.Sprint(ck.got) != fmt.Sprint(ck.want) {
			t.Errorf("%s: got %v, want %v", ck.what, ck.got, ck.want)
		}
	}
	sel := fmt.Sprint(d.get("spec", "selector", "matchLabels"))
	labels := fmt.Sprint(d.get("spec", "template", "metadata", "labels"))
	for _, k := range []string{"Service/portcullis", "Service/portcullis-admin"} {
		if got := fmt.Sprint(objs[k].get("spec", "selector")); got != labels {
			t.Errorf("%s selects %s, pods have %s", k, got, labels)
		}
	}
	if got := fmt.Sprint(objs["PodDisruptionBudget/portcullis"].get("spec", "selector", "matchLabels")); got != sel {
		t.Errorf("PDB selects %s, Deployment %s", got, sel)
	}
	if grace, _ := strconv.Atoi(fmt.Sprint(pod.get("terminationGracePeriodSeconds"))); grace <= 35 {
		t.Errorf("terminationGracePeriodSeconds %d: want more than shutdown_timeout (30s) plus preStop (5s)", grace)
	}

	// The config in the ConfigMap passes check, with the Secret's token.
	dir := t.TempDir()
	token := fmt.Sprint(objs["Secret/portcullis-admin"].get("stringData", "admin-token"))
	if err := os.WriteFile(filepath.Join(dir, "admin-token"), []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PORTCULLIS_SECRETS", dir)
	checkConfig(t, fmt.Sprint(objs["ConfigMap/portcullis-config"].get("data", "portcullis.yaml")), dir)
}

// finalStage is a Dockerfile from its last FROM on.
func finalStage(t *testing.T, file string) []string {
	t.Helper()
	lines := strings.Split(string(mustRead(t, "../"+file)), "\n")
	last := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "FROM ") {
			last = i
		}
	}
	if last < 0 {
		t.Fatalf("%s has no FROM", file)
	}
	return lines[last:]
}

// TestDockerfiles: both Dockerfiles end in the same image (only where the
// binary comes from differs), FROM scratch, as a numeric non-root user,
// with a health check on the admin listener.
func TestDockerfiles(t *testing.T) {
	multi, scratch := finalStage(t, "Dockerfile"), finalStage(t, "Dockerfile.scratch")
	if len(multi) != len(scratch) {
		t.Fatalf("final stages differ in length: %d and %d lines", len(multi), len(scratch))
	}
	for i := range multi {
		a, b := multi[i], scratch[i]
		if a == "COPY --from=build /out/portcullis /usr/local/bin/portcullis" && b == "COPY bin/portcullis /usr/local/bin/portcullis" {
			continue
		}
		if a != b {
			t.Errorf("final stages differ:\n  Dockerfile:         %s\n  Dockerfile.scratch: %s", a, b)
		}
	}
	text := strings.Join(scratch, "\n")
	for _, want := range []string{"FROM scratch\n", "\nUSER 65532:65532\n", `CMD ["/usr/local/bin/portcullis", "healthcheck"`, "HEALTHCHECK "} {
		if !strings.Contains(text, want) {
			t.Errorf("final stage lacks %q", want)
		}
	}
	if strings.Contains(strings.Join(scratch, "\n"), "\nRUN ") {
		t.Error("the scratch stage has a RUN step: it has no shell")
	}
}

// dockerd is a Docker daemon of the test's own, on a socket in a temporary
// directory, with its own state, no bridge and no iptables rules: it
// touches nothing of the host's network.
type dockerd struct {
	cmd  *exec.Cmd
	host string
	log  bytes.Buffer
}

func startDockerd(t *testing.T) *dockerd {
	t.Helper()
	bin := need(t, "dockerd", "/usr/sbin/dockerd", "/usr/bin/dockerd")
	need(t, "docker")
	if os.Geteuid() != 0 {
		t.Skip("a Docker daemon needs root")
	}
	dir, err := os.MkdirTemp("", "pcd-") // short: the socket path is limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	d := &dockerd{host: "unix://" + filepath.Join(dir, "docker.sock")}
	d.cmd = exec.Command(bin, "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"), "-H", d.host, "--iptables=false", "--ip6tables=false",
		"--bridge=none", "--storage-driver=vfs")
	d.cmd.Stdout, d.cmd.Stderr = &d.log, &d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = d.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = d.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = d.cmd.Process.Kill()
			<-done
		}
		// dockerd bind-mounts its network namespace there and leaves it.
		_ = syscall.Unmount(filepath.Join(dir, "exec", "netns", "default"), syscall.MNT_DETACH)
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("removing the daemon's directory: %v", err)
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		if out, err := d.docker("version", "--format", "{{.Server.Version}}"); err == nil {
			t.Logf("Docker daemon %s", strings.TrimSpace(out))
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("dockerd did not come up in 60s:\n%s", d.log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (d *dockerd) docker(args ...string) (string, error) {
	cmd := exec.Command("docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.host)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestScratchImage builds Dockerfile.scratch with a real Docker daemon
// (pulling nothing), runs it the way the docs say (read-only root file
// system, a tmpfs at /tmp, every capability dropped, no new privileges)
// and checks it turns healthy, runs as 65532 and protects its upstream.
func TestScratchImage(t *testing.T) {
	d := startDockerd(t)
	// The build context, as .dockerignore leaves it.
	ctxDir := t.TempDir()
	for _, f := range []string{"Dockerfile.scratch", ".dockerignore", "deploy/docker/passwd", "deploy/docker/group", "examples/waf-only.yaml"} {
		copyFile(t, filepath.Join("..", f), filepath.Join(ctxDir, f), 0o644)
	}
	copyFile(t, binary(t), filepath.Join(ctxDir, "bin/portcullis"), 0o755)
	tag := "portcullis-test:" + strconv.Itoa(os.Getpid())
	if out, err := d.docker("build", "-f", filepath.Join(ctxDir, "Dockerfile.scratch"), "-t", tag, ctxDir); err != nil {
		t.Fatalf("docker build -f Dockerfile.scratch: %v\n%s", err, out)
	}
	if out, _ := d.docker("image", "inspect", "-f", "{{.Config.User}} {{json .Config.Healthcheck.Test}}", tag); !strings.HasPrefix(out, "65532:65532 ") ||
		!strings.Contains(out, "healthcheck") {
		t.Errorf("image config: %s", out)
	}

	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "upstream") }))
	defer up.Close()
	addr, admin := freePort(t), freePort(t)
	name := "portcullis-test-" + strconv.Itoa(os.Getpid())
	out, err := d.docker("run", "-d", "--name", name, "--network", "host",
		"--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"--health-interval", "1s", "--health-start-period", "1s",
		"-e", "PORTCULLIS_ADDR="+addr, "-e", "PORTCULLIS_ADMIN_ADDR="+admin, "-e", "PORTCULLIS_UPSTREAM="+up.URL, tag)
	if err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	defer d.docker("rm", "-f", name)
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, _ := d.docker("inspect", "-f", "{{.State.Status}} {{.State.Health.Status}}", name)
		if strings.TrimSpace(st) == "running healthy" {
			break
		}
		if time.Now().After(deadline) || strings.HasPrefix(st, "exited") {
			logs, _ := d.docker("logs", name)
			t.Fatalf("container %s:\n%s", st, logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	get := func(path string) (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/pets?name=Rex"); code != 200 || body != "upstream" {
		t.Errorf("a normal request: %d %q", code, body)
	}
	if code, _ := get("/pets?name=" + "1%27%20UNION%20SELECT%20password%20FROM%20users--"); code != 403 {
		t.Errorf("an SQL injection: %d, want 403", code)
	}
	// The image's own health check command, run again by hand.
	if out, err := d.docker("exec", name, "/usr/local/bin/portcullis", "healthcheck", "-c", "/etc/portcullis/portcullis.yaml"); err != nil ||
		!strings.Contains(out, "healthy") {
		t.Errorf("healthcheck in the container: %v %s", err, out)
	}
	// Nothing but the tmpfs can be written.
	if out, err := d.docker("exec", name, "/usr/local/bin/portcullis", "keys", "create", "--file", "/etc/portcullis/keys.yaml", "--owner", "x"); err == nil {
		t.Errorf("wrote into the read-only root file system: %s", out)
	}
}
