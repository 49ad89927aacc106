package httpport

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/domain/activity"
	"github.com/passpush/passpush/domain/pass"
	"github.com/passpush/passpush/ports/http/httperr"
	"github.com/sirupsen/logrus"
)

// SFMCBasePath is the base of the Journey Builder activity's routes, under /api/{tenantId}.
const SFMCBasePath = "/webhooks/listeners/sfmc/actions/pushupdate"

// maxSFMCBody bounds an execute or lifecycle call.
const maxSFMCBody = 256 << 10

type scheduledResponse struct {
	Status string `json:"status"`
	Passes int    `json:"passes"`
}

// execute is called by Journey Builder once per contact. It answers 200 only once the pass updates are stored
// on the command bus; 503 tells Journey Builder to retry, and a retry schedules nothing twice.
func (s server) execute(w http.ResponseWriter, r *http.Request) {
	t := tenantFrom(r)
	claims, ok := s.executeClaims(w, r)
	if !ok {
		return
	}
	call, err := scheduleCall(t.ID, claims)
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	n, err := s.app.Commands.ScheduleFromJourney.Handle(r.Context(), call)
	if errors.Is(err, command.ErrNoMatchingPasses) {
		s.respondError(w, r, &httperr.Error{Status: http.StatusNotFound, Code: "no_matching_passes", Message: "no pass of this tenant matches the contact's identifiers"})
		return
	}
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, scheduledResponse{Status: "scheduled", Passes: n})
}

// executeClaims reads and verifies the JWT of an execute call, either activity's. On false it has answered: 400
// for a body without a JWT, 401 (or 429) for one that does not verify.
func (s server) executeClaims(w http.ResponseWriter, r *http.Request) (*executeClaims, bool) {
	t := tenantFrom(r)
	in, err := readSFMCRequest(r)
	if err != nil {
		s.respondError(w, r, err)
		return nil, false
	}
	if in.token == "" {
		s.respondError(w, r, httperr.BadRequest("execute takes a JWT signed with the installed package's signing secret"))
		return nil, false
	}
	claims, ok := s.verifyJourneyBuilder(w, r, t.ID, in.token, t.SFMCSigningSecrets, func() jwt.Claims { return &executeClaims{} })
	if !ok {
		return nil, false
	}
	return claims.(*executeClaims), true
}

// executeClaims are the claims of an execute call's JWT.
type executeClaims struct {
	jwt.RegisteredClaims
	InArguments          []map[string]json.RawMessage `json:"inArguments"`
	OutArguments         json.RawMessage              `json:"outArguments"`
	ActivityObjectID     string                       `json:"activityObjectID"`
	JourneyID            string                       `json:"journeyId"`
	ActivityID           string                       `json:"activityId"`
	DefinitionInstanceID string                       `json:"definitionInstanceId"`
	ActivityInstanceID   string                       `json:"activityInstanceId"`
	KeyValue             string                       `json:"keyValue"`
	Mode                 json.RawMessage              `json:"mode"`
}

// keys of inArguments that are not field updates.
var reservedArguments = map[string]bool{
	"passId": true, "customId": true, "email": true, "identifiers": true,
	"passType": true, "additionalData": true, "message": true,
}

// scheduleCall turns the claims of an execute call into the command that schedules it. It reads the JSON only;
// whether the identifiers and the update are acceptable is the domain's to say (ScheduleFromJourney.Validate),
// and either way the answer is a 400.
//
// inArguments is an array of single-key objects, merged in order. The identifiers may also come nested as
// {"identifiers":{…}}; a top-level one wins. additionalData is an object or a JSON string holding one; any other
// key with a string value is a field update too, and additionalData wins a conflict.
func scheduleCall(tenantID string, c *executeClaims) (command.ScheduleFromJourney, error) {
	args := mergeArguments(c)
	match, err := passMatchOf(args)
	if err != nil {
		return command.ScheduleFromJourney{}, err
	}
	fields := map[string]string{}
	for k, v := range args {
		var s string
		if !reservedArguments[k] && json.Unmarshal(v, &s) == nil {
			fields[k] = s
		}
	}
	if raw, ok := args["additionalData"]; ok {
		additional, err := parseAdditionalData(raw)
		if err != nil {
			return command.ScheduleFromJourney{}, err
		}
		for k, v := range additional {
			fields[k] = v
		}
	}

	call := command.ScheduleFromJourney{
		TenantID: tenantID,
		Match:    match,
		Update: pass.UpdateFromJourney{
			JourneyID: c.JourneyID, ActivityID: c.ActivityID, ActivityInstanceID: c.ActivityInstanceID,
			DefinitionInstanceID: c.DefinitionInstanceID, ContactKey: c.KeyValue, Fields: fields,
			Message: stringArgument(args["message"]),
		},
	}
	if err := call.Validate(); err != nil {
		return command.ScheduleFromJourney{}, badIdentifiers(err)
	}
	return call, nil
}

