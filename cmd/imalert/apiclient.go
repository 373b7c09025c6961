package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/imalert/imalert/config"
)

// tokenEnv names the environment variable the API's clients read the
// admin token from.
const tokenEnv = "IMALERT_ADMIN_TOKEN"

// apiClient calls imalert's admin API.
type apiClient struct {
	name  string // the command, as its errors start
	base  string
	token string
	http  http.Client
}

// setup finds the admin URL and token: flags first, then the environment,
// then the config (the built-in one without --config).
func (c *apiClient) setup(path, token, tokenFile string) error {
	cfg := config.Default()
	if path != "" {
		var err error
		if cfg, err = config.Load(path); err != nil {
			return err
		}
	}
	switch {
	case token != "" && tokenFile != "":
		return errors.New("give --token or --token-file, not both")
	case token != "":
		c.token = token
	case tokenFile != "":
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		c.token = strings.TrimSpace(string(b))
	case os.Getenv(tokenEnv) != "":
		c.token = os.Getenv(tokenEnv)
	default:
		c.token = cfg.Admin.Token.Reveal()
	}
	if c.base == "" {
		c.base = adminURL(cfg)
	}
	c.base = strings.TrimRight(c.base, "/")
	c.http.Timeout = 10 * time.Second
	return nil
}

// adminURL is where cfg's daemon serves the admin API: admin.listen, else
// the callback listener; an unspecified host means this machine.
func adminURL(cfg *config.Config) string {
	addr, scheme := cfg.Listen, "http"
	if cfg.Admin.Listen != "" {
		addr = cfg.Admin.Listen
	} else if cfg.Server.TLS.Enabled() {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(addr)
	if err == nil && (host == "" || net.ParseIP(host).IsUnspecified()) {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	return scheme + "://" + addr
}

// do sends in as JSON and decodes a 2xx answer into out; any other answer
// becomes an error with the API's message.
func (c *apiClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %s %s: %w", c.name, method, c.base+path, unwrapURL(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s: reading the answer: %w", c.name, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error     string   `json:"error"`
			Errors    []string `json:"errors"`
			ErrorInfo string   `json:"ErrorInfo"` // the admin guard's FAIL answer
		}
		_ = json.Unmarshal(data, &e)
		switch {
		case len(e.Errors) > 0:
			return fmt.Errorf("%s: %s:\n  %s", c.name, resp.Status, strings.Join(e.Errors, "\n  "))
		case e.Error != "" || e.ErrorInfo != "":
			return fmt.Errorf("%s: %s: %s", c.name, resp.Status, oneLine(e.Error+e.ErrorInfo, 200))
		}
		return fmt.Errorf("%s: %s", c.name, resp.Status)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s: unreadable answer: %w", c.name, err)
	}
	return nil
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
