package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is a server the harness started: the daemon or the bare gin
// handler.
type process struct {
	cmd  *exec.Cmd
	addr string
	log  *os.File
	done chan error
}

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// start runs name with args, logging to logPath, and waits until it says
// where it listens.
func start(name string, args []string, logPath string) (*process, time.Duration, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, 0, err
	}
	p := &process{cmd: exec.Command(name, args...), log: log, done: make(chan error, 1)}
	p.cmd.Stdout = io.Discard // console pages
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, 0, err
	}
	began := time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, 0, err
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			fmt.Fprintln(log, sc.Text())
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		p.done <- p.cmd.Wait()
	}()
	select {
	case p.addr = <-addr:
		return p, time.Since(began), nil
	case err := <-p.done:
		return nil, 0, fmt.Errorf("%s exited before listening (%v); see %s", name, err, logPath)
	case <-time.After(2 * time.Minute):
		_ = p.cmd.Process.Kill()
		return nil, 0, fmt.Errorf("%s did not listen within 2m; see %s", name, logPath)
	}
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM and waits for the exit, killing after timeout.
func (p *process) stop(timeout time.Duration) (time.Duration, error) {
	began := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.log.Close()
		return time.Since(began), err
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		p.log.Close()
		return time.Since(began), errors.New("killed after the timeout")
	}
}

// writeConfig writes a daemon config with rules rules into dir: one rule
// pages 10023 per group (throttled), the others match single groups and
// other codes, as an operator's per-team rules would, so the engine holds
// rules rules.
func writeConfig(dir, token, adminToken string, o options) (string, error) {
	journal := "sync: " + o.sync
	if o.walMaxBytes > 0 {
		journal += fmt.Sprintf(", wal_max_bytes: %d", o.walMaxBytes)
	}
	rules := o.rules
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: data
journal: {%s}
apps:
  - sdkappid: %d
    tokens: [%q]
admin:
  token: %q
server: {shutdown_timeout: 10s}
receivers:
  - name: console
    type: console%s
rule_files: [rules.yaml]
`, journal, appID, token, adminToken, budgetYAML(o.budget))
	if o.redis != "" {
		cfg += fmt.Sprintf("state: {backend: redis, redis: {addr: %q}}\n", o.redis)
	}
	var b strings.Builder
	b.WriteString(`rules:
  - name: storm
    match: {error_code: 10023}
    group_by: [GroupId]
    throttle: 10m
    receivers: [console]
`)
	codes := []string{"10017", "80001", "80004", "10016"}
	for i := 1; i < rules; i++ {
		fmt.Fprintf(&b, "  - name: team-%04d\n    match: {group_id: \"@TGS#g%04d\", error_code: [%s]}\n    throttle: 30m\n    receivers: [console]\n",
			i, i, codes[i%len(codes)])
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(b.String()), 0o644); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "imalert.yaml")
	return path, os.WriteFile(path, []byte(cfg), 0o600)
}

// budgetYAML is the receiver's budget setting for "PAGES/PER", or "".
func budgetYAML(b string) string {
	pages, per, ok := strings.Cut(b, "/")
	if !ok {
		return ""
	}
	return fmt.Sprintf("\n    budget: {pages: %s, per: %s}", pages, per)
}

// metric reads one unlabelled sample from the daemon's /metrics.
func metric(ctx context.Context, addr, adminToken, name string) (float64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	// Uncompressed: with 1,000 rules the exposition is about 900 KB, and
	// compressing it is CPU the daemon spends only because it is watched.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /metrics", name)
}

// fetch writes the daemon's pprof profile of name (over seconds, for a
// CPU profile) to path.
func fetch(addr, adminToken, name string, seconds int, path string) error {
	url := fmt.Sprintf("http://%s/debug/pprof/%s", addr, name)
	if seconds > 0 {
		url += fmt.Sprintf("?seconds=%d", seconds)
	}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := (&http.Client{Timeout: time.Duration(seconds+30) * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
