package push

// TenantQuota is how many due deliveries of one tenant a claim may take: the delivery stage's share of its slots
// for that tenant (ports/delivery/fair.go).
type TenantQuota struct {
	TenantID string
	Limit    int
}
