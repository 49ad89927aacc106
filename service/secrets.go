package service

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/adapters/secretbox"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/tenants"
	"github.com/passpush/passpush/app/dburl"
	"github.com/sirupsen/logrus"
)

// SecretKeys are the configured keys of the secrets stored in the database, as base64 text: PASSPUSH_SECRET_KEY
// (or the content of PASSPUSH_SECRET_KEY_FILE) and PASSPUSH_SECRET_KEY_PREVIOUS (or its _FILE).
type SecretKeys struct {
	Current  string
	Previous string
}

// KeyFileSuffix ends the name of the key file made beside an SQLite database that has no configured key.
const KeyFileSuffix = ".secret-key"

// NewSecretBox builds the box that seals the stored secrets from the configured keys. Without a current key it
// uses, on SQLite, the key file beside the database, made with a new random key (mode 0600) the first time; on
// PostgreSQL, whose instances must share one key, it refuses.
func NewSecretBox(keys SecretKeys, databaseURL string, log *logrus.Entry) (*secretbox.Box, error) {
	var previous []secretbox.Key
	if keys.Previous != "" {
		k, err := secretbox.ParseKey(keys.Previous)
		if err != nil {
			return nil, fmt.Errorf("PASSPUSH_SECRET_KEY_PREVIOUS: %w", err)
		}
		previous = append(previous, k)
	}
	if keys.Current != "" {
		k, err := secretbox.ParseKey(keys.Current)
		if err != nil {
			return nil, fmt.Errorf("PASSPUSH_SECRET_KEY: %w", err)
		}
		return secretbox.New(k, previous...)
	}
	target, err := dburl.Parse(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("database URL %w", err)
	}
	if target.Kind != dburl.SQLite {
		return nil, errors.New("PASSPUSH_SECRET_KEY or PASSPUSH_SECRET_KEY_FILE must be set on PostgreSQL: the secrets stored in the database are encrypted with it")
	}
	path := target.Path + KeyFileSuffix
	k, created, err := secretbox.EnsureKeyFile(path)
	if err != nil {
		return nil, err
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	if created {
		log.WithField("key_file", path).Info("no PASSPUSH_SECRET_KEY set: made a new secret key file beside the SQLite database; the secrets stored in the database are encrypted with it, so keep it with the database and out of its backups")
	} else {
		log.WithField("key_file", path).Debug("using the secret key file beside the SQLite database")
	}
	return secretbox.New(k, previous...)
}

// SealSecrets seals, in one transaction, every secret still stored in plain text (as versions before 13 stored
// them), and fingerprints the SFMC signing secrets that have no fingerprint under the current key. SQL
// migrations cannot encrypt, so this runs right after them, wherever they run; it does nothing when everything is
// sealed. Secrets sealed with another key are left alone: instances still on that key may be running.
func SealSecrets(ctx context.Context, db *sqldb.DB, box *secretbox.Box, log *logrus.Entry) error {
	return reseal(ctx, db, box, true, log)
}

// RotateSecretKey re-encrypts every stored secret with next, and computes the SFMC signing secrets' fingerprints
// again, in one transaction. box must open every secret stored (the configured current and previous keys); the
// instances must already run with next as their current key and the old one as their previous key, so that they
// read the secrets during and after the rotation.
func RotateSecretKey(ctx context.Context, db *sqldb.DB, box *secretbox.Box, next secretbox.Key, log *logrus.Entry) error {
	rotated, err := box.Rotated(next)
	if err != nil {
		return err
	}
	return reseal(ctx, db, rotated, false, log)
}

func reseal(ctx context.Context, db *sqldb.DB, box *secretbox.Box, plainOnly bool, log *logrus.Entry) error {
	creds, err := credentials.NewStore(db, box)
	if err != nil {
		return err
	}
	tenantStore, err := tenants.NewStore(db, box)
	if err != nil {
		return err
	}
	var sealedCreds int
	var sealedTenants tenants.Resealed
	err = sqldb.InTx(ctx, db, func(ctx context.Context, _ *sql.Tx) error {
		var err error
		if sealedCreds, err = creds.Reseal(ctx, plainOnly); err != nil {
			return err
		}
		sealedTenants, err = tenantStore.Reseal(ctx, plainOnly)
		return err
	})
	if err != nil {
		return err
	}
	if sealedCreds > 0 || sealedTenants.Sealed > 0 {
		log.WithFields(logrus.Fields{
			"credentials": sealedCreds, "tenants": sealedTenants.Sealed, "key_id": box.CurrentKeyID(),
		}).Info("encrypted the stored secrets with the current secret key")
	}
	for tenantID, other := range sealedTenants.SharedWith {
		log.WithFields(logrus.Fields{"tenant": tenantID, "other_tenant": other}).
			Warn("two tenants share an SFMC signing secret; give one of them a new secret (passpush tenant update ID --sfmc-signing-secret …)")
	}
	return nil
}
