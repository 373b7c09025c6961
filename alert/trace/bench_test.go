package trace_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/imalert/imalert/alert"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/rules/rulestest"
	"github.com/imalert/imalert/store"
)

// BenchmarkStormTrace processes a storm of 10023 callbacks over 50 groups,
// every one matched by one throttled rule (a trace row per event: most are
// held back), and reports the bytes each table holds per event.
const stormRule = `rules:
  - name: group-rate-limit
    match: {error_code: 10023}
    group_by: [GroupId]
    throttle: 10m
    receivers: [a]
`

func BenchmarkStormTrace(b *testing.B) {
	dir := b.TempDir()
	st, err := store.Open(context.Background(), store.Options{Dir: dir, Sync: store.SyncNormal})
	if err != nil {
		b.Fatal(err)
	}
	p := alert.NewPipeline(alert.PipelineOptions{Rules: rulestest.Compile(b, stormRule, "a"), Store: st})
	t0 := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	raws := make([]callback.Raw, b.N)
	for i := range raws {
		raws[i] = raw(fmt.Sprintf("@TGS#group%02d", i%50), fmt.Sprintf("user%d", i%997), 10023, t0.Add(time.Duration(i)*time.Millisecond))
	}
	b.ResetTimer()
	for i := 0; i < len(raws); i += 256 {
		if _, err := st.AppendAll(context.Background(), raws[i:min(i+256, len(raws))]); err != nil {
			b.Fatal(err)
		}
	}
	p.Stop()
	p.Run(context.Background())
	b.StopTimer()
	st.Close()
	db, err := sql.Open("sqlite", filepath.Join(dir, store.FileName))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name, sum(pgsize) FROM dbstat WHERE name IN ('events', 'decisions', 'decisions_rule', 'notifications') GROUP BY name`)
	if err != nil {
		b.Skipf("no dbstat: %v", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var size float64
		if err := rows.Scan(&name, &size); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(size/float64(b.N), name+"-B/event")
	}
}
