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
	// patch patches the object with body, the object's JSON.
	patch func(ctx context.Context, id string, body []byte) error
	// addMessage adds a message to the object.
	addMessage func(ctx context.Context, id string, req *walletobjects.AddMessageRequest) error
}

// objectAPIOf returns the calls on the objects of objectType ("generic", "loyalty", "offer", "giftCard",
// "eventTicket", "flight", "transit"), or false for a type the API does not have.
func objectAPIOf(s *walletobjects.Service, objectType string) (objectAPI, bool) {
	switch objectType {
	case "generic":
		return objectAPI{patchOf(s.Genericobject.Patch), addMessageOf(s.Genericobject.Addmessage)}, true
	case "loyalty":
		return objectAPI{patchOf(s.Loyaltyobject.Patch), addMessageOf(s.Loyaltyobject.Addmessage)}, true
	case "offer":
		return objectAPI{patchOf(s.Offerobject.Patch), addMessageOf(s.Offerobject.Addmessage)}, true
	case "giftCard":
		return objectAPI{patchOf(s.Giftcardobject.Patch), addMessageOf(s.Giftcardobject.Addmessage)}, true
	case "eventTicket":
		return objectAPI{patchOf(s.Eventticketobject.Patch), addMessageOf(s.Eventticketobject.Addmessage)}, true
	case "flight":
		return objectAPI{patchOf(s.Flightobject.Patch), addMessageOf(s.Flightobject.Addmessage)}, true
	case "transit":
		return objectAPI{patchOf(s.Transitobject.Patch), addMessageOf(s.Transitobject.Addmessage)}, true
	}
	return objectAPI{}, false
}

// call is a generated call of Google's client: Context sets its context, Do makes it.
type call[R any, C any] interface {
	Context(ctx context.Context) C
	Do(opts ...googleapi.CallOption) (R, error)
}

// patchOf turns a generated Patch into a call that takes the object's JSON, read into the client's type of it.
func patchOf[T any, R any, C call[R, C]](patch func(id string, object *T) C) func(context.Context, string, []byte) error {
	return func(ctx context.Context, id string, body []byte) error {
		object := new(T)
		if err := json.Unmarshal(body, object); err != nil {
			return fmt.Errorf("the object does not fit the Wallet API's %T: %w", object, err)
		}
		_, err := patch(id, object).Context(ctx).Do()
		return err
	}
}

// addMessageOf turns a generated Addmessage into a call.
func addMessageOf[R any, C call[R, C]](add func(id string, req *walletobjects.AddMessageRequest) C) func(context.Context, string, *walletobjects.AddMessageRequest) error {
	return func(ctx context.Context, id string, req *walletobjects.AddMessageRequest) error {
		_, err := add(id, req).Context(ctx).Do()
		return err
	}
}