// mergeArguments merges inArguments, an array of single-key objects, in order.
func mergeArguments(c *executeClaims) map[string]json.RawMessage {
	args := map[string]json.RawMessage{}
	for _, obj := range c.InArguments {
		for k, v := range obj {
			args[k] = v
		}
	}
	return args
}

// passMatchOf reads the identifiers of an execute call's merged inArguments, for both activities: passId,
// customId and email, at the top level or nested as {"identifiers":{…}} (a top-level one wins), and passType.
func passMatchOf(args map[string]json.RawMessage) (command.PassMatch, error) {
	var nested struct{ PassID, CustomID, Email json.RawMessage }
	if raw, ok := args["identifiers"]; ok {
		if err := json.Unmarshal(raw, &nested); err != nil {
			return command.PassMatch{}, httperr.BadRequest("identifiers must be an object")
		}
	}
	return command.PassMatch{
		PassID:   firstNonEmpty(stringArgument(args["passId"]), stringArgument(nested.PassID)),
		CustomID: firstNonEmpty(stringArgument(args["customId"]), stringArgument(nested.CustomID)),
		Email:    firstNonEmpty(stringArgument(args["email"]), stringArgument(nested.Email)),
		PassType: stringArgument(args["passType"]),
	}, nil
}

// badIdentifiers is the 400 of a call the domain refused.
func badIdentifiers(err error) error {
	if errors.Is(err, pass.ErrIdentifiers) {
		return httperr.BadRequest("inArguments need one of passId, customId or email")
	}
	return httperr.BadRequest(err.Error())
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// stringArgument returns a JSON string's value, the text of a number, or "" for anything else.
//
// An argument that is absent, or a plain string, is answered without encoding/json: the split's execute asks
// for four arguments of which one or two are given, and each absent one cost two failed decodes. A plain string
// is one without escapes and in valid UTF-8, whose value encoding/json gives as its bytes between the quotes;
// anything else takes the decoder, so the rules stay encoding/json's (FuzzStringArgument compares the two).
func stringArgument(v json.RawMessage) string {
	if len(v) == 0 {
		return ""
	}
	if s, ok := plainJSONString(v); ok {
		return s
	}
	return decodedStringArgument(v)
}

// decodedStringArgument is stringArgument's answer by encoding/json alone, which its fast paths must keep.
func decodedStringArgument(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(v, &n) == nil {
		return n.String()
	}
	return ""
}

// plainJSONString returns the value of v when v is a JSON string without escapes or control characters, in
// valid UTF-8; ok is false for anything else, including any v that is not a whole JSON string.
func plainJSONString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	inner := v[1 : len(v)-1]
	for _, c := range inner {
		if c == '"' || c == '\\' || c < 0x20 {
			return "", false
		}
	}
	if !utf8.Valid(inner) {
		return "", false
	}
	return string(inner), true
}

// parseAdditionalData accepts an object of field values, or a JSON string holding one, because data binding in
// Journey Builder can only produce strings.
func parseAdditionalData(v json.RawMessage) (map[string]string, error) {
	raw := bytes.TrimSpace(v)
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if len(bytes.TrimSpace([]byte(s))) == 0 {
			return nil, nil
		}
		raw = []byte(s)
	}
	var data fieldValues
	if err := json.Unmarshal(raw, &data); err != nil {
		return nil, httperr.BadRequest(fmt.Sprintf("additionalData must be an object of field values, or a JSON string holding one: %v", err))
	}
	return data, nil
}

// lifecycleClaims is a signed lifecycle call's claims. Journey Builder sends some ids as numbers.
type lifecycleClaims struct {
	jwt.RegisteredClaims
	ActivityObjectID     flexString `json:"activityObjectID"`
	InteractionID        flexString `json:"interactionId"`
	OriginalDefinitionID flexString `json:"originalDefinitionId"`
	InteractionKey       flexString `json:"interactionKey"`
	InteractionVersion   flexString `json:"interactionVersion"`
	IsPublished          *flexBool  `json:"isPublished"`
}

// lifecycle records save, validate, publish, stop and unpublish.
func (s server) lifecycle(stage activity.Stage) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.recordLifecycle(w, r, stage) }
}

