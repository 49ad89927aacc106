package delivery

import "github.com/passpush/passpush/app/push"

// WithDefaults returns c with its zero fields set to the defaults.
func WithDefaults(c Config) Config {
	c.setDefaults()
	return c
}

// Quotas is what a claim may take of each due tenant when the tenants hold held, with share percent each.
func Quotas(share int, held map[string]int, due []string, free, limit, most int) []push.TenantQuota {
	s := newTenantSlots(share)
	for t, n := range held {
		for range n {
			s.take(t)
		}
	}
	return s.quotas(due, free, limit, most)
}
