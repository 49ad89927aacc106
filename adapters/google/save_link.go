package google

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/passpush/passpush/app/query"
)

// SaveLinkBase is what an "Add to Google Wallet" link starts with; the signed JWT follows.
const SaveLinkBase = "https://pay.google.com/gp/v/save/"

// SaveLinks makes passes' "Add to Google Wallet" links: query.GoogleSaveLinks.
type SaveLinks struct {
	objects *Objects
	origins []string
	now     func() time.Time
}

var _ query.GoogleSaveLinks = (*SaveLinks)(nil)

// NewSaveLinks returns the maker of links to the objects that objects builds. publicURL is PASSPUSH_PUBLIC_URL:
// the only origin the links' JWT allows (none when empty).
func NewSaveLinks(objects *Objects, publicURL string) (*SaveLinks, error) {
	if objects == nil {
		return nil, errors.New("new google save links: nil objects")
	}
	origins := []string{}
	if u := strings.TrimRight(publicURL, "/"); u != "" {
		origins = append(origins, u)
	}
	return &SaveLinks{objects: objects, origins: origins, now: time.Now}, nil
}

// SaveLink implements query.GoogleSaveLinks: the link to save the pass's object, built now from the pass's data.
// The error wraps push.ErrNotSetUp when the tenant has no Google settings or no class for the pass's type.
func (l *SaveLinks) SaveLink(ctx context.Context, tenantID, passID string) (string, error) {
	obj, err := l.objects.Build(ctx, tenantID, passID)
	if err != nil {
		return "", err
	}
	return SignSaveLink(obj, l.origins, l.now())
}

// SignSaveLink returns the link that saves obj: SaveLinkBase and a JWT signed RS256 with the service account's
// key of obj.Account, with the claims iss (the service account's email), aud "google", typ "savetowallet",
// origins, iat, and the payload {"<type>Objects": [obj.Body]}.
func SignSaveLink(obj Object, origins []string, now time.Time) (string, error) {
	if obj.Account == nil || obj.Account.ServiceAccount.Key == nil {
		return "", errors.New("sign a google save link: the object has no service account")
	}
	account := obj.Account.ServiceAccount
	if origins == nil {
		origins = []string{}
	}
	token := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss":     account.ClientEmail,
		"aud":     "google",
		"typ":     "savetowallet",
		"origins": origins,
		"iat":     now.Unix(),
		"payload": map[string]any{obj.Type + "Objects": []any{obj.Body}},
	})
	if account.PrivateKeyID != "" {
		token.Header["kid"] = account.PrivateKeyID
	}
	signed, err := token.SignedString(account.Key)
	if err != nil {
		// The signer's errors say nothing of the key.
		return "", fmt.Errorf("sign the google save link of object %s: %w", obj.ID, err)
	}
	return SaveLinkBase + signed, nil
}
