package google

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/command"
)

// InstallStates is google_install_states: whether each pass's object is saved by someone, as the Wallet API's
// last answer about it said (a patch's or a refresh's). The split reads it instead of asking Google on the
// contact's path.
type InstallStates struct {
	db    *sqldb.DB
	stmts *sqldb.Statements // of db.DB
	now   func() time.Time
}

// record stores an answer. It is best effort: the push or refresh it comes from succeeded, and a state that failed
// to be stored is only older, which the next split refreshes.
func (s InstallStates) record(ctx context.Context, tenantID, passID string, installed bool) {
	_, _ = s.db.ExecContext(ctx, recordInstallState, tenantID, passID, installed, s.now().UTC())
}

// recordIn stores an answer in tx, which the caller has other writes in. Prepare it before tx begins.
func (s InstallStates) recordIn(ctx context.Context, tx *sql.Tx, tenantID, passID string, installed bool) error {
	_, err := s.stmts.ExecContext(ctx, tx, recordInstallState, tenantID, passID, installed, s.now().UTC())
	return err
}

const recordInstallState = `INSERT INTO google_install_states (tenant_id, pass_id, installed, checked_at)
	VALUES ($1, $2, $3, $4)
	ON CONFLICT (tenant_id, pass_id) DO UPDATE SET installed = excluded.installed, checked_at = excluded.checked_at`

// get returns the states of the passes that have one.
func (s InstallStates) get(ctx context.Context, tenantID string, passIDs []string) (map[string]command.GoogleInstallState, error) {
	states := make(map[string]command.GoogleInstallState, len(passIDs))
	err := sqldb.QueryIn(ctx, s.db, `SELECT pass_id, installed, checked_at FROM google_install_states WHERE tenant_id = $1 AND `,
		"pass_id", ``, []any{tenantID}, passIDs, func(rows *sql.Rows) error {
			var passID string
			var st command.GoogleInstallState
			if err := rows.Scan(&passID, &st.Installed, &st.CheckedAt); err != nil {
				return err
			}
			states[passID] = st
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("google install states of %d passes: %w", len(passIDs), err)
	}
	return states, nil
}
