package apple

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/query"
)

// Tokens are the passes' authenticationTokens: a random secret per pass, made on first use and never changed.
// They live in apple_pass_tokens, which no projection owns, so a rebuild keeps them and the passes on phones go on
// working.
type Tokens struct {
	db *sqldb.DB
}

var (
	_ query.AuthenticationTokens = (*Tokens)(nil)
	_ query.AppleTokenChecker    = (*Tokens)(nil)
)

// NewTokens returns the tokens of db.
func NewTokens(db *sqldb.DB) (*Tokens, error) {
	if db == nil {
		return nil, errors.New("new authentication tokens: nil db")
	}
	return &Tokens{db: db}, nil
}

// tokenBytes is the entropy of a token: 32 bytes, 64 hex characters.
const tokenBytes = 32

// Token returns the pass's authenticationToken, making it on first use. Two first uses at once agree: the insert
// does nothing when a token is there, and both read the one stored.
func (t *Tokens) Token(ctx context.Context, tenantID, passID string) (string, error) {
	token, err := t.read(ctx, sqldb.ReaderFor(ctx, t.db), tenantID, passID)
	if err == nil {
		return token, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make authentication token: %w", err)
	}
	err = sqldb.InTx(ctx, t.db, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO apple_pass_tokens (tenant_id, pass_id, token, created_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (tenant_id, pass_id) DO NOTHING`, tenantID, passID, hex.EncodeToString(b), time.Now().UTC())
		if err != nil {
			return fmt.Errorf("store authentication token of pass %s: %w", passID, err)
		}
		token, err = t.read(ctx, tx, tenantID, passID)
		return err
	})
	return token, err
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (t *Tokens) read(ctx context.Context, q queryer, tenantID, passID string) (string, error) {
	var token string
	err := q.QueryRowContext(ctx, `SELECT token FROM apple_pass_tokens WHERE tenant_id = $1 AND pass_id = $2`, tenantID, passID).Scan(&token)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("read authentication token of pass %s: %w", passID, err)
	}
	return token, err
}

// CheckToken implements query.AppleTokenChecker: the pass must be in the passes read model and have a token,
// and token must equal it (compared in constant time).
func (t *Tokens) CheckToken(ctx context.Context, tenantID, passID, token string) (query.HeldApplePass, bool, error) {
	var stored sql.NullString
	var held query.HeldApplePass
	var lastModified int64
	err := sqldb.ReaderFor(ctx, t.db).QueryRowContext(ctx, `SELECT t.token, p.pass_type, p.last_modified
		FROM passes p LEFT JOIN apple_pass_tokens t ON t.tenant_id = p.tenant_id AND t.pass_id = p.pass_id
		WHERE p.tenant_id = $1 AND p.pass_id = $2`, tenantID, passID).Scan(&stored, &held.PassType, &lastModified)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return query.HeldApplePass{}, false, fmt.Errorf("check authentication token of pass %s: %w", passID, err)
	}
	if !stored.Valid {
		// Compare anyway, so an unknown pass takes as long as a wrong token.
		stored.String = unknownPassToken
	}
	ok := subtle.ConstantTimeCompare([]byte(stored.String), []byte(token)) == 1 && stored.Valid
	if !ok {
		return query.HeldApplePass{}, false, nil
	}
	held.LastModified = time.Unix(lastModified, 0).UTC()
	return held, true, nil
}

// unknownPassToken is what a token is compared with when the pass has none; no token equals it, as it is never
// stored.
const unknownPassToken = "0000000000000000000000000000000000000000000000000000000000000000"
