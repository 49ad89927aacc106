package metrics

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// scrapeTimeout bounds the queries of one scrape: a slow database makes a gap in the series, not a hung scrape.
const scrapeTimeout = time.Second

// StoreCollector reads, at each scrape, what only the database knows: how far the projections are behind the
// event store, and how many deliveries wait in the queue. Every instance reports the same values; they are the
// database's, not the instance's.
type StoreCollector struct {
	db *sqldb.DB
	// groups maps each projection to the consumer group it is fed by.
	groups map[string]string
	// pending counts the deliveries in the queue (delivery.Queue.Pending).
	pending func(ctx context.Context) (int, error)
	log     *logrus.Entry

	lagDesc     *prometheus.Desc
	pendingDesc *prometheus.Desc
}

// NewStoreCollector reports the lag of each projection in groups (projection name → its consumer group on the
// events topic) and the deliveries pending, which pending counts.
func NewStoreCollector(db *sqldb.DB, groups map[string]string, pending func(ctx context.Context) (int, error), log *logrus.Entry) (*StoreCollector, error) {
	if db == nil || len(groups) == 0 || pending == nil || log == nil {
		return nil, errors.New("new store collector: a database, projections, a delivery count and a log are required")
	}
	return &StoreCollector{
		db: db, groups: groups, pending: pending, log: log,
		lagDesc: prometheus.NewDesc(namespace+"_projection_lag_events",
			"Events stored that the projection has not handled yet: the event store's head minus the projection's position.",
			[]string{"projection"}, nil),
		pendingDesc: prometheus.NewDesc(namespace+"_deliveries_pending",
			"Updates in the delivery queue: waiting for their first attempt, a retry, or in flight on some instance.",
			nil, nil),
	}, nil
}

func (c *StoreCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lagDesc
	ch <- c.pendingDesc
}

func (c *StoreCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	// Projections that share a group share its position: each group is read once.
	lags := map[string]int64{}
	for projection, group := range c.groups {
		lag, ok := lags[group]
		if !ok {
			var err error
			if lag, err = c.groupLag(ctx, group); err != nil {
				c.log.WithError(err).WithField("group", group).Warn("metrics: could not read the projection lag")
				lags[group] = -1
				continue
			}
			lags[group] = lag
		}
		if lag >= 0 {
			ch <- prometheus.MustNewConstMetric(c.lagDesc, prometheus.GaugeValue, float64(lag), projection)
		}
	}
	pending, err := c.pending(ctx)
	if err != nil {
		c.log.WithError(err).Warn("metrics: could not count the deliveries pending")
		return
	}
	ch <- prometheus.MustNewConstMetric(c.pendingDesc, prometheus.GaugeValue, float64(pending))
}

// groupLag counts the events from the first one that group has not handled to the head of the store.
//
// A projection keeps no position of its own: its consumer group's row in the events topic's offsets table says
// which bus message it acknowledged last, and each message carries the events of one append, with their positions
// (eventstore.Batch). The first message after that row holds the first event the group has not handled; every
// stored event from that one on is lag. Starting from the first unhandled message rather than the last handled
// one keeps this right once the handled messages are pruned.
func (c *StoreCollector) groupLag(ctx context.Context, group string) (int64, error) {
	payload, err := c.firstUnhandled(ctx, group)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var batch eventstore.Batch
	if err := json.Unmarshal(payload, &batch); err != nil {
		return 0, fmt.Errorf("decode the first message group %s has not handled: %w", group, err)
	}
	if len(batch.Events) == 0 {
		return 0, nil
	}
	from := batch.Events[0].Position
	var lag int64
	q := fmt.Sprintf(`SELECT count(*) FROM events WHERE (transaction_id, position) >= (%s, $2)`, c.transactionIDParam())
	if err := c.db.Reader.QueryRowContext(ctx, q, from.TransactionID, from.Sequence).Scan(&lag); err != nil {
		return 0, fmt.Errorf("count the events from %+v: %w", from, err)
	}
	return lag, nil
}

// firstUnhandled returns the payload of the first message of the events topic after group's acknowledged one.
// The two databases lay the topic out differently: on PostgreSQL messages are ordered by their transaction id and
// offset, on SQLite by the offset alone.
func (c *StoreCollector) firstUnhandled(ctx context.Context, group string) ([]byte, error) {
	var payload []byte
	if c.db.Dialect.Name == sqldb.Postgres.Name {
		var transactionID, offset int64
		err := c.db.Reader.QueryRowContext(ctx, `
			SELECT last_processed_transaction_id::text::bigint, COALESCE(offset_acked, 0)
			FROM watermill_offsets_events WHERE consumer_group = $1`, group).Scan(&transactionID, &offset)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("read the offset of group %s: %w", group, err)
		}
		err = c.db.Reader.QueryRowContext(ctx, `
			SELECT payload FROM watermill_events WHERE (transaction_id, "offset") > ($1::bigint::text::xid8, $2)
			ORDER BY transaction_id, "offset" LIMIT 1`, transactionID, offset).Scan(&payload)
		return payload, err
	}
	err := c.db.Reader.QueryRowContext(ctx, `
		SELECT payload FROM watermill_events
		WHERE "offset" > COALESCE((SELECT offset_acked FROM watermill_offsets_events WHERE consumer_group = $1), 0)
		ORDER BY "offset" LIMIT 1`, group).Scan(&payload)
	return payload, err
}

// transactionIDParam compares events.transaction_id with a bound integer so that the primary key serves the
// count: on PostgreSQL the column is an xid8, which the integer is cast to rather than the column to an integer.
func (c *StoreCollector) transactionIDParam() string {
	if c.db.Dialect.Name == sqldb.Postgres.Name {
		return "$1::bigint::text::xid8"
	}
	return "$1"
}
