// Command passpush is the composition root: it reads nothing itself, but wires the adapters (database, buses)
// into the application and hands the ports (CLI, HTTP) what they need.
package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/passpush/passpush/adapters/apple"
	"github.com/passpush/passpush/adapters/messaging"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/ports/cli"
	"github.com/passpush/passpush/ports/delivery"
	httpport "github.com/passpush/passpush/ports/http"
	"github.com/passpush/passpush/service"
	"github.com/sirupsen/logrus"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.IO{
		Stdin:     os.Stdin,
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
		LookupEnv: os.LookupEnv,
	}, open)
	stop()
	os.Exit(code)
}

// open builds passpush on the configured database: adapters, then the application, then the HTTP port.
func open(ctx context.Context, config cli.Config, log *logrus.Entry) (*cli.Backend, error) {
	maxConns, maxIdleTime := config.DBPool()
	db, err := sqldb.Open(ctx, config.DatabaseURL, sqldb.Config{MaxConns: maxConns, MaxIdleTime: maxIdleTime})
	if err != nil {
		return nil, err
	}
	applied, err := sqldb.Migrate(ctx, db)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	lease, maxAttempts, maxBackoff := config.DeliverySchedule()
	maxInFlight, tenantShare := config.Limits()
	svc, err := service.New(db, service.Config{
		Delivery: delivery.Config{Lease: lease, MaxAttempts: maxAttempts, MaxBackoff: maxBackoff,
			TenantShare: tenantShare},
		PublicURL:    config.PublicURL,
		GoogleAPIURL: config.GoogleAPIURL,
		APNs:         apple.ChannelConfig{URL: config.APNsURL},
	}, log)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	poisonQueue, err := messaging.NewPoison(db, log)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return &cli.Backend{
		App:                svc.App,
		Migrated:           applied,
		Run:                svc.Run,
		RunBus:             svc.RunBus,
		RebuildProjections: svc.RebuildProjections,
		SkipEvent:          svc.SkipEvent,
		Poison:             poisonQueue,
		NewHTTPHandler: func() (http.Handler, error) {
			return httpport.NewServer(svc.App, httpport.Config{AdminToken: config.AdminToken, PublicURL: config.PublicURL,
				MaxInFlight: maxInFlight}, log)
		},
		Close: db.Close,
	}, nil
}
