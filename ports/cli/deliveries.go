package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
)

func newDeliveriesCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deliveries",
		Short: "List failed deliveries and redrive them",
		Long: `A delivery fails for good when a channel refuses an update (a 4xx) or keeps failing until the last attempt
(PASSPUSH_DELIVERY_MAX_ATTEMPTS): its pass then has a PushUpdateFailed. list shows those updates; once the cause
is fixed, redrive queues them again, for the channels that failed only.`,
	}
	cmd.AddCommand(newDeliveriesListCommand(e), newDeliveriesRedriveCommand(e))
	return cmd
}

// deliveryFilters are the flags list and redrive share.
type deliveryFilters struct {
	tenantID, journeyID, channel, since string
	asJSON                              bool
}

func (f *deliveryFilters) register(cmd *cobra.Command) {
	flags := cmd.Flags()
	flags.StringVar(&f.tenantID, "tenant", "", "tenant id")
	flags.StringVar(&f.journeyID, "journey", "", "only the updates of this journey (its journeyId)")
	flags.StringVar(&f.channel, "channel", "", "only the updates this channel failed: webhook, apple or google")
	flags.StringVar(&f.since, "since", "", "only the updates that failed at or after this time: RFC 3339 (2026-12-03T10:00:00Z), a date (2026-12-03, UTC) or a duration back from now (90m, 24h)")
	flags.BoolVar(&f.asJSON, "json", false, "print one JSON object per update and line instead of the table")
	_ = cmd.MarkFlagRequired("tenant")
}

func (f *deliveryFilters) query() (query.FailedDeliveries, error) {
	since, err := parseSince(f.since, time.Now())
	if err != nil {
		return query.FailedDeliveries{}, err
	}
	return query.FailedDeliveries{TenantID: f.tenantID, JourneyID: f.journeyID, Channel: f.channel, Since: since}, nil
}

// run opens the back end and calls use with the filters' query and a printer of failed deliveries, which it
// flushes once use returns. It returns how many updates were printed.
func (f *deliveryFilters) run(cmd *cobra.Command, e *env, use func(b *Backend, q query.FailedDeliveries, out *deliveryPrinter) error) (int, error) {
	q, err := f.query()
	if err != nil {
		return 0, err
	}
	b, err := e.openBackend(cmd.Context())
	if err != nil {
		return 0, err
	}
	defer e.closeBackend(b)
	out := newDeliveryPrinter(cmd.OutOrStdout(), f.asJSON)
	err = use(b, q, out)
	if flushErr := out.flush(); err == nil {
		err = flushErr
	}
	return out.count, err
}

// parseSince reads --since: a time, a date, or a duration back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since %q is neither an RFC 3339 time, a date (YYYY-MM-DD) nor a duration such as 24h", s)
}

