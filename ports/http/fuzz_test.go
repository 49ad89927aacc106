package httpport

// Fuzz targets for the parsing Journey Builder's calls go through: the body (raw JWT, wrapper or plain JSON), the
// token's verification, and the execute claims' inArguments. Whatever comes in, the answer is a typed 4xx error
// or a valid call, never a panic.
//
//	go test -run XXX -fuzz FuzzSFMCBody ./ports/http/
//	go test -run XXX -fuzz FuzzInArguments ./ports/http/
//	go test -run XXX -fuzz FuzzExecuteClaims ./ports/http/

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/passpush/passpush/ports/http/httperr"
)

var fuzzSecrets = []string{"fuzz-secret", "rotated-secret"}

// compactJWTPattern is the definition isCompactJWT implements by hand: three base64url segments.
var compactJWTPattern = regexp.MustCompile(`^[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$`)

// fuzzSign makes a compact HS256 JWT of exactly these claim bytes, as Journey Builder signs them.
func fuzzSign(header string, claims []byte, secret string) string {
	input := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString(claims)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

const hs256Header = `{"alg":"HS256","typ":"JWT"}`

// requireClientError fails unless err is the port's own error with a 4xx status and a code.
func requireClientError(t *testing.T, what string, err error) {
	t.Helper()
	var e *httperr.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: %T %v is not an *httperr.Error", what, err, err)
	}
	if e.Status < 400 || e.Status > 499 || e.Code == "" || e.Message == "" {
		t.Fatalf("%s: %+v is not a 4xx error with a code and a message", what, e)
	}
}

func isInvalidJWT(err error) bool {
	var e *httperr.Error
	return errors.As(err, &e) && e.Code == "invalid_jwt"
}

// checkExecute runs a token through verification and, if it verifies, through scheduleCall, and checks what comes
// out. It returns the verification error.
func checkExecute(t *testing.T, token string) error {
	t.Helper()
	claims, err := verifySFMCToken(token, fuzzSecrets, func() jwt.Claims { return &executeClaims{} })
	if err != nil {
		requireClientError(t, "verify", err)
		return err
	}
	c, ok := claims.(*executeClaims)
	if !ok {
		t.Fatalf("verify returned %T", claims)
	}
	call, err := scheduleCall("acme", c)
	if err != nil {
		requireClientError(t, "scheduleCall", err)
		return nil
	}
	if call.TenantID != "acme" {
		t.Fatalf("tenant %q", call.TenantID)
	}
	if err := call.Match.Validate(); err != nil {
		t.Fatalf("scheduleCall accepted a match without identifier: %+v", call.Match)
	}
	if err := call.Update.Validate(); err != nil {
		t.Fatalf("scheduleCall accepted an invalid update %+v: %v", call.Update, err)
	}
	if call.Update.DefinitionInstanceID != c.DefinitionInstanceID || call.Update.ActivityID != c.ActivityID {
		t.Fatalf("the update lost the contact entry: %+v from %+v", call.Update, c)
	}
	for k := range call.Update.Fields {
		if strings.TrimSpace(k) == "" {
			t.Fatalf("an empty field name got through: %q", call.Update.Fields)
		}
	}
	return nil
}

func checkLifecycle(t *testing.T, token string) {
	t.Helper()
	claims, err := verifySFMCToken(token, fuzzSecrets, func() jwt.Claims { return &lifecycleClaims{} })
	if err != nil {
		requireClientError(t, "verify lifecycle", err)
		return
	}
	if _, ok := claims.(*lifecycleClaims); !ok {
		t.Fatalf("verify returned %T", claims)
	}
}