// recordLifecycle records a lifecycle call whose JWT verifies, once per stage of an activity in a journey
// version. Journey Builder sometimes sends these calls as plain JSON even with useJwt, and a non-200 would block
// the journey's activation, so an unsigned call gets 200 too; but it stores nothing, since anyone (a hostile
// page through a browser, with a text/plain POST) can send one. It is logged with a hash of its body, which
// lets an operator match it to Journey Builder's without the log holding what a stranger wrote.
func (s server) recordLifecycle(w http.ResponseWriter, r *http.Request, stage activity.Stage) {
	t := tenantFrom(r)
	in, err := readSFMCRequest(r)
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	log := requestLog(r, s.log).WithFields(logrus.Fields{"tenant": t.ID, "stage": string(stage)})
	if in.token == "" {
		sum := sha256.Sum256(in.plain)
		log.WithField("body_sha256", hex.EncodeToString(sum[:])).Info("unsigned lifecycle call: answered 200, nothing recorded")
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return
	}
	verified, ok := s.verifyJourneyBuilder(w, r, t.ID, in.token, t.SFMCSigningSecrets, func() jwt.Claims { return &lifecycleClaims{} })
	if !ok {
		return
	}
	claims := verified.(*lifecycleClaims)
	call := activity.Lifecycle{
		Stage:            stage,
		ActivityObjectID: string(claims.ActivityObjectID), InteractionID: string(claims.InteractionID),
		OriginalDefinitionID: string(claims.OriginalDefinitionID), InteractionKey: string(claims.InteractionKey),
		InteractionVersion: string(claims.InteractionVersion),
	}
	if claims.IsPublished != nil {
		published := bool(*claims.IsPublished)
		call.IsPublished = &published
	}
	outcome, err := s.app.Commands.RecordActivityLifecycle.Handle(r.Context(), command.RecordActivityLifecycle{TenantID: t.ID, Call: call})
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	if outcome == command.LifecycleUnidentified {
		log.Info("signed lifecycle call without activityObjectID or interactionId: answered 200, nothing recorded")
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// isCompactJWT reports whether b is three base64url segments, which tells a token from JSON or garbage before any
// parsing. A loop, not a regular expression: it runs on every execute call.
func isCompactJWT[T string | []byte](b T) bool {
	dots := 0
	for i := range len(b) {
		switch c := b[i]; {
		case c == '.':
			dots++
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return dots == 2
}

func invalidJWT(message string) *httperr.Error {
	return &httperr.Error{Status: http.StatusUnauthorized, Code: "invalid_jwt", Message: message}
}

// sfmcBody is what Journey Builder sent: a compact JWT (raw, or wrapped as {"jwt"} or {"token"}), or, on the
// lifecycle routes, plain JSON.
type sfmcBody struct {
	token string
	plain json.RawMessage
}

// readSFMCRequest reads the body of a Journey Builder call. A body over the limit keeps its
// *http.MaxBytesError (413); any other read failure is a bad request.
func readSFMCRequest(r *http.Request) (sfmcBody, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		if isTooLarge(err) {
			return sfmcBody{}, err
		}
		return sfmcBody{}, httperr.BadRequest("could not read the request body")
	}
	return readSFMCBody(body)
}

// readSFMCBody tells the three shapes apart. Anything else is not a request we understand: 400.
func readSFMCBody(body []byte) (sfmcBody, error) {
	trimmed := bytes.TrimSpace(body)
	if isCompactJWT(trimmed) {
		return sfmcBody{token: string(trimmed)}, nil
	}
	var wrapper map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &wrapper); err != nil || wrapper == nil {
		return sfmcBody{}, httperr.BadRequest("the body is neither a JWT nor a JSON object")
	}
	for _, key := range []string{"jwt", "token"} {
		raw, ok := wrapper[key]
		if !ok {
			continue
		}
		var token string
		if err := json.Unmarshal(raw, &token); err != nil {
			return sfmcBody{}, httperr.BadRequest(fmt.Sprintf("%q must be a string holding the JWT", key))
		}
		token = string(bytes.TrimSpace([]byte(token)))
		if !isCompactJWT(token) {
			return sfmcBody{}, httperr.BadRequest(fmt.Sprintf("%q does not hold a compact JWT", key))
		}
		return sfmcBody{token: token}, nil
	}
	return sfmcBody{plain: trimmed}, nil
}

// MaxSFMCToken is the largest JWT passpush parses: 32 KiB. Journey Builder's tokens are a few KiB; a larger one
// is refused before any decoding, with 413 jwt_too_large, so that a flood of large tokens costs nothing but
// reading them.
const MaxSFMCToken = 32 << 10

// MaxSigningSecretsTried is how many of a tenant's signing secrets a token is checked against: the tenant rules
// allow no more than this, and a tenant that somehow has more gets only its first ones tried, so that a token's
// cost is bounded.
const MaxSigningSecretsTried = 3

// sfmcTokenParser decodes a token without checking it; sfmcClaimsValidator checks the registered claims. SFMC
// sends no exp or iat, so neither is required; one that is present is honoured.
var (
	sfmcTokenParser     = jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuedAt(), jwt.WithJSONNumber())
	sfmcClaimsValidator = jwt.NewValidator(jwt.WithIssuedAt())
)

// jwtFailure is why a token did not verify: the port's answer, and a short reason for the security log that
// holds nothing of the token.
type jwtFailure struct {
	answer *httperr.Error
	reason string
}

func (f *jwtFailure) Error() string { return f.answer.Message }
func (f *jwtFailure) Unwrap() error { return f.answer }

// verifySFMCToken decodes the token once, checks its HS256 signature against the tenant's signing secrets (more
// than one during a rotation; at most MaxSigningSecretsTried), then its registered claims, and returns the
// claims. The algorithm is pinned: none, RS*, ES* and the rest are refused. A token too large or malformed is
// a 413 or a 400, one that does not verify a 401 invalid_jwt; either way the error is a *jwtFailure.
//
// jwt.Parser.ParseWithClaims would decode the header and the claims again for every secret; here the signing
// string's HMAC is all that is computed per secret.
func verifySFMCToken(token string, secrets []string, claims func() jwt.Claims) (jwt.Claims, error) {
	if len(token) > MaxSFMCToken {
		return nil, &jwtFailure{reason: "too_large", answer: &httperr.Error{Status: http.StatusRequestEntityTooLarge, Code: "jwt_too_large",
			Message: fmt.Sprintf("the JWT is larger than %d bytes", MaxSFMCToken)}}
	}
	c := claims()
	parsed, parts, err := sfmcTokenParser.ParseUnverified(token, c)
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, &jwtFailure{reason: "malformed", answer: httperr.BadRequest("malformed JWT: " + err.Error())}
	case err != nil:
		return nil, &jwtFailure{reason: "unverifiable", answer: invalidJWT("the JWT does not verify: " + err.Error())}
	case parsed.Method != jwt.SigningMethodHS256:
		return nil, &jwtFailure{reason: "algorithm", answer: invalidJWT(fmt.Sprintf("the JWT does not verify: signing method %v is invalid", parsed.Method.Alg()))}
	case len(secrets) == 0:
		return nil, &jwtFailure{reason: "no_secret", answer: invalidJWT("the tenant has no signing secret")}
	}
	signingString := parts[0] + "." + parts[1]
	verified := false
	for _, secret := range secrets[:min(len(secrets), MaxSigningSecretsTried)] {
		if jwt.SigningMethodHS256.Verify(signingString, parsed.Signature, []byte(secret)) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, &jwtFailure{reason: "bad_signature", answer: invalidJWT("the JWT does not verify: " + jwt.ErrTokenSignatureInvalid.Error())}
	}
	if err := sfmcClaimsValidator.Validate(c); err != nil {
		reason := "invalid_claims"
		if errors.Is(err, jwt.ErrTokenExpired) {
			reason = "expired"
		}
		return nil, &jwtFailure{reason: reason, answer: invalidJWT("the JWT does not verify: " + jwt.ErrTokenInvalidClaims.Error() + ": " + err.Error())}
	}
	return c, nil
}

