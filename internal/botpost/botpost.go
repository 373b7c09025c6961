// Package botpost sends a chat robot's JSON message over HTTP, once, and
// classifies what HTTP says, for the robots' notifiers (WeCom, DingTalk,
// Feishu): their webhook URLs are secrets, so no error carries one.
package botpost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/internal/escape"
)

// MaxAnswer bounds what is read of a robot's answer.
const MaxAnswer = 64 << 10

// Post sends body to u and returns the HTTP status and the answer, at most
// MaxAnswer bytes. A failure is returned classified (a bad URL is final, a
// transport failure retryable), named after robot and without the URL.
func Post(ctx context.Context, client *http.Client, robot, u string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, notify.Permanent("config", fmt.Errorf("%s: bad webhook_url", robot))
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "imalert")
	resp, err := client.Do(req)
	if err != nil {
		reason := "transport"
		var ue *url.Error
		if errors.As(err, &ue) {
			if ue.Timeout() {
				reason = "timeout"
			}
			err = ue.Err
		}
		return 0, nil, notify.Retryable(reason, fmt.Errorf("%s: post: %w", robot, err))
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer))
	if err != nil {
		return 0, nil, notify.Retryable("transport", fmt.Errorf("%s: read answer: %w", robot, err))
	}
	return resp.StatusCode, answer, nil
}

// StatusError classifies a non-2xx HTTP status: 408, 429 and 5xx are
// retried, others are final. It returns nil for a 2xx status.
func StatusError(robot string, status int) error {
	if status >= 200 && status <= 299 {
		return nil
	}
	reason := "http_" + strconv.Itoa(status)
	e := fmt.Errorf("%s: HTTP %d", robot, status)
	if status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500 {
		return notify.Retryable(reason, e)
	}
	return notify.Permanent(reason, e)
}

// Coded is a robot's answer that carries an errcode (WeCom, DingTalk):
// Code 0 is success.
type Coded struct {
	Code int
	// Reason is a metric label: errcode_N for a documented code,
	// errcode_other otherwise, so a robot cannot grow the label set.
	Reason string
	// Err names the code and the robot's message, cleaned and cut.
	Err error
}

// ReadErrCode reads an answer of the form {"errcode":N,"errmsg":"..."};
// known are the documented codes. An answer without an errcode is a
// retryable error: the robot's frontend, not the robot, answered.
func ReadErrCode(robot string, body []byte, known map[int]bool) (Coded, error) {
	var a struct {
		ErrCode *int   `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	if err := json.Unmarshal(body, &a); err != nil || a.ErrCode == nil {
		return Coded{}, notify.Retryable("bad_answer", fmt.Errorf("%s: the answer is not the robot's JSON", robot))
	}
	c := Coded{Code: *a.ErrCode, Reason: "errcode_other"}
	if known[c.Code] {
		c.Reason = "errcode_" + strconv.Itoa(c.Code)
	}
	c.Err = fmt.Errorf("%s: errcode %d: %s", robot, c.Code, escape.Clean(a.ErrMsg, 200))
	return c, nil
}
