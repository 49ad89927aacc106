package passes

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/passpush/passpush/adapters/internal/group"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/pass"
)

// ReadModel is the passes table: what the pass queries read. Only Projection writes it.
type ReadModel struct {
	db      *sqldb.DB
	matches *group.Batcher[matchRequest, []command.MatchedPass]
	// pollInterval is how often Get looks again while it waits for a version.
	pollInterval time.Duration
}

var (
	_ query.PassGetter              = (*ReadModel)(nil)
	_ query.PassFinder              = (*ReadModel)(nil)
	_ command.PassMatcher           = (*ReadModel)(nil)
	_ command.AppleInstalledMatcher = (*ReadModel)(nil)
)

// NewReadModel returns the passes read model of db.
func NewReadModel(db *sqldb.DB) (*ReadModel, error) {
	if db == nil {
		return nil, errors.New("new passes read model: nil db")
	}
	m := &ReadModel{db: db, pollInterval: 5 * time.Millisecond}
	var err error
	if m.matches, err = group.NewBatcher(group.Config{MaxRun: maxMatchBatch, Timeout: matchTimeout, MaxInFlight: matchesInFlight}, m.matchAll); err != nil {
		return nil, fmt.Errorf("new passes read model: %w", err)
	}
	return m, nil
}

const selectPass = `SELECT ` + Columns + ` FROM passes p `

// Get implements query.PassGetter. While the row is missing or older than minStreamVersion it polls: the
// projection commits within milliseconds, and polling keeps this free of any channel between processes.
func (m *ReadModel) Get(ctx context.Context, tenantID, passID string, minStreamVersion int) (query.Pass, error) {
	for {
		p, streamVersion, err := m.get(ctx, tenantID, passID)
		if err != nil && !errors.Is(err, pass.ErrNotFound) {
			return query.Pass{}, err
		}
		if streamVersion >= minStreamVersion && err == nil {
			return p, nil
		}
		if minStreamVersion == 0 {
			return query.Pass{}, err
		}
		select {
		case <-ctx.Done():
			return query.Pass{}, fmt.Errorf("wait for pass %s to reach stream version %d: %w", passID, minStreamVersion, ctx.Err())
		case <-time.After(m.pollInterval):
		}
	}
}

func (m *ReadModel) get(ctx context.Context, tenantID, passID string) (query.Pass, int, error) {
	row := sqldb.ReaderFor(ctx, m.db).QueryRowContext(ctx, selectPass+`WHERE tenant_id = $1 AND pass_id = $2`, tenantID, passID)
	p, streamVersion, err := scanPass(row)
	if errors.Is(err, sql.ErrNoRows) {
		return query.Pass{}, 0, pass.ErrNotFound
	}
	if err != nil {
		return query.Pass{}, 0, fmt.Errorf("read pass %s: %w", passID, err)
	}
	return p, streamVersion, nil
}

// Find implements query.PassFinder. q.Email is already lower-case.
func (m *ReadModel) Find(ctx context.Context, q query.FindPasses) ([]query.Pass, error) {
	clause, args := sqldb.Page{
		Where:   []string{"tenant_id = $1", "pass_id > $2"},
		Args:    []any{q.TenantID, q.After},
		Filters: [][2]string{{"email_lower", q.Email}, {"custom_id", q.CustomID}, {"pass_type", q.PassType}},
		OrderBy: "pass_id",
		Limit:   q.Limit,
	}.SQL()
	rows, err := sqldb.ReaderFor(ctx, m.db).QueryContext(ctx, selectPass+clause, args...)
	if err != nil {
		return nil, fmt.Errorf("find passes: %w", err)
	}
	defer rows.Close()
	found := []query.Pass{}
	for rows.Next() {
		p, _, err := scanPass(rows)
		if err != nil {
			return nil, fmt.Errorf("find passes: %w", err)
		}
		found = append(found, p)
	}
	return found, rows.Err()
}

type scanner interface{ Scan(dest ...any) error }

// Columns are the columns of a pass that ScanPass reads, of the passes table under the alias p: a read model
// that joins a pass's row to its own (adapters/apple) reads the pass as this one does.
const Columns = `p.pass_id, p.pass_type, p.email, p.custom_id, p.data, p.version, p.stream_version, p.updated_at, p.message`

// ScanPass reads a row that starts with Columns; extra receives the row's further columns.
func ScanPass(row scanner, extra ...any) (query.Pass, error) {
	p, _, err := scanPass(row, extra...)
	return p, err
}

func scanPass(row scanner, extra ...any) (query.Pass, int, error) {
	var p query.Pass
	var data string
	var streamVersion int
	dest := append([]any{&p.PassID, &p.PassType, &p.Email, &p.CustomID, &data, &p.Version, &streamVersion, &p.UpdatedAt, &p.Message}, extra...)
	if err := row.Scan(dest...); err != nil {
		return query.Pass{}, 0, err
	}
	if err := json.Unmarshal([]byte(data), &p.Data); err != nil {
		return query.Pass{}, 0, fmt.Errorf("decode data of pass %s: %w", p.PassID, err)
	}
	p.UpdatedAt = p.UpdatedAt.UTC()
	return p, streamVersion, nil
}

