// Package eventarchive moves old events out of the event store into a gzip file of JSON lines.
package eventarchive

import (
	"bufio"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/passpush/passpush/adapters/audit"
	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/messaging"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/query"
)

// Line is one archived event: the event export's line, so one reader takes both, with its position in the event
// store rather than the audit log; an archive holds every tenant's events, so it adds the tenant and the event's
// id.
type Line struct {
	query.Event
	TenantID string `json:"tenantId"`
	EventID  string `json:"eventId"`
}

// Result is what an archive run did.
type Result struct {
	// Archived is how many events the file holds, Deleted how many of them this run deleted from the store.
	Archived, Deleted int
	// Resumed is true when the file was there already, from a run that stopped before it had deleted them all.
	Resumed bool
}

const (
	// page is how many events one read takes, deleteBatch how many one delete removes, each in a transaction of
	// its own, so the archive holds no lock the buses or execute would wait on for long.
	page        = 1000
	deleteBatch = 1000
)

// Archiver moves events out of one database's store.
type Archiver struct {
	db     *sqldb.DB
	events *eventstore.Store
	// audit is the audit log, which keeps the rows of archived events and marks them so (audit.Log.MarkArchived).
	audit *audit.Log
}

// New returns the archiver of db's event store.
func New(db *sqldb.DB, events *eventstore.Store, auditLog *audit.Log) (*Archiver, error) {
	if db == nil || events == nil || auditLog == nil {
		return nil, errors.New("new event archiver: nil db, event store or audit log")
	}
	return &Archiver{db: db, events: events, audit: auditLog}, nil
}

// Archive writes every archivable event (eventstore.Store.ArchivablePage) that occurred before before to path, a
// gzip file of JSON lines in global order, syncs it, and only then deletes those events from the store, a batch
// at a time.
//
// The file is written beside path and renamed into place once synced, so path exists only whole. A run that
// stops before the rename leaves nothing deleted, and the next run writes the file afresh. A run that stops
// after it leaves the file: run again with the same path, and it deletes what the file holds and is still
// stored, and archives nothing more, so no event is lost or archived twice.
func (a *Archiver) Archive(ctx context.Context, before time.Time, path string) (Result, error) {
	if path == "" {
		return Result{}, errors.New("archive events: no output file")
	}
	if _, err := os.Stat(path); err == nil {
		return a.resume(ctx, path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return Result{}, fmt.Errorf("archive events: %w", err)
	}
	archived, err := a.write(ctx, before, path)
	if err != nil || len(archived) == 0 {
		return Result{}, err
	}
	deleted, err := a.delete(ctx, archived)
	return Result{Archived: len(archived), Deleted: deleted}, err
}

// archivedEvent names an event the archive holds: its id, which the store deletes it by, and its tenant, which
// the audit log's flag is scoped to.
type archivedEvent struct {
	tenantID, id string
}

// write writes the archivable events before before to path and returns them; none, and no file, when there are
// none.
func (a *Archiver) write(ctx context.Context, before time.Time, path string) (archived []archivedEvent, err error) {
	handled, ok, err := messaging.HandledBefore(ctx, a.db)
	if err != nil {
		return nil, fmt.Errorf("archive events: %w", err)
	}
	if !ok {
		return nil, nil
	}
	partial := path + ".partial"
	f, err := os.OpenFile(partial, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("archive events: %w", err)
	}
	defer func() {
		if f != nil {
			err = errors.Join(err, f.Close(), os.Remove(partial))
		}
	}()
	buffered := bufio.NewWriterSize(f, 1<<20)
	zw := gzip.NewWriter(buffered)
	lines := json.NewEncoder(zw)
	var after eventstore.Position
	for {
		events, err := a.events.ArchivablePage(ctx, handled, after, page)
		if err != nil {
			return nil, fmt.Errorf("archive events: %w", err)
		}
		for _, e := range events {
			if !e.OccurredAt.Before(before) {
				continue
			}
			journeyID, passID := audit.Subject(e)
			if err := lines.Encode(Line{
				Event: query.Event{Position: e.Position.Sequence, Type: e.Type, OccurredAt: e.OccurredAt, StreamID: e.StreamID,
					JourneyID: journeyID, PassID: passID, CorrelationID: e.CorrelationID, Data: e.Payload},
				TenantID: e.TenantID, EventID: e.ID,
			}); err != nil {
				return nil, fmt.Errorf("archive events: write %s: %w", partial, err)
			}
			archived = append(archived, archivedEvent{tenantID: e.TenantID, id: e.ID})
		}
		if len(events) < page {
			break
		}
		after = events[len(events)-1].Position
	}
	if len(archived) == 0 {
		return nil, nil
	}
	if err := errors.Join(zw.Close(), buffered.Flush(), f.Sync()); err != nil {
		return nil, fmt.Errorf("archive events: write %s: %w", partial, err)
	}
	closeErr := f.Close()
	f = nil
	if closeErr != nil {
		return nil, errors.Join(fmt.Errorf("archive events: close %s: %w", partial, closeErr), os.Remove(partial))
	}
	if err := os.Rename(partial, path); err != nil {
		return nil, fmt.Errorf("archive events: %w", err)
	}
	// The rename is durable only once the folder is synced; until then a crash could lose the file.
	if err := syncDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("archive events: %w", err)
	}
	return archived, nil
}

// resume deletes the events that the archive at path holds and the store still has.
func (a *Archiver) resume(ctx context.Context, path string) (Result, error) {
	var archived []archivedEvent
	err := Read(path, func(l Line) error {
		archived = append(archived, archivedEvent{tenantID: l.TenantID, id: l.EventID})
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("archive events: resume from %s: %w", path, err)
	}
	deleted, err := a.delete(ctx, archived)
	return Result{Archived: len(archived), Deleted: deleted, Resumed: true}, err
}

// delete deletes the archived events from the store, a batch per transaction, and flags their audit rows
// archived in the same transaction: a row is flagged exactly when its event has left the store.
func (a *Archiver) delete(ctx context.Context, archived []archivedEvent) (int, error) {
	deleted := 0
	for start := 0; start < len(archived); start += deleteBatch {
		batch := archived[start:min(start+deleteBatch, len(archived))]
		ids := make([]string, len(batch))
		byTenant := map[string][]string{}
		for i, e := range batch {
			ids[i] = e.id
			byTenant[e.tenantID] = append(byTenant[e.tenantID], e.id)
		}
		var n int
		err := sqldb.InTx(ctx, a.db, func(ctx context.Context, _ *sql.Tx) error {
			var err error
			if n, err = a.events.DeleteArchived(ctx, ids); err != nil {
				return err
			}
			for tenantID, ids := range byTenant {
				if _, err := a.audit.MarkArchived(ctx, tenantID, ids); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return deleted, fmt.Errorf("archive events: %d deleted so far, run again with the same output to finish: %w", deleted, err)
		}
		deleted += n
	}
	return deleted, nil
}

// Read calls fn with each line of the archive at path.
func Read(path string, fn func(Line) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	dec := json.NewDecoder(zr)
	for {
		var l Line
		err := dec.Decode(&l)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if l.EventID == "" {
			return fmt.Errorf("read %s: a line without an eventId", path)
		}
		if err := fn(l); err != nil {
			return err
		}
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
