package google

import (
	"context"
	"encoding/json"
	"fmt"

	"google.golang.org/api/googleapi"
	"google.golang.org/api/walletobjects/v1"
)

// The message types of addMessage.
const (
	MessageText          = "TEXT"
	MessageTextAndNotify = "TEXT_AND_NOTIFY"
)

// objectAPI is the Wallet API's calls on one type of object, through Google's client.
type objectAPI struct {
	// patch patches the object with body, the object's JSON, and says whether the object Google returns has
	// users (someone saved it).
	patch func(ctx context.Context, id string, body []byte) (hasUsers bool, err error)
	// get reads whether the object has users.
	get func(ctx context.Context, id string) (hasUsers bool, err error)
	// addMessage adds a message to the object.
	addMessage func(ctx context.Context, id string, req *walletobjects.AddMessageRequest) error
}

// objectAPIOf returns the calls on the objects of objectType ("generic", "loyalty", "offer", "giftCard",
// "eventTicket", "flight", "transit"), or false for a type the API does not have.
func objectAPIOf(s *walletobjects.Service, objectType string) (objectAPI, bool) {
	switch objectType {
	case "generic":
		return objectAPI{patchOf(s.Genericobject.Patch), getOf(s.Genericobject.Get), addMessageOf(s.Genericobject.Addmessage)}, true
	case "loyalty":
		return objectAPI{patchOf(s.Loyaltyobject.Patch), getOf(s.Loyaltyobject.Get), addMessageOf(s.Loyaltyobject.Addmessage)}, true
	case "offer":
		return objectAPI{patchOf(s.Offerobject.Patch), getOf(s.Offerobject.Get), addMessageOf(s.Offerobject.Addmessage)}, true
	case "giftCard":
		return objectAPI{patchOf(s.Giftcardobject.Patch), getOf(s.Giftcardobject.Get), addMessageOf(s.Giftcardobject.Addmessage)}, true
	case "eventTicket":
		return objectAPI{patchOf(s.Eventticketobject.Patch), getOf(s.Eventticketobject.Get), addMessageOf(s.Eventticketobject.Addmessage)}, true
	case "flight":
		return objectAPI{patchOf(s.Flightobject.Patch), getOf(s.Flightobject.Get), addMessageOf(s.Flightobject.Addmessage)}, true
	case "transit":
		return objectAPI{patchOf(s.Transitobject.Patch), getOf(s.Transitobject.Get), addMessageOf(s.Transitobject.Addmessage)}, true
	}
	return objectAPI{}, false
}

// call is a generated call of Google's client: Context sets its context, Do makes it.
type call[R any, C any] interface {
	Context(ctx context.Context) C
	Do(opts ...googleapi.CallOption) (R, error)
}

// patchOf turns a generated Patch into a call that takes the object's JSON, read into the client's type of it.
func patchOf[T any, R any, C call[R, C]](patch func(id string, object *T) C) func(context.Context, string, []byte) (bool, error) {
	return func(ctx context.Context, id string, body []byte) (bool, error) {
		object := new(T)
		if err := json.Unmarshal(body, object); err != nil {
			return false, fmt.Errorf("the object does not fit the Wallet API's %T: %w", object, err)
		}
		answer, err := patch(id, object).Context(ctx).Do()
		if err != nil {
			return false, err
		}
		return hasUsersOf(answer), nil
	}
}

// getOf turns a generated Get into a call that says whether the object has users.
func getOf[R any, C call[R, C]](get func(id string) C) func(context.Context, string) (bool, error) {
	return func(ctx context.Context, id string) (bool, error) {
		answer, err := get(id).Context(ctx).Do()
		if err != nil {
			return false, err
		}
		return hasUsersOf(answer), nil
	}
}

// hasUsersOf reads hasUsers from an object the API returned, of any of its types: each has the field, and the
// JSON round trip saves a switch over seven generated types. Only the channel's calls, at most the tenant's rate
// limit, pay for it.
func hasUsersOf(object any) bool {
	body, err := json.Marshal(object)
	if err != nil {
		return false
	}
	var fields struct {
		HasUsers bool `json:"hasUsers"`
	}
	return json.Unmarshal(body, &fields) == nil && fields.HasUsers
}

// addMessageOf turns a generated Addmessage into a call.
func addMessageOf[R any, C call[R, C]](add func(id string, req *walletobjects.AddMessageRequest) C) func(context.Context, string, *walletobjects.AddMessageRequest) error {
	return func(ctx context.Context, id string, req *walletobjects.AddMessageRequest) error {
		_, err := add(id, req).Context(ctx).Do()
		return err
	}
}
