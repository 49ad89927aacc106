package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

func TestConfigValidate(t *testing.T) {
	valid := Config{HTTPAddr: ":8080", LogLevel: "info", DBMaxConns: "20", DBMaxIdleTime: "5m"}
	dir := t.TempDir()
	keyFile, emptyFile, shortFile := filepath.Join(dir, "key"), filepath.Join(dir, "empty"), filepath.Join(dir, "short")
	for path, content := range map[string]string{keyFile: testSecretKey + "\n", emptyFile: "", shortFile: "c2hvcnQ=\n"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const pg = "postgres://u:p@db:5432/passpush"
	tests := []struct {
		name    string
		change  func(c *Config)
		wantErr string
	}{
		{"defaults", func(c *Config) {}, ""},
		{"postgres", func(c *Config) { c.DatabaseURL = pg; c.SecretKey = testSecretKey }, ""},
		{"postgresql", func(c *Config) { c.DatabaseURL = "postgresql://db/passpush"; c.SecretKeyFile = keyFile }, ""},
		{"postgres without a secret key", func(c *Config) { c.DatabaseURL = pg }, "PASSPUSH_SECRET_KEY or PASSPUSH_SECRET_KEY_FILE must be set on PostgreSQL"},
		{"sqlite with a secret key", func(c *Config) { c.SecretKey = testSecretKey }, ""},
		{"secret key not base64", func(c *Config) { c.SecretKey = "not base64!" }, "PASSPUSH_SECRET_KEY must hold the standard base64 of 32"},
		{"secret key of 5 bytes", func(c *Config) { c.SecretKey = "c2hvcnQ=" }, "PASSPUSH_SECRET_KEY must hold"},
		{"secret key and its file", func(c *Config) { c.SecretKey = testSecretKey; c.SecretKeyFile = keyFile }, "both set"},
		{"missing secret key file", func(c *Config) { c.SecretKeyFile = filepath.Join(dir, "none") }, "PASSPUSH_SECRET_KEY_FILE"},
		{"empty secret key file", func(c *Config) { c.SecretKeyFile = emptyFile }, "PASSPUSH_SECRET_KEY_FILE"},
		{"short secret key file", func(c *Config) { c.SecretKeyFile = shortFile }, "PASSPUSH_SECRET_KEY_FILE " + shortFile + " must hold"},
		{"previous key", func(c *Config) { c.DatabaseURL = pg; c.SecretKeyFile = keyFile; c.SecretKeyPrevious = otherSecretKey }, ""},
		{"previous key file", func(c *Config) { c.SecretKey = otherSecretKey; c.SecretKeyPreviousFile = keyFile }, ""},
		{"previous key without a current one", func(c *Config) { c.SecretKeyPrevious = otherSecretKey }, "PASSPUSH_SECRET_KEY_PREVIOUS is set without"},
		{"previous key not base64", func(c *Config) { c.SecretKey = testSecretKey; c.SecretKeyPrevious = "x" }, "PASSPUSH_SECRET_KEY_PREVIOUS must hold"},
		{"sqlite file", func(c *Config) { c.DatabaseURL = "sqlite:/var/lib/passpush.db" }, ""},
		{"sqlite without path", func(c *Config) { c.DatabaseURL = "sqlite:" }, "needs a path"},
		{"mysql", func(c *Config) { c.DatabaseURL = "mysql://root@db/passpush" }, "PASSPUSH_DATABASE_URL"},
		{"addr without port", func(c *Config) { c.HTTPAddr = "localhost" }, "PASSPUSH_HTTP_ADDR"},
		{"host and port", func(c *Config) { c.HTTPAddr = "127.0.0.1:0" }, ""},
		{"public url", func(c *Config) { c.PublicURL = "https://passpush.example.com" }, ""},
		{"relative public url", func(c *Config) { c.PublicURL = "passpush.example.com" }, "PASSPUSH_PUBLIC_URL"},
		{"token with newline", func(c *Config) { c.AdminToken = "abc\n" }, "PASSPUSH_ADMIN_TOKEN"},
		{"log level", func(c *Config) { c.LogLevel = "debug" }, ""},
		{"unknown log level", func(c *Config) { c.LogLevel = "loud" }, "PASSPUSH_LOG_LEVEL"},
		{"db max conns at the minimum", func(c *Config) { c.DBMaxConns = "8" }, ""},
		{"db max conns below the minimum", func(c *Config) { c.DBMaxConns = "7" }, "PASSPUSH_DB_MAX_CONNS"},
		{"db max conns not a number", func(c *Config) { c.DBMaxConns = "many" }, "PASSPUSH_DB_MAX_CONNS"},
		{"db max idle time", func(c *Config) { c.DBMaxIdleTime = "90s" }, ""},
		{"db max idle time zero", func(c *Config) { c.DBMaxIdleTime = "0s" }, "PASSPUSH_DB_MAX_IDLE_TIME"},
		{"db max idle time without unit", func(c *Config) { c.DBMaxIdleTime = "300" }, "PASSPUSH_DB_MAX_IDLE_TIME"},
		{"delivery lease", func(c *Config) { c.DeliveryLease = "5s" }, ""},
		{"delivery lease below the minimum", func(c *Config) { c.DeliveryLease = "50ms" }, "PASSPUSH_DELIVERY_LEASE"},
		{"delivery lease without unit", func(c *Config) { c.DeliveryLease = "10" }, "PASSPUSH_DELIVERY_LEASE"},
		{"delivery max attempts", func(c *Config) { c.DeliveryMaxAttempts = "20" }, ""},
		{"delivery max attempts zero", func(c *Config) { c.DeliveryMaxAttempts = "0" }, "PASSPUSH_DELIVERY_MAX_ATTEMPTS"},
		{"delivery max backoff", func(c *Config) { c.DeliveryMaxBackoff = "1h" }, ""},
		{"delivery max backoff below the first wait", func(c *Config) { c.DeliveryMaxBackoff = "500ms" }, "PASSPUSH_DELIVERY_MAX_BACKOFF"},
		{"insecure webhooks", func(c *Config) { c.AllowInsecureWebhooks = "true" }, ""},
		{"insecure webhooks not a bool", func(c *Config) { c.AllowInsecureWebhooks = "yes please" }, "PASSPUSH_ALLOW_INSECURE_WEBHOOKS"},
		{"apple sign ahead not a bool", func(c *Config) { c.AppleSignAhead = "always" }, "PASSPUSH_APPLE_SIGN_AHEAD"},
		{"webhook allowed ranges", func(c *Config) { c.WebhookAllowCIDRs = "127.0.0.0/8, ::1/128,10.20.0.0/16" }, ""},
		{"webhook allowed range without length", func(c *Config) { c.WebhookAllowCIDRs = "10.0.0.1" }, "PASSPUSH_WEBHOOK_ALLOW_CIDRS"},
		{"max in flight", func(c *Config) { c.MaxInFlight = "1" }, ""},
		{"max in flight zero", func(c *Config) { c.MaxInFlight = "0" }, "PASSPUSH_MAX_IN_FLIGHT"},
		{"max in flight not a number", func(c *Config) { c.MaxInFlight = "lots" }, "PASSPUSH_MAX_IN_FLIGHT"},
		{"tenant delivery share", func(c *Config) { c.TenantDeliveryShare = "100" }, ""},
		{"tenant delivery share with a percent sign", func(c *Config) { c.TenantDeliveryShare = "30%" }, ""},
		{"tenant delivery share zero", func(c *Config) { c.TenantDeliveryShare = "0" }, "PASSPUSH_TENANT_DELIVERY_SHARE"},
		{"tenant delivery share past 100", func(c *Config) { c.TenantDeliveryShare = "101" }, "PASSPUSH_TENANT_DELIVERY_SHARE"},
		{"tenant delivery share a fraction", func(c *Config) { c.TenantDeliveryShare = "0.25" }, "PASSPUSH_TENANT_DELIVERY_SHARE"},
		{"message retention", func(c *Config) { c.MessageRetention = "24h" }, ""},
		{"message retention below a second", func(c *Config) { c.MessageRetention = "10ms" }, "PASSPUSH_MESSAGE_RETENTION"},
		{"message retention not a duration", func(c *Config) { c.MessageRetention = "1 day" }, "PASSPUSH_MESSAGE_RETENTION"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate() = %v, want an error naming %s", err, tt.wantErr)
			}
		})
	}
}

