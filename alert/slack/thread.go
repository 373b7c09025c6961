package slack

import (
	"context"
	"errors"
	"strings"

	"github.com/slack-go/slack"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/config"
)

// NotifyThread implements notify.ThreadNotifier with one attempt. With a bot
// token, a repeat of an open incident (prev set) replies in the incident's
// thread or updates its message, as the receiver's repeats says; anything
// else is posted as a new message. The returned handle, "channel ts", names
// the incident's message: the one posted, or prev when replying or
// updating. Webhooks return no message, hence no handle.
func (s *Notifier) NotifyThread(ctx context.Context, n *notify.Notification, prev string) (string, error) {
	if s.api == nil {
		return "", s.Notify(ctx, n)
	}
	opts := s.apiOptions(n)
	if channel, ts, ok := strings.Cut(prev, " "); ok && channel != "" && ts != "" {
		switch s.repeats {
		case config.RepeatsThread:
			// If the parent was deleted Slack posts the reply unthreaded,
			// which still delivers the page.
			if _, _, err := s.api.PostMessageContext(ctx, channel, append(opts, slack.MsgOptionTS(ts))...); err != nil {
				return "", classify("chat.postMessage", err)
			}
			return prev, nil
		case config.RepeatsUpdate:
			_, _, _, err := s.api.UpdateMessageContext(ctx, channel, ts, opts...)
			if err == nil {
				return prev, nil
			}
			var se slack.SlackErrorResponse
			if !errors.As(err, &se) || !goneMessage[se.Err] {
				return "", classify("chat.update", err)
			}
			// The original is gone or can no longer be edited: post anew.
		}
	}
	channel, ts, err := s.api.PostMessageContext(ctx, s.channel, opts...)
	if err != nil {
		return "", classify("chat.postMessage", err)
	}
	return channel + " " + ts, nil
}

// goneMessage are chat.update errors after which a new message is posted.
var goneMessage = map[string]bool{
	"message_not_found": true, "cant_update_message": true, "edit_window_closed": true,
}