func FuzzSFMCBody(f *testing.F) {
	valid := fuzzSign(hs256Header, []byte(`{"inArguments":[{"passId":"p-1"},{"points":"5"}],"activityId":"a","definitionInstanceId":"e"}`), fuzzSecrets[0])
	rotated := fuzzSign(hs256Header, []byte(`{"inArguments":[{"email":"Ann@Example.com"}],"activityId":"a","definitionInstanceId":"e"}`), fuzzSecrets[1])
	lifecycle := fuzzSign(hs256Header, []byte(`{"interactionId":"j","activityObjectID":"o","interactionVersion":3,"isPublished":"true"}`), fuzzSecrets[0])
	parts := strings.Split(valid, ".")
	for _, seed := range []string{
		valid, rotated, lifecycle,
		" \n" + valid + "\t\r\n",
		`{"jwt":"` + valid + `"}`,
		`{"token":"` + valid + `"}`,
		`{"jwt":" ` + valid + ` "}`,
		`{"jwt":"` + valid + `","token":"x"}`,
		`{"token":"` + valid + `","jwt":"` + rotated + `"}`,
		`{"interactionId":"j","activityObjectID":"o"}`,
		`{}`, `[]`, `null`, `"` + valid + `"`, `{"jwt":null}`, `{"jwt":42}`, `{"jwt":"a.b"}`, `{"jwt":{"x":1}}`,
		"", " ", ".", "..", "...", "a.b", "a.b.c", "a.b.c.d", "abc.def.ghi",
		parts[0] + "." + parts[1] + ".",
		parts[0] + "." + parts[1],
		fuzzSign(`{"alg":"none"}`, []byte(`{"inArguments":[{"passId":"p"}]}`), fuzzSecrets[0]),
		base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".",
		fuzzSign(`{"alg":"RS256"}`, []byte(`{}`), fuzzSecrets[0]),
		fuzzSign(`{"alg":"HS256","crit":["x"]}`, []byte(`{}`), fuzzSecrets[0]),
		fuzzSign(`{"alg":"HS256"}`, []byte(`{"exp":"soon","iat":[1],"nbf":{}}`), fuzzSecrets[0]),
		fuzzSign(`{"alg":"HS256"}`, []byte(`{"exp":1e309}`), fuzzSecrets[0]),
		fuzzSign(`{"alg":"HS256"}`, []byte(`{"exp":-9223372036854775808,"iat":9223372036854775807}`), fuzzSecrets[0]),
		fuzzSign(`{"alg":"HS256"}`, []byte(`{"aud":[1,2],"iss":{},"sub":5}`), fuzzSecrets[0]),
		fuzzSign(`{"alg":"HS256"}`, []byte(`[1,2,3]`), fuzzSecrets[0]),
		fuzzSign(`{"alg":"HS256"}`, []byte(`not json`), fuzzSecrets[0]),
		fuzzSign(`not json`, []byte(`{}`), fuzzSecrets[0]),
		"\x00\xff\xfe" + valid,
		strings.Repeat("[", 10000),
		strings.Repeat(`{"a":`, 5000),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if isCompactJWT(body) != compactJWTPattern.Match(body) {
			t.Fatalf("isCompactJWT(%q) = %v, the pattern says otherwise", body, isCompactJWT(body))
		}
		in, err := readSFMCBody(body)
		if err != nil {
			requireClientError(t, "readSFMCBody", err)
			return
		}
		switch {
		case in.token != "" && in.plain != nil:
			t.Fatalf("both a token and plain JSON: %+v", in)
		case in.token != "":
			if !compactJWTPattern.MatchString(in.token) {
				t.Fatalf("token %q is not a compact JWT", in.token)
			}
			checkExecute(t, in.token)
			checkLifecycle(t, in.token)
		default:
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(in.plain, &obj); err != nil || obj == nil {
				t.Fatalf("plain body %q is not a JSON object: %v", in.plain, err)
			}
			// The lifecycle route decodes it; that may fail (400), never panic.
			var c lifecycleClaims
			_ = json.Unmarshal(in.plain, &c)
		}
	})
}

// executeClaimsWith are execute claims around an inArguments value given as raw JSON.
func executeClaimsWith(inArguments []byte) []byte {
	var b bytes.Buffer
	b.WriteString(`{"inArguments":`)
	b.Write(inArguments)
	b.WriteString(`,"outArguments":[],"journeyId":"j","activityId":"a","definitionInstanceId":"e","activityInstanceId":"i","keyValue":"k","mode":0}`)
	return b.Bytes()
}

