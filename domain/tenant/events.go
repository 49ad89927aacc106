package tenant

import (
	"fmt"
	"slices"
)

// Actor is who made a change to a tenant, as its audit events record it: how they proved who they are, and
// where from. It never holds a credential: an API key is named by its name.
type Actor struct {
	// Name is "admin token", "cli", or "api key <name>".
	Name string `json:"name"`
	// Address is the client address of an HTTP call.
	Address string `json:"address,omitempty"`
	// Via is the route or the command the change came through, e.g. "PUT /api/admin/tenants/{tenantId}".
	Via string `json:"via,omitempty"`
}

// The actors that are not an API key.
const (
	ActorAdminToken = "admin token"
	ActorCLI        = "cli"
	// actorUnnamed is recorded when a caller named no actor: a test, or code that calls a command directly.
	actorUnnamed = "unnamed"
)

// APIKeyActor is the actor of a request made with the tenant's API key of that name.
func APIKeyActor(keyName string) string { return "api key " + keyName }

// OrUnnamed returns a, with a name if it had none, so an event always says who.
func (a Actor) OrUnnamed() Actor {
	if a.Name == "" {
		a.Name = actorUnnamed
	}
	return a
}

// Event is an event of a tenant's own stream, tenant-{id}: a change of its settings or of its API keys. Its
// payload names what changed, never a secret's value.
type Event interface {
	Name() string
	// By is who made the change.
	By() Actor
}

// Created records a new tenant and the settings it was created with.
type Created struct {
	Actor   Actor    `json:"actor"`
	Changes []string `json:"changes"`
}

// Changed records a change of a tenant's settings.
type Changed struct {
	Actor   Actor    `json:"actor"`
	Changes []string `json:"changes"`
}

// APIKeyCreated records a new API key, by its name: no part of the key itself.
type APIKeyCreated struct {
	Actor Actor  `json:"actor"`
	Key   string `json:"key"`
}

// APIKeyRevoked records the revocation of an API key.
type APIKeyRevoked struct {
	Actor Actor  `json:"actor"`
	Key   string `json:"key"`
}

func (Created) Name() string       { return "TenantCreated" }
func (Changed) Name() string       { return "TenantChanged" }
func (APIKeyCreated) Name() string { return "TenantAPIKeyCreated" }
func (APIKeyRevoked) Name() string { return "TenantAPIKeyRevoked" }

func (e Created) By() Actor       { return e.Actor }
func (e Changed) By() Actor       { return e.Actor }
func (e APIKeyCreated) By() Actor { return e.Actor }
func (e APIKeyRevoked) By() Actor { return e.Actor }

// SaveEvent is the event that records saving after over before: Created when the tenant is new, Changed when
// something changed, and nil when nothing did.
func SaveEvent(before, after Tenant, created bool, actor Actor) Event {
	actor = actor.OrUnnamed()
	if created {
		return Created{Actor: actor, Changes: Describe(Tenant{Activity: DefaultActivity}, after)}
	}
	changes := Describe(before, after)
	if len(changes) == 0 {
		return nil
	}
	return Changed{Actor: actor, Changes: changes}
}

// Describe names what differs from before to after, in words an auditor reads: field names and counts, never a
// secret's value.
func Describe(before, after Tenant) []string {
	var out []string
	note := func(changed bool, what string) {
		if changed {
			out = append(out, what)
		}
	}
	note(before.Name != after.Name, "name")
	if added, removed := diffSets(before.SFMCSigningSecrets, after.SFMCSigningSecrets); added+removed > 0 {
		out = append(out, fmt.Sprintf("sfmcSigningSecrets changed (%d added, %d removed)", added, removed))
	}
	note(before.Webhook.URL != after.Webhook.URL, "webhook url "+setVerb(before.Webhook.URL, after.Webhook.URL))
	if added, removed := diffSets(before.Webhook.Secrets, after.Webhook.Secrets); added+removed > 0 {
		out = append(out, fmt.Sprintf("webhook secrets changed (%d added, %d removed)", added, removed))
	}
	if before.Disabled != after.Disabled {
		out = append(out, map[bool]string{true: "disabled", false: "enabled"}[after.Disabled])
	}
	note(before.Activity.Key != after.Activity.Key, "activity key")
	note(before.Activity.SplitKey != after.Activity.SplitKey, "split activity key")
	note(before.Activity.TimeoutMS != after.Activity.TimeoutMS, "activity timeout")
	note(before.Activity.RetryCount != after.Activity.RetryCount, "activity retryCount")
	note(before.Activity.RetryDelayMS != after.Activity.RetryDelayMS, "activity retryDelay")
	note(before.Activity.ConcurrentRequests != after.Activity.ConcurrentRequests, "activity concurrentRequests")
	return out
}

func setVerb(before, after string) string {
	switch {
	case before == "":
		return "added"
	case after == "":
		return "removed"
	default:
		return "changed"
	}
}

// diffSets counts the values of after that before lacks, and the other way round.
func diffSets(before, after []string) (added, removed int) {
	for _, s := range after {
		if !slices.Contains(before, s) {
			added++
		}
	}
	for _, s := range before {
		if !slices.Contains(after, s) {
			removed++
		}
	}
	return added, removed
}
