package testutil

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// RedisServer is a redis-server process on a loopback port, without
// persistence, stopped when the test ends.
type RedisServer struct {
	Addr string

	t    testing.TB
	bin  string
	args []string // persistence
	cmd  *exec.Cmd
}

// StartRedis runs redis-server on a free loopback port and waits until it
// answers. Without the binary the test is skipped, or fails under CI=true.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	return startRedis(t, "--save", "", "--appendonly", "no")
}

// StartRedisPersistent is StartRedis with every write synced to an
// append-only file, so that a restart keeps the data.
func StartRedisPersistent(t testing.TB) *RedisServer {
	t.Helper()
	return startRedis(t, "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", t.TempDir())
}

func startRedis(t testing.TB, args ...string) *RedisServer {
	t.Helper()
	bin := RequireBinary(t, "redis-server")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &RedisServer{Addr: addr, t: t, bin: bin, args: args}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start (re)starts the server on its address (empty unless persistent),
// and waits until it
// answers PING.
func (s *RedisServer) Start() {
	s.t.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	s.cmd = exec.Command(s.bin, append([]string{"--port", port, "--bind", "127.0.0.1"}, s.args...)...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if s.ping() == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("redis-server on %s did not answer within 10s", s.Addr)
}

// Stop kills the server and waits until it is gone.
func (s *RedisServer) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT) // a paused server dies too
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Pause stops the server process (SIGSTOP) without losing its data: calls
// to it time out until Resume.
func (s *RedisServer) Pause() { _ = s.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (s *RedisServer) Resume() { _ = s.cmd.Process.Signal(syscall.SIGCONT) }

// ping sends PING in the inline protocol and reads +PONG.
func (s *RedisServer) ping() error {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("redis answered %s", strconv.Quote(line))
	}
	return nil
}
