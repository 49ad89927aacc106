package credentials

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/passpush/passpush/adapters/secretbox"
	"github.com/passpush/passpush/adapters/sqldb"
)

// Reseal seals again with the box's current key the data of every credential not sealed with it, and returns how
// many it rewrote. With plainOnly it rewrites only the data stored in plain text before secrets were sealed: what
// every start does, while instances on the previous key may still run. It joins the transaction ctx carries. The
// revision stays: the credential is the same, so the clients built from it need not be rebuilt.
func (s *Store) Reseal(ctx context.Context, plainOnly bool) (int, error) {
	type row struct{ tenantID, kind, name, data string }
	n := 0
	err := sqldb.InTx(ctx, s.db, func(ctx context.Context, tx *sql.Tx) error {
		// Read every row before writing: SQLite's one connection cannot write while a result set is open.
		rows, err := tx.QueryContext(ctx, `SELECT tenant_id, kind, name, data FROM channel_credentials
			ORDER BY tenant_id, kind, name`)
		if err != nil {
			return err
		}
		var stale []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.tenantID, &r.kind, &r.name, &r.data); err != nil {
				_ = rows.Close()
				return err
			}
			if secretbox.IsSealed(r.data) && (plainOnly || s.box.SealedWithCurrent(r.data)) {
				continue
			}
			stale = append(stale, r)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for _, r := range stale {
			data, err := s.Open(r.tenantID, r.kind, r.name, r.data)
			if err != nil {
				return err
			}
			sealed, err := s.seal(r.tenantID, r.kind, r.name, data)
			if err != nil {
				return err
			}
			// Compared with what was read, so that of two instances starting at once only one rewrites it.
			res, err := tx.ExecContext(ctx, `UPDATE channel_credentials SET data = $1
				WHERE tenant_id = $2 AND kind = $3 AND name = $4 AND data = $5`, sealed, r.tenantID, r.kind, r.name, r.data)
			if err != nil {
				return fmt.Errorf("update %s credential %s of tenant %s: %w", r.kind, r.name, r.tenantID, err)
			}
			if changed, err := res.RowsAffected(); err == nil {
				n += int(changed)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("seal the channel credentials: %w", err)
	}
	return n, nil
}
