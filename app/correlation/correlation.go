// Package correlation carries the id that ties together every log line, command and event of one request's work.
package correlation

import "context"

type key struct{}

// WithID returns a context carrying id.
func WithID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// ID returns the context's correlation id, or "".
func ID(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}
