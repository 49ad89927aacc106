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
	"time"

	"github.com/passpush/passpush/adapters/apple"
	"github.com/passpush/passpush/adapters/messaging"
	"github.com/passpush/passpush/adapters/secretbox"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/webhook"
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
	currentKey, previousKey, err := config.SecretKeys()
	if err != nil {
		return nil, err
	}
	maxConns, maxIdleTime := config.DBPool()
	db, err := sqldb.Open(ctx, config.DatabaseURL, sqldb.Config{MaxConns: maxConns, MaxIdleTime: maxIdleTime})
	if err != nil {
		return nil, err
	}
	applied, err := sqldb.Migrate(ctx, db)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	secrets, err := service.NewSecretBox(service.SecretKeys{Current: currentKey, Previous: previousKey}, config.DatabaseURL, log)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	if err := service.SealSecrets(ctx, db, secrets, log); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	lease, maxAttempts, maxBackoff := config.DeliverySchedule()
	webhooks, err := config.WebhookPolicy()
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	maxInFlight, tenantShare := config.Limits()
	svc, err := service.New(db, service.Config{
		Delivery: delivery.Config{Lease: lease, MaxAttempts: maxAttempts, MaxBackoff: maxBackoff,
			TenantShare: tenantShare},
		PublicURL:    config.PublicURL,
		GoogleAPIURL: config.GoogleAPIURL,
		APNs:         apple.ChannelConfig{URL: config.APNsURL, SignAhead: config.SignAhead()},
		Webhook:      webhook.Config{AllowInsecure: webhooks.AllowInsecure, AllowCIDRs: webhooks.AllowCIDRs},
		Secrets:      secrets,
		Retention:    messaging.RetentionConfig{Retention: config.MessageRetentionDuration()},
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
		ArchiveEvents: func(ctx context.Context, before time.Time, path string) (cli.ArchiveResult, error) {
			r, err := svc.ArchiveEvents(ctx, before, path)
			return cli.ArchiveResult{Archived: r.Archived, Deleted: r.Deleted, Resumed: r.Resumed}, err
		},
		Poison: poisonQueue,
		NewHTTPHandler: func() (http.Handler, error) {
			// Validate has parsed them already.
			proxies, err := config.TrustedProxyPrefixes()
			if err != nil {
				return nil, err
			}
			server := svc.Monitoring(httpport.Config{
				AdminToken: config.AdminToken, PublicURL: config.PublicURL,
				TrustedProxies: proxies, FrameAncestors: config.FrameAncestors, MaxInFlight: maxInFlight,
			})
			if config.MetricsAddr != "" {
				server.MetricsHandler = nil // served on its own listener
			}
			return httpport.NewServer(svc.App, server, log)
		},
		MetricsHandler: svc.Metrics.HTTPHandler(),
		RotateSecretKey: func(ctx context.Context, newKey string) error {
			next, err := secretbox.ParseKey(newKey)
			if err != nil {
				return err
			}
			return service.RotateSecretKey(ctx, db, secrets, next, log)
		},
		Close: db.Close,
	}, nil
}