// verifyJourneyBuilder verifies a Journey Builder call's token for the tenant and returns its claims, or answers
// the failure and returns false. A failure counts towards the tenant's limit (JWTFailureLimit): past it, the
// answer is 429 with Retry-After instead. A token that verifies is never refused by the limit, since it is
// checked first. Failures are logged at info, at most one line per tenant per second, with the number of
// failures since the last line; the line holds the reason, never the token.
func (s server) verifyJourneyBuilder(w http.ResponseWriter, r *http.Request, tenantID, token string, secrets []string, claims func() jwt.Claims) (jwt.Claims, bool) {
	c, err := verifySFMCToken(token, secrets, claims)
	if err == nil {
		return c, true
	}
	reason := "unverifiable"
	var f *jwtFailure
	if errors.As(err, &f) {
		reason = f.reason
	}
	verdict := s.jwtFailures.fail(tenantID)
	if verdict.logCount > 0 {
		s.securityLog(r).WithFields(logrus.Fields{
			"reason": reason, "failures": verdict.logCount, "limited": verdict.retryAfter > 0,
		}).Info("JWT verification failed")
	}
	if verdict.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(verdict.retryAfter.Seconds()))))
		s.respondError(w, r, &httperr.Error{Status: http.StatusTooManyRequests, Code: "too_many_jwt_failures",
			Message: fmt.Sprintf("more than %d JWTs failed to verify for this tenant in %s; retry later", JWTFailureLimit, JWTFailureWindow)})
		return nil, false
	}
	s.respondError(w, r, err)
	return nil, false
}
