package reload

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/yamlfile"
)

// plan is what a reload does beside swapping the rules.
type plan struct {
	swap    []config.Receiver // receivers whose notifier is rebuilt
	restart []string          // changed settings that need a restart
}

// applied reports whether a reload applies the setting at path p with the
// rules, the signature checks or the log level. Receivers are planned on
// their own.
func (r *Reloader) applied(p string) bool {
	if p == "log.level" && r.o.Level != nil {
		return true
	}
	for _, prefix := range []string{"rule_files", "codes"} {
		if p == prefix || under(p, prefix) {
			return true
		}
	}
	if r.o.Verifiers == nil {
		return false
	}
	// apps[N].tokens and apps[N].tokens_file; an app added, removed or
	// renumbered needs a restart.
	return p == "callback.freshness_window" ||
		strings.HasPrefix(p, "apps[") && (strings.HasSuffix(p, "].tokens") || strings.HasSuffix(p, "].tokens_file"))
}

// plan compares next with what runs. Settings changed since start are
// applied, or named as needing a restart; a receiver's notifier is rebuilt
// when its settings changed since it was built and the receiver can keep
// its queue.
func (r *Reloader) plan(next *Set) plan {
	var p plan
	byName := func(c *config.Config) map[string]config.Receiver {
		m := make(map[string]config.Receiver, len(c.Receivers))
		for _, rc := range c.Receivers {
			m[rc.Name] = rc
		}
		return m
	}
	startRecv, nextRecv := byName(r.start), byName(next.Config)
	keepsQueue := map[string]bool{}
	for name, rc := range nextRecv {
		if old, ok := startRecv[name]; ok && r.o.Notifiers != nil && sameQueue(r.start, next.Config, old, rc) {
			keepsQueue[name] = true
			if receiverChanged(r.recv[name], rc) {
				p.swap = append(p.swap, rc)
			}
		}
	}
	for _, c := range Changes(r.start, next.Config) {
		if r.applied(c) {
			continue
		}
		if name, ok := receiverOf(c, startRecv, nextRecv); ok && keepsQueue[name] {
			continue
		}
		p.restart = append(p.restart, c)
	}
	return p
}

// receiverOf returns the receiver the setting at path p belongs to.
func receiverOf(p string, maps ...map[string]config.Receiver) (string, bool) {
	best := ""
	for _, m := range maps {
		for name := range m {
			prefix := "receivers." + name
			if (p == prefix || under(p, prefix)) && len(name) > len(best) {
				best = name
			}
		}
	}
	return best, best != ""
}

// receiverChanged reports whether a receiver's settings differ.
func receiverChanged(a, b config.Receiver) bool {
	a.Line, b.Line = 0, 0
	var out []string
	walk(&out, "", reflect.ValueOf(a), reflect.ValueOf(b))
	return len(out) > 0
}

// sameQueue reports whether receiver b of config nb can take the place of
// receiver a of config na, the one its queue was built for: the same
// retry policy, attempt timeout, pacing and incident handling. A new pace
// key (a new URL) is fine while neither the old nor the new one is shared
// with another receiver, whose pacing the dispatcher cannot regroup.
func sameQueue(na, nb *config.Config, a, b config.Receiver) bool {
	da, db := destination(a, nil, ""), destination(b, nil, "")
	if da.PaceKey != db.PaceKey && (sharedKey(na, a.Name, da.PaceKey) || sharedKey(na, a.Name, db.PaceKey) || sharedKey(nb, b.Name, db.PaceKey)) {
		return false
	}
	da.Notifier, db.Notifier = nil, nil
	da.PaceKey, db.PaceKey = "", ""
	return da == db
}

// sharedKey reports whether a receiver of c other than name paces by key.
func sharedKey(c *config.Config, name, key string) bool {
	for _, rc := range c.Receivers {
		if rc.Name != name && destination(rc, nil, "").PaceKey == key {
			return true
		}
	}
	return false
}

// lostRules refuses a rule set that lost rules in a way an edit in
// progress does: a file that had rules and has none (truncated, or caught
// in the middle of a copy), or a glob of rule_files that matched files and
// matches none. Deleting a file that a glob still matches others beside
// is an edit, and is applied.
func lostRules(cur, next *Set) yamlfile.Errors {
	var errs yamlfile.Errors
	had := map[string]int{}
	for _, f := range cur.Files {
		had[f.Name] = len(f.Rules)
	}
	for _, f := range next.Files {
		if n := had[f.Name]; n > 0 && len(f.Rules) == 0 {
			errs = append(errs, &yamlfile.Error{File: f.Name,
				Msg: fmt.Sprintf("reload refused: the file had %d rule(s) and has none (truncated, or read in the middle of a write?); to drop its rules, remove the file or take it out of rule_files", n)})
		}
	}
	for _, pattern := range next.Config.RuleFiles {
		if before, after := matching(cur, pattern), matching(next, pattern); before > 0 && after == 0 {
			errs = append(errs, &yamlfile.Error{File: next.Config.File,
				Msg: fmt.Sprintf("reload refused: rule_files pattern %s matched %d file(s) and matches none; to drop its rules, take it out of rule_files", pattern, before)})
		}
	}
	return errs
}

// matching counts the rule files of s that pattern matches.
func matching(s *Set, pattern string) int {
	n := 0
	for _, f := range s.Files {
		if ok, _ := filepath.Match(pattern, f.Name); ok {
			n++
		}
	}
	return n
}
