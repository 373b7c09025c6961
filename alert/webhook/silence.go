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
