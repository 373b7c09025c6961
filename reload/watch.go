package reload

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/imalert/imalert/config"
)

// Debounce is how long the watcher waits after the last change before it
// reloads: editors, config managers and cp write a file in several steps,
// and a reload must not read it half written.
const Debounce = 300 * time.Millisecond

// Run reloads on every value from hup (SIGHUP) and, once they have stopped
// changing, when the config file, a rule file or a secret file (any
// *_file setting) changes on disk, until ctx ends.
func (r *Reloader) Run(ctx context.Context, hup <-chan os.Signal) {
	var events <-chan fsnotify.Event
	var watchErrs <-chan error
	var w *fsnotify.Watcher
	if r.o.Path != "" {
		var err error
		if w, err = fsnotify.NewWatcher(); err != nil {
			r.logger.Warn("not watching rule files: reload with SIGHUP or POST /-/reload", "err", err.Error())
		} else {
			defer w.Close()
			events, watchErrs = w.Events, w.Errors
			r.watch(w)
			r.logger.Info("watching rule files", "dirs", w.WatchList())
		}
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var seen stamps // the watched files when the last change was seen
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_, _ = r.reload(TriggerSignal)
			r.watch(w)
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if r.relevant(ev) {
				seen = r.stamps()
				timer.Reset(Debounce)
			}
		case err, ok := <-watchErrs:
			if !ok {
				watchErrs = nil
				continue
			}
			r.logger.Warn("watching rule files", "err", err.Error())
		case <-timer.C:
			// Still changing, though no event said so: wait for quiet.
			if now := r.stamps(); !sameStamps(now, seen) {
				seen = now
				timer.Reset(Debounce)
				continue
			}
			_, _ = r.reload(TriggerWatch)
			r.watch(w)
		}
	}
}

// files returns the config file, the rule file patterns and the secret
// files of the set last loaded.
func (r *Reloader) files() (cfg string, patterns, secrets []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.o.Path, r.cur.Config.RuleFiles, secretFiles(r.cur.Config)
}

// watchDirs are the directories holding the config file, the rule files
// and the secret files. Directories, not files, are watched: editors and
// Kubernetes replace files rather than write them in place.
func (r *Reloader) watchDirs() []string {
	cfg, patterns, secrets := r.files()
	dirs := []string{filepath.Dir(cfg)}
	for _, p := range slices.Concat(patterns, secrets) {
		d := filepath.Dir(p)
		if strings.ContainsAny(d, "*?[\\") {
			continue // a pattern in the directory part: only SIGHUP and the API reload it
		}
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	return slices.Compact(dirs)
}

// watch makes w watch exactly the current directories.
func (r *Reloader) watch(w *fsnotify.Watcher) {
	if w == nil {
		return
	}
	want := r.watchDirs()
	for _, d := range w.WatchList() {
		if !slices.Contains(want, d) {
			_ = w.Remove(d)
		}
	}
	have := w.WatchList()
	for _, d := range want {
		if slices.Contains(have, d) {
			continue
		}
		if err := w.Add(d); err != nil {
			r.logger.Warn("cannot watch directory: changes in it need SIGHUP or POST /-/reload", "dir", d, "err", err.Error())
		}
	}
}

// relevant reports whether ev touches the config file, a rule file, a
// secret file, or a Kubernetes ConfigMap's "..data" link.
func (r *Reloader) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	name := filepath.Clean(ev.Name)
	cfg, patterns, secrets := r.files()
	if name == filepath.Clean(cfg) || strings.HasPrefix(filepath.Base(name), "..") || slices.Contains(secrets, name) {
		return true
	}
	for _, p := range patterns {
		if ok, _ := filepath.Match(p, name); ok {
			return true
		}
	}
	return false
}

// stamps are the size and modification time of watched files.
type stamps map[string][2]int64

// stamps returns the stamps of the config file, the rule files and the
// secret files.
func (r *Reloader) stamps() stamps {
	cfg, patterns, secrets := r.files()
	names := append([]string{cfg}, secrets...)
	for _, p := range patterns {
		m, _ := filepath.Glob(p)
		names = append(names, m...)
	}
	out := make(stamps, len(names))
	for _, n := range names {
		if fi, err := os.Stat(n); err == nil {
			out[n] = [2]int64{fi.Size(), fi.ModTime().UnixNano()}
		}
	}
	return out
}

func sameStamps(a, b stamps) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// secretFiles returns every file a *_file setting of cfg names, resolved
// against the config's directory. It walks the config's types, so a
// secret file added to the config later is watched too.
func secretFiles(cfg *config.Config) []string {
	var out []string
	dir := filepath.Dir(cfg.File)
	var visit func(v reflect.Value)
	visit = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				visit(v.Elem())
			}
		case reflect.Slice:
			if structElem(v.Type()) {
				for i := range v.Len() {
					visit(v.Index(i))
				}
			}
		case reflect.Struct:
			if v.Type().PkgPath() != configPkg {
				return
			}
			for i := range v.NumField() {
				f := v.Type().Field(i)
				name, _ := fieldName(f)
				if f.IsExported() && f.Type.Kind() == reflect.String && strings.HasSuffix(name, "_file") {
					if p := v.Field(i).String(); p != "" {
						if !filepath.IsAbs(p) {
							p = filepath.Join(dir, p)
						}
						out = append(out, filepath.Clean(p))
					}
					continue
				}
				if f.IsExported() {
					visit(v.Field(i))
				}
			}
		}
	}
	visit(reflect.ValueOf(cfg))
	slices.Sort(out)
	return slices.Compact(out)
}
