package apple

import (
	"fmt"
	"net/http"

	"github.com/passpush/passpush/app/push"
	"github.com/sideshow/apns2"
)

// The reasons of a device that is gone: its registration is removed (DeviceUnregistered with the reason).
const (
	// ReasonGone: APNs answered 410, the token is no longer active for the topic.
	ReasonGone = "apns_410"
	// ReasonBadToken: APNs answered 400 BadDeviceToken or Unregistered, or the token cannot be one.
	ReasonBadToken = "apns_bad_token"
)

// outcome says what an APNs answer, or the failure to get one, means for the device:
//   - 200: delivered;
//   - 410: gone (ReasonGone);
//   - 400 BadDeviceToken or Unregistered: gone (ReasonBadToken);
//   - 429, 5xx, a timeout, a connection error: retry. A handshake in which APNs refuses the certificate is a
//     connection error too: over TLS 1.3 the HTTP/2 client cannot tell it from another;
//   - 403 (APNs refused the certificate, or it has expired): rejected, as every retry would be;
//   - any other 4xx: rejected.
func outcome(res *apns2.Response, err error, topic string) push.Outcome {
	if err != nil {
		return push.Outcome{Kind: push.Retry, Reason: fmt.Sprintf("APNs: %v", err)}
	}
	answered := fmt.Sprintf("APNs answered %d", res.StatusCode)
	if res.Reason != "" {
		answered += " " + res.Reason
	}
	switch {
	case res.StatusCode == http.StatusOK:
		return push.Outcome{Kind: push.Delivered}
	case res.StatusCode == http.StatusGone:
		return push.Outcome{Kind: push.Gone, Reason: ReasonGone}
	case res.StatusCode == http.StatusBadRequest &&
		(res.Reason == apns2.ReasonBadDeviceToken || res.Reason == apns2.ReasonUnregistered):
		return push.Outcome{Kind: push.Gone, Reason: ReasonBadToken}
	case res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500:
		return push.Outcome{Kind: push.Retry, Reason: answered}
	case res.StatusCode == http.StatusForbidden:
		return push.Outcome{Kind: push.Rejected, Reason: answered + ": APNs refused the Apple certificate of " + topic}
	default:
		return push.Outcome{Kind: push.Rejected, Reason: answered}
	}
}