// Keys for the tests: base64 of 32 bytes.
const (
	testSecretKey  = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	otherSecretKey = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
)

func TestConfigValidate_neverEchoesSecrets(t *testing.T) {
	c := Config{DatabaseURL: "mysql://root:db-password@db/x", HTTPAddr: ":8080", LogLevel: "info", AdminToken: " admin-secret ", DBMaxConns: "20", DBMaxIdleTime: "5m"}
	err := c.Validate()
	if err == nil || strings.Contains(err.Error(), "db-password") || strings.Contains(err.Error(), "admin-secret") {
		t.Errorf("Validate() = %v: want an error that does not contain the secrets", err)
	}
	// A key that is almost right: 31 bytes.
	c = Config{HTTPAddr: ":8080", LogLevel: "info", DBMaxConns: "20", DBMaxIdleTime: "5m", SecretKey: testSecretKey[:40] + "MDEy", SecretKeyPrevious: otherSecretKey[:40]}
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), testSecretKey[:40]) || strings.Contains(err.Error(), otherSecretKey[:40]) {
		t.Errorf("Validate() = %v: want an error that does not contain the keys", err)
	}
}

func TestConfig_flagWinsOverEnvironmentWhichWinsOverDefault(t *testing.T) {
	env := map[string]string{"PASSPUSH_HTTP_ADDR": ":9000", "PASSPUSH_LOG_LEVEL": "debug", "PASSPUSH_PUBLIC_URL": "https://env.example.com"}
	var got Config
	// The open function sees the resolved configuration; failing stops the command before any database work.
	open := func(_ context.Context, c Config, _ *logrus.Entry) (*Backend, error) {
		got = c
		return nil, errors.New("stop here")
	}
	var out strings.Builder
	Run(t.Context(), []string{"migrate", "--log-level", "warn"}, IO{
		Stdout: &out, Stderr: &out,
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	}, open)
	want := Config{HTTPAddr: ":9000", LogLevel: "warn", PublicURL: "https://env.example.com", DBMaxConns: DefaultDBMaxConns, DBMaxIdleTime: DefaultDBMaxIdleTime,
		DeliveryLease: DefaultDeliveryLease, DeliveryMaxBackoff: DefaultDeliveryMaxBackoff, GoogleAPIURL: DefaultGoogleAPIURL, APNsURL: DefaultAPNsURL,
		FrameAncestors: DefaultFrameAncestors}
	want.MaxInFlight, want.TenantDeliveryShare = DefaultMaxInFlight, DefaultTenantDeliveryShare
	want.MessageRetention = DefaultMessageRetention
	if got != want {
		t.Errorf("resolved config = %+v, want %+v", got, want)
	}
}

