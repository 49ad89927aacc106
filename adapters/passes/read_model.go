package passes

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/pass"
)

// ReadModel is the passes table: what the pass queries read. Only Projection writes it.
type ReadModel struct {
	db *sqldb.DB
	// pollInterval is how often Get looks again while it waits for a version.
	pollInterval time.Duration
}

var (
	_ query.PassGetter    = (*ReadModel)(nil)
	_ query.PassFinder    = (*ReadModel)(nil)
	_ command.PassMatcher = (*ReadModel)(nil)
)

// NewReadModel returns the passes read model of db.
func NewReadModel(db *sqldb.DB) (*ReadModel, error) {
	if db == nil {
		return nil, errors.New("new passes read model: nil db")
	}
	return &ReadModel{db: db, pollInterval: 5 * time.Millisecond}, nil
}

const selectPass = `SELECT pass_id, pass_type, email, custom_id, data, version, stream_version, updated_at FROM passes `

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

func scanPass(row scanner) (query.Pass, int, error) {
	var p query.Pass
	var data string
	var streamVersion int
	if err := row.Scan(&p.PassID, &p.PassType, &p.Email, &p.CustomID, &data, &p.Version, &streamVersion, &p.UpdatedAt); err != nil {
		return query.Pass{}, 0, err
	}
	if err := json.Unmarshal([]byte(data), &p.Data); err != nil {
		return query.Pass{}, 0, fmt.Errorf("decode data of pass %s: %w", p.PassID, err)
	}
	p.UpdatedAt = p.UpdatedAt.UTC()
	return p, streamVersion, nil
}

// maxMatches caps the passes one contact entry can update: an email shared by more passes than this is a data
// problem, not a customer.
const maxMatches = 1000

// Match implements command.PassMatcher: the most specific identifier given decides, the pass type narrows.
func (m *ReadModel) Match(ctx context.Context, tenantID string, match command.PassMatch) ([]string, error) {
	column, value := "email_lower", strings.ToLower(strings.TrimSpace(match.Email))
	switch {
	case match.PassID != "":
		column, value = "pass_id", match.PassID
	case match.CustomID != "":
		column, value = "custom_id", match.CustomID
	}
	stmt := `SELECT pass_id FROM passes WHERE tenant_id = $1 AND ` + column + ` = $2`
	args := []any{tenantID, value}
	if match.PassType != "" {
		stmt += ` AND pass_type = $3`
		args = append(args, match.PassType)
	}
	args = append(args, maxMatches)
	stmt += fmt.Sprintf(` ORDER BY pass_id LIMIT $%d`, len(args))
	rows, err := sqldb.ReaderFor(ctx, m.db).QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, fmt.Errorf("match passes by %s: %w", column, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("match passes: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
