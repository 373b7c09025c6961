package webhook

import (
	"time"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/page"
)

// SilenceEnded is what a silence held, in a silence_ended payload.
type SilenceEnded struct {
	ID             string    `json:"id"`
	Author         string    `json:"author"`
	Comment        string    `json:"comment"`
	StartsAt       time.Time `json:"starts_at"`
	EndsAt         time.Time `json:"ends_at"`
	Expired        bool      `json:"expired"`
	Events         int       `json:"events"`
	Groups         int       `json:"groups"`
	GroupsMore     bool      `json:"groups_more"`
	Rules          []string  `json:"rules"`
	First          time.Time `json:"first"`
	Last           time.Time `json:"last"`
	StillHappening bool      `json:"still_happening"`
}

func silenceEnded(s *notify.SilenceEnded) *SilenceEnded {
	return &SilenceEnded{
		ID: s.ID, Author: page.Clean(s.Author, 100), Comment: page.Clean(s.Comment, page.MaxField),
		StartsAt: s.StartsAt.UTC(), EndsAt: s.EndsAt.UTC(), Expired: s.Expired,
		Events: s.Events, Groups: s.Groups, GroupsMore: s.GroupsMore, Rules: s.Rules,
		First: s.First.UTC(), Last: s.Last.UTC(), StillHappening: s.StillHappening,
	}
}

// Storm is what a receiver's budget period held, in a storm payload.
type Storm struct {
	Start         time.Time      `json:"start"`
	End           time.Time      `json:"end"`
	BudgetPages   int            `json:"budget_pages"`
	BudgetSeconds float64        `json:"budget_seconds"`
	Sent          int            `json:"sent"`
	Held          int            `json:"held"`
	Events        int            `json:"events"`
	ByRule        map[string]int `json:"by_rule"`
	ByErrorCode   map[string]int `json:"by_error_code"`
	TopGroups     []Count        `json:"top_groups"`
	TopSenders    []Count        `json:"top_senders"`
	OtherGroups   int            `json:"other_groups"`
	OtherSenders  int            `json:"other_senders"`
}

func storm(s *notify.Storm) *Storm {
	out := &Storm{
		Start: s.Start.UTC(), End: s.End.UTC(), BudgetPages: s.Pages, BudgetSeconds: s.Per.Seconds(),
		Sent: s.Sent, Held: s.Held, Events: s.Events, ByRule: s.ByRule,
		ByErrorCode: map[string]int{}, TopGroups: []Count{}, TopSenders: []Count{},
	}
	if d := s.Digest; d != nil {
		out.ByErrorCode = d.ByCode
		out.TopGroups, out.TopSenders = counts(notify.Top(d.Groups, page.DigestTop)), counts(notify.Top(d.Senders, page.DigestTop))
		out.OtherGroups, out.OtherSenders = d.OtherGroups, d.OtherSenders
	}
	return out
}