func FuzzInArguments(f *testing.F) {
	for _, seed := range []string{
		`[{"passId":"p-1"}]`,
		`[{"email":"Ann@Example.com"},{"passType":"loyalty"},{"message":"Hi %@"}]`,
		`[{"customId":"c-1"},{"points":"5"},{"additionalData":"{\"offer\":\"2 for 1\",\"n\":5,\"b\":true}"}]`,
		`[{"identifiers":{"passId":"p-1","customId":"c","email":"e@x"}},{"additionalData":{"a":"1","b":2}}]`,
		`[{"identifiers":null},{"email":"a@b"}]`,
		`[{"identifiers":"p-1"}]`,
		`[{"identifiers":[1]}]`,
		`[{"passId":12345},{"customId":1e400}]`,
		`[{"passId":{"nested":true}}]`,
		`[{"additionalData":42},{"passId":"p"}]`,
		`[{"additionalData":"42"},{"passId":"p"}]`,
		`[{"additionalData":"null"},{"passId":"p"}]`,
		`[{"additionalData":null},{"passId":"p"}]`,
		`[{"additionalData":""},{"passId":"p"}]`,
		`[{"additionalData":"   "},{"passId":"p"}]`,
		`[{"additionalData":"\"{}\""},{"passId":"p"}]`,
		`[{"additionalData":{"":"x"}},{"passId":"p"}]`,
		`[{"additionalData":{" ":"x"}},{"passId":"p"}]`,
		`[{"additionalData":{"a":{"b":"c"}}},{"passId":"p"}]`,
		`[{"additionalData":{"a":null}},{"passId":"p"}]`,
		`[{"":"x"},{"passId":"p"}]`,
		`[{"passId":"p","customId":"c","email":"e","extra":"x"}]`,
		`[{"message":` + fmt.Sprintf("%q", strings.Repeat("m", 1001)) + `},{"passId":"p"}]`,
		`[{"passId":"a\u0000b"},{"email":"x\u0000@y"},{"k\u0000":"v\u0000"}]`,
		`[{"passId":"\ud800"},{"email":"\uFFFD"}]`,
		`[null,{},[],{"passId":"p"}]`,
		`[[{"passId":"p"}]]`,
		`{"passId":"p"}`,
		`"[{\"passId\":\"p\"}]"`,
		`null`, `[]`, `42`, `[`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, inArguments []byte) {
		claims := executeClaimsWith(inArguments)
		token := fuzzSign(hs256Header, claims, fuzzSecrets[1])
		err := checkExecute(t, token)
		if err != nil && isInvalidJWT(err) {
			t.Fatalf("a correctly signed token without time claims got %v", err)
		}
		// The same token wrapped as JSON reads the same.
		in, err := readSFMCBody([]byte(`{"jwt":"` + token + `"}`))
		if err != nil || in.token != token {
			t.Fatalf("the wrapped token reads as %+v, %v", in, err)
		}
	})
}

func FuzzExecuteClaims(f *testing.F) {
	for _, seed := range []string{
		string(executeClaimsWith([]byte(`[{"passId":"p-1"},{"additionalData":{"a":"b"}}]`))),
		`{"inArguments":[{"email":"a@b"}],"activityId":"a","definitionInstanceId":"e","exp":99999999999}`,
		`{"inArguments":[{"email":"a@b"}],"activityId":"a","definitionInstanceId":"e","exp":1}`,
		`{"inArguments":[{"email":"a@b"}],"activityId":"a","definitionInstanceId":"e","iat":99999999999,"nbf":"1"}`,
		`{"inArguments":[{"email":"a@b"}],"activityId":"a","definitionInstanceId":"e","aud":"x","iss":"y","sub":"z","jti":"w"}`,
		`{"inArguments":[{"email":"a@b"}],"activityId":5,"definitionInstanceId":true}`,
		`{"inArguments":"x","activityId":"a","definitionInstanceId":"e"}`,
		`{"inArguments":[{"passId":"p"}],"activityId":"","definitionInstanceId":""}`,
		`{"inArguments":[{"passId":"p"}],"activityId":"a","definitionInstanceId":"e","outArguments":{"x":[1,{}]},"mode":"test"}`,
		`{"inArguments":[{"passId":"p"}],"activityId":"a","definitionInstanceId":"e","activityId":"b"}`,
		`{"exp":1e309}`, `{"exp":-1e309}`, `{"exp":null,"iat":null,"nbf":null}`,
		`{}`, `[]`, `null`, `"x"`, `1`, `{`, ``,
	} {
		f.Add([]byte(seed), uint8(0))
	}
	f.Fuzz(func(t *testing.T, claims []byte, wrap uint8) {
		token := fuzzSign(hs256Header, claims, fuzzSecrets[int(wrap)%2])
		var body string
		switch wrap % 4 {
		case 0:
			body = token
		case 1:
			body = "\n " + token + " \n"
		case 2:
			body = `{"jwt":"` + token + `"}`
		default:
			body = `{"token":"` + token + `"}`
		}
		in, err := readSFMCBody([]byte(body))
		if err != nil || in.token != token {
			t.Fatalf("a signed token in shape %d reads as %+v, %v", wrap%4, in, err)
		}
		err = checkExecute(t, token)
		checkLifecycle(t, token)
		// A correctly signed token is refused as invalid_jwt only for its time claims.
		if err != nil && isInvalidJWT(err) {
			var m map[string]json.RawMessage
			if json.Unmarshal(claims, &m) == nil && !hasTimeClaim(m) {
				t.Fatalf("a correctly signed token without time claims got %v", err)
			}
		}
	})
}

// hasTimeClaim reports whether claims has exp, iat or nbf; encoding/json matches keys case-insensitively.
func hasTimeClaim(claims map[string]json.RawMessage) bool {
	for k := range claims {
		for _, time := range []string{"exp", "iat", "nbf"} {
			if strings.EqualFold(k, time) {
				return true
			}
		}
	}
	return false
}
