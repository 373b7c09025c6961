package store

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	appends            *prometheus.CounterVec
	batchSize          prometheus.Histogram
	commitDuration     prometheus.Histogram
	writeDuration      prometheus.Histogram
	foldDuration       prometheus.Histogram
	swept              *prometheus.CounterVec
	checkpoints        *prometheus.CounterVec
	checkpointDuration *prometheus.HistogramVec
	walBytes           prometheus.Gauge
	broken             prometheus.Gauge
}

func newMetrics(r prometheus.Registerer) *metrics {
	m := &metrics{
		appends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imalert_journal_appends_total", Help: "Callbacks written to the journal, by result (ok, error).",
		}, []string{"result"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "imalert_journal_commit_batch_size", Help: "Callbacks sharing one journal commit (group commit).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}),
		commitDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "imalert_journal_commit_duration_seconds", Help: "Duration of journal commits.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
		writeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "imalert_store_write_duration_seconds", Help: "Duration of the store's other write transactions (processed batches, the outbox), from waiting for the writer to commit.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
		foldDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "imalert_journal_fold_duration_seconds", Help: "Duration of the transactions that move acknowledged callbacks from the journal log into the database.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
		swept: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imalert_store_swept_total", Help: "Rows deleted by the retention sweep, by table.",
		}, []string{"table"}),
		checkpoints: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imalert_store_checkpoints_total", Help: "Write-ahead log checkpoints, by mode (PASSIVE, RESTART) and result (ok, busy, error).",
		}, []string{"mode", "result"}),
		checkpointDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "imalert_store_checkpoint_duration_seconds", Help: "Duration of write-ahead log checkpoints, by mode; a RESTART one holds writes back meanwhile.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"mode"}),
		walBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "imalert_store_wal_bytes", Help: "Size of the write-ahead log file when last looked at.",
		}),
		broken: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "imalert_store_broken", Help: "1 once the store is broken (damaged, or its files replaced): writes are refused until a restart.",
		}),
	}
	return m
}

// register adds the metrics and a collector of the outbox's live counts.
func (m *metrics) register(r prometheus.Registerer, s *Store) {
	if r == nil {
		return
	}
	r.MustRegister(m.appends, m.batchSize, m.commitDuration, m.writeDuration, m.foldDuration, m.swept, m.checkpoints, m.checkpointDuration, m.walBytes, m.broken, &collector{s: s})
}

var (
	unprocessedDesc = prometheus.NewDesc("imalert_journal_unprocessed_events",
		"Acknowledged callbacks not yet run through the rules.", nil, nil)
	lagDesc = prometheus.NewDesc("imalert_journal_lag_seconds",
		"Age of the oldest acknowledged callback not yet run through the rules; 0 when there is none.", nil, nil)
	outboxDesc = prometheus.NewDesc("imalert_outbox_notifications",
		"Notifications in the outbox waiting for delivery (pending) or given up (dead), by receiver.",
		[]string{"receiver", "state"}, nil)
)

// collector reads live counts from the database at scrape time, so they are
// right across restarts.
type collector struct{ s *Store }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- unprocessedDesc
	ch <- lagDesc
	ch <- outboxDesc
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if n, err := c.s.CountUnprocessed(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(unprocessedDesc, prometheus.GaugeValue, float64(n))
	}
	if oldest, err := c.s.OldestUnprocessed(ctx); err == nil {
		lag := 0.0
		if !oldest.IsZero() {
			lag = max(time.Since(oldest).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, lag)
	}
	for _, st := range []State{Pending, Dead} {
		counts, err := c.s.counts(ctx, st)
		if err != nil {
			continue
		}
		for r, n := range counts {
			ch <- prometheus.MustNewConstMetric(outboxDesc, prometheus.GaugeValue, float64(n), r, string(st))
		}
	}
}
