package google

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/passpush/passpush/adapters/sqldb"
)

// NotifyingPerDay is how many notifying messages (TEXT_AND_NOTIFY) Google shows per pass in 24 hours.
const NotifyingPerDay = 3

// messageWindow is the span NotifyingPerDay counts over; messageKept is how long a message is remembered, so a
// retry within the delivery's day of retries finds its own.
const (
	messageWindow = 24 * time.Hour
	messageKept   = 2 * messageWindow
)

// messages are the messages added to passes' objects, in google_messages: the count of notifying ones in the
// last 24 hours lives there, so a restart or another instance doesn't reset it. The delivery stage pushes one
// pass's updates in order, so one pass's messages are not reserved concurrently.
type messages struct {
	db    *sqldb.DB
	stmts *sqldb.Statements // of db.DB: every message is reserved in a transaction
	now   func() time.Time
}

// reserve records the message of the pass before it is added, and says whether it notifies: it does while the
// pass has had fewer than NotifyingPerDay notifying messages in the last 24 hours. A message already recorded
// (an update retried) keeps what it was first given, so it is counted once. before, when set, runs first in the
// same transaction: the push's other write (the install state), which then costs no commit of its own.
func (m messages) reserve(ctx context.Context, tenantID, passID, messageID string,
	before func(ctx context.Context, tx *sql.Tx) error) (notify bool, err error) {
	now := m.now()
	m.stmts.Prepare(ctx, forgetOldMessages)
	m.stmts.Prepare(ctx, recordMessage)
	err = sqldb.InTx(ctx, m.db, func(ctx context.Context, tx *sql.Tx) error {
		if before != nil {
			if err := before(ctx, tx); err != nil {
				return err
			}
		}
		if _, err := m.stmts.ExecContext(ctx, tx, forgetOldMessages,
			tenantID, passID, now.Add(-messageKept).UnixMicro()); err != nil {
			return err
		}
		return m.stmts.QueryRowContext(ctx, tx, recordMessage,
			tenantID, passID, messageID, now.UnixMicro(), now.Add(-messageWindow).UnixMicro(), NotifyingPerDay).Scan(&notify)
	})
	if err != nil {
		return false, fmt.Errorf("reserve google message %s of pass %s: %w", messageID, passID, err)
	}
	return notify, nil
}

// forgetOldMessages drops the pass's messages older than messageKept.
const forgetOldMessages = `DELETE FROM google_messages WHERE tenant_id = $1 AND pass_id = $2 AND added_at < $3`

// recordMessage records a message, notifying while the pass has had fewer than $6 notifying ones since $5, and
// returns whether it notifies. WHERE true lets SQLite tell ON CONFLICT from a join's ON. A message already recorded
// is "updated" to what it was, so that RETURNING gives its notify: one statement where an insert and a read were
// two.
const recordMessage = `INSERT INTO google_messages (tenant_id, pass_id, message_id, notify, added_at)
	SELECT $1, $2, $3, (SELECT COUNT(*) FROM google_messages
		WHERE tenant_id = $1 AND pass_id = $2 AND notify AND added_at > $5) < $6, $4
	WHERE true
	ON CONFLICT (tenant_id, pass_id, message_id) DO UPDATE SET notify = google_messages.notify
	RETURNING notify`

// release forgets a message that will never be shown, so it doesn't use up a notification.
func (m messages) release(ctx context.Context, tenantID, passID, messageID string) error {
	if _, err := m.db.ExecContext(ctx, `DELETE FROM google_messages
		WHERE tenant_id = $1 AND pass_id = $2 AND message_id = $3`, tenantID, passID, messageID); err != nil {
		return fmt.Errorf("forget google message %s of pass %s: %w", messageID, passID, err)
	}
	return nil
}