func newDeliveriesListCommand(e *env) *cobra.Command {
	var (
		filters deliveryFilters
		failed  bool
	)
	cmd := &cobra.Command{
		Use:   "list --tenant ID --failed [--journey ID] [--channel C] [--since TIME] [--json]",
		Short: "List the updates whose delivery failed",
		Long: `list --failed shows the tenant's updates whose last outcome is PushUpdateFailed, in pass order: one row per
update and channel that failed it, with the update's eventId (the id receivers dedupe on), the pass, the revision,
the journey, when it failed (UTC) and the channel's reason. An update redriven since, and not failed again, is not
listed. --json prints one JSON object per update and line instead (its channels in an array), and nothing when
there are none.`,
		Example: `  passpush deliveries list --tenant acme --failed
  passpush deliveries list --tenant acme --failed --channel webhook --since 24h --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !failed {
				return errors.New("list shows failed deliveries only: give --failed")
			}
			printed, err := filters.run(cmd, e, func(b *Backend, q query.FailedDeliveries, out *deliveryPrinter) error {
				return query.EachFailedDelivery(cmd.Context(), b.App.Queries.FailedDeliveries, q, out.print)
			})
			if err != nil {
				return err
			}
			if printed == 0 && !filters.asJSON {
				fmt.Fprintln(cmd.OutOrStdout(), "no failed deliveries")
			}
			return nil
		},
	}
	filters.register(cmd)
	cmd.Flags().BoolVar(&failed, "failed", false, "list the updates whose last outcome is PushUpdateFailed (required)")
	return cmd
}

func newDeliveriesRedriveCommand(e *env) *cobra.Command {
	var (
		filters deliveryFilters
		reason  string
		dryRun  bool
	)
	cmd := &cobra.Command{
		Use:   "redrive --tenant ID --reason TEXT [--journey ID] [--channel C] [--since TIME] [--dry-run] [--json]",
		Short: "Queue failed updates again, for the channels that failed them",
		Long: `redrive queues again each update that list --failed shows (with the same filters), for the channels that
failed it: a channel that delivered it is not pushed again, nor is a device that took it. With --channel, only
that channel is redriven. Each redriven update keeps its eventId, so receivers still dedupe, and gets a
DeliveryRedriven event with --reason, which the audit log shows. A running serve takes it at its next claim,
with a full set of attempts; without one, it waits for serve.

An update is redriven once: the DeliveryRedriven event and the queued delivery commit together, guarded by the
version of the pass's push stream. Running redrive again, two at once, or again after one was killed, never
queues an update twice; an update queued again already, or delivered since, is skipped. --dry-run lists what
would be redriven and changes nothing.`,
		Example: `  passpush deliveries redrive --tenant acme --dry-run
  passpush deliveries redrive --tenant acme --channel webhook --since 2026-12-03 --reason "receiver fixed (INC-42)"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if reason == "" && !dryRun {
				return errors.New("say why: --reason TEXT is recorded with each redriven update (or try --dry-run first)")
			}
			var result command.RedriveResult
			_, err := filters.run(cmd, e, func(b *Backend, q query.FailedDeliveries, out *deliveryPrinter) error {
				var err error
				result, err = b.App.Commands.RedriveFailedDeliveries.Handle(cmd.Context(), command.RedriveFailedDeliveries{
					TenantID: q.TenantID, JourneyID: q.JourneyID, Channel: q.Channel, Since: q.Since,
					Reason: reason, DryRun: dryRun, Redriven: func(d query.FailedDelivery) { _ = out.print(d) },
				})
				return err
			})
			entry := e.log.WithFields(logrus.Fields{"tenant": filters.tenantID, "journey": filters.journeyID, "channel": filters.channel,
				"dry_run": dryRun, "redriven": result.Redriven, "skipped": result.Skipped, "reason": reason})
			if err != nil {
				entry = entry.WithError(err)
			}
			entry.Info("redrive of failed deliveries")
			if err != nil {
				if result.Redriven > 0 {
					return fmt.Errorf("redrove %d updates, then: %w; run it again to redrive the rest", result.Redriven, err)
				}
				return err
			}
			if filters.asJSON {
				return nil
			}
			switch {
			case dryRun:
				fmt.Fprintf(cmd.OutOrStdout(), "would redrive %d updates (dry run: nothing changed)\n", result.Redriven)
			default:
				fmt.Fprintf(cmd.OutOrStdout(), "redrove %d updates", result.Redriven)
				if result.Skipped > 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "; %d were redriven by another redrive first", result.Skipped)
				}
				fmt.Fprintln(cmd.OutOrStdout())
			}
			return nil
		},
	}
	filters.register(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded in each DeliveryRedriven event (required unless --dry-run)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be redriven and change nothing")
	return cmd
}

// deliveryPrinter writes failed deliveries as a table, one row per update and failed channel, or as JSON lines.
type deliveryPrinter struct {
	table *tabwriter.Writer
	json  *json.Encoder
	count int
}

func newDeliveryPrinter(w io.Writer, asJSON bool) *deliveryPrinter {
	if asJSON {
		return &deliveryPrinter{json: json.NewEncoder(w)}
	}
	return &deliveryPrinter{table: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
}

func (p *deliveryPrinter) print(d query.FailedDelivery) error {
	p.count++
	if p.json != nil {
		if err := p.json.Encode(d); err != nil {
			return fmt.Errorf("write update %s: %w", d.EventID, err)
		}
		return nil
	}
	if p.count == 1 {
		fmt.Fprintln(p.table, "EVENT ID\tPASS\tREVISION\tJOURNEY\tFAILED AT\tCHANNEL\tREASON")
	}
	for _, c := range d.Channels {
		fmt.Fprintf(p.table, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.EventID, orDash(d.PassID), strconv.Itoa(d.Revision),
			orDash(d.JourneyID), d.FailedAt.UTC().Format(time.DateTime), orDash(c.Channel), orDash(c.Detail))
	}
	return nil
}

func (p *deliveryPrinter) flush() error {
	if p.table == nil {
		return nil
	}
	return p.table.Flush()
}