const (
	// maxMatchBatch bounds the identifiers of one match query.
	maxMatchBatch = 500
	// matchTimeout bounds a match query; Journey Builder's own timeout is longer.
	matchTimeout = 10 * time.Second
	// matchesInFlight lets a match query start while another waits on the database.
	matchesInFlight = 2
)

// maxMatches caps the passes one contact entry can update: an email shared by more passes than this is a data
// problem, not a customer.
const maxMatches = 1000

// Match implements command.PassMatcher: the most specific identifier given decides, the pass type narrows.
// Concurrent execute calls are matched together, a query per kind of identifier for all of them (matchAll).
func (m *ReadModel) Match(ctx context.Context, tenantID string, match command.PassMatch) ([]string, error) {
	matched, err := m.matches.Do(ctx, matchRequest{tenantID: tenantID, match: match})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, p := range matched {
		ids = append(ids, p.PassID)
	}
	return ids, nil
}

// MatchAppleInstalled implements command.AppleInstalledMatcher: Match, and in the same query whether a device is
// registered for each pass (apple_registrations, which adapters/apple writes). The split needs both for every
// call; one statement for the two halves its statements and its round trips.
func (m *ReadModel) MatchAppleInstalled(ctx context.Context, tenantID string, match command.PassMatch) ([]command.MatchedPass, error) {
	return m.matches.Do(ctx, matchRequest{tenantID: tenantID, match: match, apple: true})
}

type matchRequest struct {
	tenantID string
	match    command.PassMatch
	// apple asks whether each matching pass has an active Apple registration.
	apple bool
}

// column is the read model column the request's identifier is matched against, and the value it must have.
func (r matchRequest) column() (string, string) {
	switch {
	case r.match.PassID != "":
		return "pass_id", r.match.PassID
	case r.match.CustomID != "":
		return "custom_id", r.match.CustomID
	}
	return "email_lower", strings.ToLower(strings.TrimSpace(r.match.Email))
}

// matchAll answers the requests with a query per identifier column: the rows whose tenant is one of the
// requests' and whose identifier is one of theirs, each request then picking its own. When a request of the
// column asks for Apple's registrations, the query reads them for every row it returns.
func (m *ReadModel) matchAll(ctx context.Context, reqs []matchRequest) ([][]command.MatchedPass, error) {
	type candidate struct {
		tenantID, passID, passType, value string
		apple                             bool
	}
	byColumn := map[string][]matchRequest{}
	for _, r := range reqs {
		column, _ := r.column()
		byColumn[column] = append(byColumn[column], r)
	}
	found := map[[3]string][]candidate{} // tenant, column, value
	for column, rs := range byColumn {
		var tenants, values []string
		apple := false
		for _, r := range rs {
			_, value := r.column()
			tenants, values = append(tenants, r.tenantID), append(values, value)
			apple = apple || r.apple
		}
		tenants, values = slices.Compact(slices.Sorted(slices.Values(tenants))), slices.Compact(slices.Sorted(slices.Values(values)))
		inTenants, tenantArgs := m.db.Dialect.InList("tenant_id", 1, tenants)
		inValues, valueArgs := m.db.Dialect.InList(column, 1+len(tenantArgs), values)
		registered := `FALSE`
		if apple {
			registered = `EXISTS (SELECT 1 FROM apple_registrations r WHERE r.tenant_id = passes.tenant_id AND r.pass_id = passes.pass_id AND r.active)`
		}
		rows, err := sqldb.ReaderFor(ctx, m.db).QueryContext(ctx,
			`SELECT tenant_id, pass_id, pass_type, `+column+`, `+registered+` FROM passes WHERE `+inTenants+` AND `+inValues+` ORDER BY pass_id`,
			m.db.Dialect.Planned(append(tenantArgs, valueArgs...)...)...)
		if err != nil {
			return nil, fmt.Errorf("match passes by %s: %w", column, err)
		}
		for rows.Next() {
			var c candidate
			if err := rows.Scan(&c.tenantID, &c.passID, &c.passType, &c.value, &c.apple); err != nil {
				rows.Close()
				return nil, fmt.Errorf("match passes: %w", err)
			}
			key := [3]string{c.tenantID, column, c.value}
			found[key] = append(found[key], c)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("match passes by %s: %w", column, err)
		}
	}
	out := make([][]command.MatchedPass, len(reqs))
	for i, r := range reqs {
		column, value := r.column()
		for _, c := range found[[3]string{r.tenantID, column, value}] {
			if (r.match.PassType == "" || c.passType == r.match.PassType) && len(out[i]) < maxMatches {
				out[i] = append(out[i], command.MatchedPass{PassID: c.passID, AppleInstalled: r.apple && c.apple})
			}
		}
	}
	return out, nil
}
