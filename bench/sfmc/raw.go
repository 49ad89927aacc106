package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/watermillsqlite"
)

// rawTopic is a scratch topic: its table (watermill_bench_raw) is not one passpush reads.
const rawTopic = "bench_raw"

type rawResult struct {
	messages int64
	errors   int64
	elapsed  time.Duration
	firstErr error
}

func (r rawResult) rate() float64 { return float64(r.messages) / r.elapsed.Seconds() }

// checkFresh refuses a database that already has tables: the figures are for a fresh one.
func checkFresh(ctx context.Context, o options) error {
	if o.allowExisting {
		return nil
	}
	if path, ok := strings.CutPrefix(o.databaseURL, "sqlite:"); ok {
		if st, err := os.Stat(path); err == nil && st.Size() > 0 {
			return fmt.Errorf("%s exists; use a new file (or -allow-existing)", path)
		}
		return nil
	}
	db, err := sqldb.Open(ctx, o.databaseURL, sqldb.Config{})
	if err != nil {
		return err
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&n); err != nil {
		return fmt.Errorf("check that the database is fresh: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("the database already has %d tables; create a fresh one (or -allow-existing)", n)
	}
	return nil
}

// measureRawPublish publishes one message per Publish from o.rawWorkers goroutines for o.rawDuration, with
// watermill-sql directly on the database, opened the way passpush opens it (pgx stdlib pool of 32 connections on
// PostgreSQL; one WAL connection with synchronous(FULL) on SQLite).
func measureRawPublish(ctx context.Context, o options) (rawResult, error) {
	db, err := sqldb.Open(ctx, o.databaseURL, sqldb.Config{})
	if err != nil {
		return rawResult{}, err
	}
	defer db.Close()

	var schema wsql.SchemaAdapter = wsql.DefaultPostgreSQLSchema{}
	if db.Dialect.Name == sqldb.SQLite.Name {
		schema = watermillsqlite.SchemaAdapter{}
	}
	pub, err := wsql.NewPublisher(db.DB, wsql.PublisherConfig{SchemaAdapter: schema, AutoInitializeSchema: true}, watermill.NopLogger{})
	if err != nil {
		return rawResult{}, fmt.Errorf("raw publisher: %w", err)
	}
	defer pub.Close()
	// The table is created before the clock starts.
	if err := pub.Publish(rawTopic, rawMessage(-1)); err != nil {
		return rawResult{}, fmt.Errorf("raw publish: %w", err)
	}

	ctx, cancel := context.WithTimeout(ctx, o.rawDuration)
	defer cancel()
	var (
		published, failed atomic.Int64
		firstErr          error
		errOnce           sync.Once
		wg                sync.WaitGroup
		seq               atomic.Int64
	)
	start := time.Now()
	for range o.rawWorkers {
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := pub.Publish(rawTopic, rawMessage(seq.Add(1))); err != nil {
					failed.Add(1)
					errOnce.Do(func() { firstErr = err })
					time.Sleep(10 * time.Millisecond)
					continue
				}
				published.Add(1)
			}
		})
	}
	wg.Wait()
	res := rawResult{messages: published.Load(), errors: failed.Load(), elapsed: time.Since(start), firstErr: firstErr}
	if res.messages == 0 {
		return res, errors.Join(errors.New("raw publish stored nothing"), firstErr)
	}
	return res, nil
}

// rawMessage is about as large as a ScheduleJourneyPassUpdate command on the bus.
func rawMessage(i int64) *message.Message {
	payload := fmt.Appendf(nil, `{"tenantId":"bench","passId":"pass-%06d","journeyId":"bench-journey","activityId":"bench-activity",`+
		`"definitionInstanceId":"raw-%d","activityInstanceId":"bench-instance","contactKey":"contact-%d",`+
		`"data":{"points":"%d"},"message":"","correlationId":"%s"}`, i%2000, i, i, i, watermill.NewShortUUID())
	msg := message.NewMessage(watermill.NewUUID(), payload)
	msg.Metadata.Set("name", "command.ScheduleJourneyPassUpdate")
	msg.Metadata.Set("correlation_id", watermill.NewShortUUID())
	return msg
}
