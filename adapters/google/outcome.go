package google

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/passpush/passpush/app/push"
	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
)

// outcomeOf tells what a failed call to the Wallet API means for the push. 404: the object does not exist, as the
// customer never saved the pass. 429 and 5xx: retried. Any other answer, 401 and 403 among them: final. A token
// endpoint that refuses the service account (a 4xx other than 429) is final too. Anything else (a timeout, a
// connection refused) is retried.
func outcomeOf(call string, err error) push.Outcome {
	var apiErr *googleapi.Error
	if errors.As(err, &apiErr) {
		reason := fmt.Sprintf("google %s: %d %s", call, apiErr.Code, apiErr.Message)
		switch {
		case apiErr.Code == http.StatusNotFound:
			return push.Outcome{Kind: push.NotInstalled, Reason: reason}
		case apiErr.Code == http.StatusTooManyRequests || apiErr.Code >= 500:
			return push.Outcome{Kind: push.Retry, Reason: reason}
		default:
			return push.Outcome{Kind: push.Rejected, Reason: reason}
		}
	}
	var tokenErr *oauth2.RetrieveError
	if errors.As(err, &tokenErr) && tokenErr.Response != nil {
		// The error's own text quotes the endpoint's body: say only its code.
		code := tokenErr.Response.StatusCode
		reason := fmt.Sprintf("google token: %d %s %s", code, tokenErr.ErrorCode, tokenErr.ErrorDescription)
		if code >= 400 && code < 500 && code != http.StatusTooManyRequests {
			return push.Outcome{Kind: push.Rejected, Reason: reason}
		}
		return push.Outcome{Kind: push.Retry, Reason: reason}
	}
	return push.Outcome{Kind: push.Retry, Reason: fmt.Sprintf("google %s: %v", call, err)}
}

// statusOf returns the HTTP status of the API's answer, or 0 for an error that is not one.
func statusOf(err error) int {
	var apiErr *googleapi.Error
	if errors.As(err, &apiErr) {
		return apiErr.Code
	}
	return 0
}
