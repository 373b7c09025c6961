package callback

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

var updateSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite testdata/fuzz/FuzzParse from the sample bodies")

// seedBodies are the bodies the FuzzParse corpus starts from: every sample,
// every documented command, every known-bad body.
func seedBodies(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, pattern := range []string{
		"testdata/samples/*.json", "testdata/samples/tencent-docs/*.json",
		"testdata/samples/tencent-docs/legacy-and-guides/*.json",
		"testdata/commands/*.json", "testdata/bad/*.json", "testdata/good/*.json",
	} {
		files, _ := filepath.Glob(pattern)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out[strings.TrimPrefix(filepath.ToSlash(f), "testdata/")] = b
		}
	}
	return out
}

func seedQuery(body []byte) string {
	cmd := CommandSendMsgException
	if m := commandRE.FindSubmatch(body); m != nil {
		cmd = string(m[1])
	}
	return "SdkAppid=1400000000&CallbackCommand=" + url.QueryEscape(cmd) + "&contenttype=json&ClientIP=10.0.0.1&OptPlatform=RESTAPI"
}

// TestWriteFuzzSeeds regenerates the checked-in FuzzParse seed corpus with
// -update-fuzz-seeds; otherwise it checks the corpus covers every sample.
func TestWriteFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	bodies := seedBodies(t)
	if *updateSeeds {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range bodies {
			file := filepath.Join(dir, "seed-"+strings.NewReplacer("/", "-", ".json", "").Replace(name))
			content := fmt.Sprintf("go test fuzz v1\nstring(%q)\n[]byte(%q)\n", seedQuery(b), b)
			if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) < len(bodies) {
		t.Errorf("%s holds %d seeds for %d sample bodies; run go test ./callback -run TestWriteFuzzSeeds -update-fuzz-seeds", dir, len(entries), len(bodies))
	}
}

// FuzzParse feeds arbitrary query strings and bodies to the envelope and
// body parsers. Whatever the input, they must not panic, must answer with
// their own error types, and what they accept must respect the limits.
func FuzzParse(f *testing.F) {
	f.Add("SdkAppid=1&CallbackCommand=Push.OfflinePush", []byte(`{"Events":[{"EventTime":1},{}]}`))
	f.Add("SdkAppid=1&CallbackCommand=Group.CallbackSendMsgException", []byte(`{"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"\xff"}}]}`))
	f.Add("SdkAppid=1&CallbackCommand=X.Y", []byte(`{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`))
	lim := Limits{MaxDepth: 16, MaxElements: 8, MaxFields: 32, MaxEvents: 8, MaxTextBytes: 64}
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		v, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		q, err := ParseQuery(v)
		if err != nil {
			var qe *QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("ParseQuery error of type %T", err)
			}
			return
		}
		if !validCommand(q.Command) || len(q.Command) > maxCommandLen {
			t.Fatalf("accepted command %q", q.Command)
		}
		items, err := ParseEvents(q, body, lim)
		if err != nil {
			var be *BodyError
			if !errors.As(err, &be) {
				t.Fatalf("ParseEvents error of type %T", err)
			}
			if !utf8.ValidString(be.Error()) {
				t.Fatalf("error text is not UTF-8: %q", be.Error())
			}
			return
		}
		if len(items) > lim.MaxEvents {
			t.Fatalf("%d events accepted", len(items))
		}
		for _, it := range items {
			ev := it.Event
			if ev.Command != q.Command || ev.AppID != q.AppID {
				t.Fatalf("event envelope %q/%d, want %q/%d", ev.Command, ev.AppID, q.Command, q.AppID)
			}
			if len(ev.MsgBody) > lim.MaxElements {
				t.Fatalf("%d elements accepted", len(ev.MsgBody))
			}
			for _, s := range FieldSpecs() {
				if v, _ := s.Str(ev); s.Where == InBody && len(v) > lim.MaxTextBytes {
					t.Fatalf("%s of %d bytes kept", s.Name, len(v))
				}
			}
			if ev.LeftOut.Elements < 0 || ev.LeftOut.Fields < 0 || ev.LeftOut.Events < 0 {
				t.Fatalf("negative left-out count %+v", ev.LeftOut)
			}
			for i := range ev.MsgBody {
				if len(ev.MsgBody[i].Content.Text) > lim.MaxTextBytes {
					t.Fatalf("text of %d bytes kept", len(ev.MsgBody[i].Content.Text))
				}
			}
			k := it.DedupKey()
			if len(k) != 32 || k != DedupKey(ev, it.Body) {
				t.Fatalf("dedup key %q unstable or malformed", k)
			}
			for _, s := range FieldSpecs() {
				ev.Field(s.Name)
			}
			for name := range ev.Extra {
				ev.Field(name)
			}
			_ = ev.Excerpt()
			_ = ev.Time()
		}
	})
}

// WithoutSign drops every Sign a server would read and keeps every other
// parameter as it was.
func FuzzWithoutSign(f *testing.F) {
	f.Add("SdkAppid=1400000000&CallbackCommand=Group.CallbackSendMsgException&Sign=abc&RequestTime=1700000000")
	f.Add("%53ign=a&Sign&sign=b&&x=%ZZ&Sign=c;d")
	f.Add("")
	f.Fuzz(func(t *testing.T, q string) {
		out := WithoutSign(q)
		after, _ := url.ParseQuery(out)
		if after.Has("Sign") {
			t.Fatalf("WithoutSign(%q) = %q still has a Sign", q, out)
		}
		before, _ := url.ParseQuery(q)
		before.Del("Sign")
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("WithoutSign(%q) = %q: parameters %v, want %v", q, out, after, before)
		}
	})
}
