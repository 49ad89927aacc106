// Package query holds the read side: each query with the read-model interface it needs.
package query

import "time"

// Pass is a pass as the passes read model shows it.
type Pass struct {
	PassID    string            `json:"passId"`
	PassType  string            `json:"passType"`
	Email     string            `json:"email"`
	CustomID  string            `json:"customId"`
	Data      map[string]string `json:"data"`
	Version   int               `json:"version"`
	UpdatedAt time.Time         `json:"updatedAt"`
	// Message is the message of the latest journey update, which a wallet shows on the lock screen. It is not
	// part of the passes API's answer.
	Message string `json:"-"`
}
