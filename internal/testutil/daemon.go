package testutil

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildPath string
	buildErr  error

	buildMu      sync.Mutex
	buildCmd     *exec.Cmd // the go build running, if any
	buildStopped bool      // the tests ended: no build starts
)

// Main runs the tests of a package that runs the imalert binary. It builds
// the binary once, beside the tests that do not need it, into a temporary
// directory it removes when the tests end; a build no test waited for is
// stopped. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }
func Main(m *testing.M) int {
	go buildOnce.Do(build)
	code := m.Run()
	buildMu.Lock()
	buildStopped = true
	if buildCmd != nil && buildCmd.Process != nil {
		_ = syscall.Kill(-buildCmd.Process.Pid, syscall.SIGKILL) // go build and its compilers
	}
	buildMu.Unlock()
	buildOnce.Do(func() {}) // wait for the build to end
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	return code
}

// Binary builds ./cmd/imalert once per test process, into a temporary
// directory that Main removes, and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(build)
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

func build() {
	buildMu.Lock()
	if buildStopped {
		buildMu.Unlock()
		buildErr = errors.New("the tests ended before the binary was built")
		return
	}
	dir, err := os.MkdirTemp("", "imalert-bin-")
	if err != nil {
		buildMu.Unlock()
		buildErr = err
		return
	}
	buildDir = dir
	buildPath = filepath.Join(dir, "imalert")
	cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/imalert")
	cmd.Dir = moduleRoot()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Start()
	buildCmd = cmd
	buildMu.Unlock()
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		buildErr = fmt.Errorf("go build: %v\n%s", err, out.String())
	}
}

// ModuleRoot returns the repository root (the directory holding go.mod).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	return moduleRoot()
}

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Daemon is a running imalert process.
type Daemon struct {
	Addr string // the address it listens on, read from its log

	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan struct{}
	t      testing.TB
}

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// StartDaemon runs the imalert binary with args (for example "serve",
// "--config", path, "--listen", "127.0.0.1:0") and extra environment
// variables, and waits until it logs the address it listens on. The process
// is killed when the test ends.
func StartDaemon(t testing.TB, env []string, args ...string) *Daemon {
	t.Helper()
	d := &Daemon{done: make(chan struct{}), t: t}
	d.cmd = exec.Command(Binary(t), args...)
	d.cmd.Env = append(os.Environ(), env...)
	d.cmd.Stdout = &lockedWriter{mu: &d.mu, w: &d.stdout}
	errR, errW := io.Pipe()
	d.cmd.Stderr = errW
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start imalert: %v", err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(errR)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			d.mu.Lock()
			d.stderr.WriteString(line + "\n")
			d.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	go func() {
		_ = d.cmd.Wait()
		_ = errW.Close()
		close(d.done)
	}()
	t.Cleanup(func() {
		_ = d.cmd.Process.Kill()
		<-d.done
		if t.Failed() {
			t.Logf("imalert stderr:\n%s", d.Stderr())
		}
	})
	select {
	case d.Addr = <-addr:
	case <-d.done:
		t.Fatalf("imalert exited before listening:\n%s", d.Stderr())
	case <-time.After(15 * time.Second):
		t.Fatalf("imalert did not listen within 15s:\n%s", d.Stderr())
	}
	return d
}

// URL returns http://Addr + path.
func (d *Daemon) URL(path string) string { return "http://" + d.Addr + path }

// Stdout returns what the process printed on standard output so far.
func (d *Daemon) Stdout() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stdout.String()
}

// Stderr returns the process's log so far.
func (d *Daemon) Stderr() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stderr.String()
}

// Signal sends sig to the process.
func (d *Daemon) Signal(sig syscall.Signal) {
	_ = d.cmd.Process.Signal(sig)
}

// Kill sends SIGKILL and waits for the process to be gone.
func (d *Daemon) Kill() {
	_ = d.cmd.Process.Kill()
	<-d.done
}

// Wait waits up to timeout for the process to exit and returns its exit
// code, or -1 if it is still running.
func (d *Daemon) Wait(timeout time.Duration) int {
	select {
	case <-d.done:
		return d.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		return -1
	}
}

// WaitStdout waits until standard output contains substr n times.
func (d *Daemon) WaitStdout(substr string, n int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Count(d.Stdout(), substr) >= n {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Run runs the imalert binary to completion and returns its exit code,
// standard output and standard error.
func Run(t testing.TB, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(Binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("run imalert: %v", err)
		}
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// RequireBinary returns the path of an external program the test needs.
// When it is missing the test is skipped, except under CI=true, where a
// missing service is a failure.
func RequireBinary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (required under CI=true)", name)
	}
	t.Skipf("%s is not installed; skipping", name)
	return ""
}