func TestConfigWebhookPolicy(t *testing.T) {
	p, err := Config{AllowInsecureWebhooks: "true", WebhookAllowCIDRs: " 127.0.0.1/8 ,::1/128,"}.WebhookPolicy()
	if err != nil || !p.AllowInsecure || len(p.AllowCIDRs) != 2 || p.AllowCIDRs[0].String() != "127.0.0.0/8" || p.AllowCIDRs[1].String() != "::1/128" {
		t.Errorf("WebhookPolicy() = %+v, %v; want insecure allowed and 127.0.0.0/8, ::1/128", p, err)
	}
	if p, err := (Config{}).WebhookPolicy(); err != nil || p.AllowInsecure || p.AllowCIDRs != nil {
		t.Errorf("WebhookPolicy() of an empty config = %+v, %v; want https only and no range", p, err)
	}
}

func TestConfig_limitsDefaultAndParse(t *testing.T) {
	var c Config
	c.setDefaults()
	if maxInFlight, share := c.Limits(); maxInFlight != 1024 || share != 25 {
		t.Errorf("default limits %d in flight, %d%% share; want 1024 and 25%%", maxInFlight, share)
	}
	c.MaxInFlight, c.TenantDeliveryShare = "64", "40%"
	if maxInFlight, share := c.Limits(); maxInFlight != 64 || share != 40 {
		t.Errorf("limits %d in flight, %d%% share; want 64 and 40%%", maxInFlight, share)
	}
}
