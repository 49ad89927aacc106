package apple

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/applepass"
)

// CertificateStore holds the tenants' Pass Type ID certificates, kept as credentials of kind KindCertificate named by
// their Pass Type ID. Signers are cached per credential, and rebuilt when it changes.
type CertificateStore struct {
	store   *credentials.Store
	signers *credentials.Clients[*signer]
	now     func() time.Time
}

var (
	_ command.AppleCertificateStore = (*CertificateStore)(nil)
	_ query.AppleCertificateLister  = (*CertificateStore)(nil)
	_ query.AppleSigners            = (*CertificateStore)(nil)
)

// NewCertificateStore returns the certificates kept in store.
func NewCertificateStore(store *credentials.Store) (*CertificateStore, error) {
	if store == nil {
		return nil, errors.New("new Apple certificates: nil credential store")
	}
	signers, err := credentials.NewClients(store, KindCertificate, func(c credentials.Credential) (*signer, error) {
		cert, err := DecodeCertificate(c.Data)
		if err != nil {
			return nil, err
		}
		return newSigner(cert), nil
	}, credentials.ClientsConfig{})
	if err != nil {
		return nil, err
	}
	return &CertificateStore{store: store, signers: signers, now: time.Now}, nil
}

// Put implements command.AppleCertificateStore: it loads files (a .p12, or PEM), checks it and stores it.
func (cs *CertificateStore) Put(ctx context.Context, tenantID, wantPassTypeID string, files command.AppleCertificateFiles, now time.Time) (applepass.CertificateInfo, error) {
	var (
		c       Certificate
		warning *ExpiryWarning
		err     error
	)
	if len(files.P12) > 0 {
		c, warning, err = LoadP12(files.P12, files.P12Password, files.WWDR, now)
	} else {
		c, warning, err = LoadPEM(files.CertificatePEM, files.PrivateKeyPEM, files.WWDR, now)
	}
	if err != nil {
		return applepass.CertificateInfo{}, err
	}
	if wantPassTypeID != "" && c.PassTypeID != wantPassTypeID {
		return applepass.CertificateInfo{}, refuse(ErrInvalidCertificate,
			"the certificate is for %q (its subject UID), not %q", c.PassTypeID, wantPassTypeID)
	}
	data, err := EncodeCertificate(c)
	if err != nil {
		return applepass.CertificateInfo{}, err
	}
	if err := cs.store.Put(ctx, tenantID, KindCertificate, c.PassTypeID, data); err != nil {
		return applepass.CertificateInfo{}, err
	}
	info := infoOf(c)
	if warning != nil {
		info.Warning = warning.String()
	}
	return info, nil
}

// Has implements command.AppleCertificateStore.
func (cs *CertificateStore) Has(ctx context.Context, tenantID, passTypeID string) (bool, error) {
	_, err := cs.store.Get(ctx, tenantID, KindCertificate, passTypeID)
	if errors.Is(err, credentials.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// List implements query.AppleCertificateLister.
func (cs *CertificateStore) List(ctx context.Context, tenantID string) ([]applepass.CertificateInfo, error) {
	stored, err := cs.store.List(ctx, tenantID, KindCertificate)
	if err != nil {
		return nil, err
	}
	now := cs.now()
	infos := make([]applepass.CertificateInfo, 0, len(stored))
	for _, s := range stored {
		c, err := DecodeCertificate(s.Data)
		if err != nil {
			return nil, fmt.Errorf("Apple certificate %s of tenant %s: %w", s.Name, tenantID, err)
		}
		info := infoOf(c)
		warning, err := c.Check(now)
		switch {
		case err != nil:
			info.Warning = err.Error() + ": renew it on Apple's developer site"
		case warning != nil:
			info.Warning = warning.String()
		}
		infos = append(infos, info)
	}
	return infos, nil
}

// Signer implements query.AppleSigners.
func (cs *CertificateStore) Signer(ctx context.Context, tenantID, passTypeID string) (query.AppleSigner, error) {
	s, err := cs.signers.Get(ctx, tenantID, passTypeID)
	if errors.Is(err, credentials.ErrNotFound) {
		return nil, fmt.Errorf("%w: tenant %s has no certificate of %s", query.ErrAppleNotConfigured, tenantID, passTypeID)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Close releases the cached signers.
func (cs *CertificateStore) Close() { cs.signers.Close() }

func infoOf(c Certificate) applepass.CertificateInfo {
	return applepass.CertificateInfo{PassTypeID: c.PassTypeID, TeamID: c.TeamID, Subject: c.Subject, NotAfter: c.NotAfter.UTC()}
}

// signer signs passes with one certificate.
type signer struct {
	cert        Certificate
	fingerprint string
}

func newSigner(c Certificate) *signer {
	sum := sha256.Sum256(c.Leaf.Raw)
	return &signer{cert: c, fingerprint: hex.EncodeToString(sum[:])}
}

func (s *signer) PassTypeID() string  { return s.cert.PassTypeID }
func (s *signer) TeamID() string      { return s.cert.TeamID }
func (s *signer) Fingerprint() string { return s.fingerprint }

func (s *signer) Sign(t applepass.Template, passJSON []byte) ([]byte, error) {
	return Build(t, passJSON, s.cert, time.Time{})
}
