package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const token = "SUPERSECRETTOKEN"

func TestSecretPrintsRedacted(t *testing.T) {
	s := NewSecret("https://hooks.slack.com/services/T000/B000/" + token)
	holder := struct {
		Exported   Secret
		unexported Secret
	}{s, s}
	var out []string
	for _, v := range []any{s, &s, holder, &holder, []Secret{s}, map[string]Secret{"k": s}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
			out = append(out, fmt.Sprintf(verb, v))
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("secret", "s", s, "holder", holder, "ptr", &holder)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("secret", "s", s, "holder", holder, "ptr", &holder)
	out = append(out, logs.String())
	for _, o := range out {
		if strings.Contains(o, token) {
			t.Errorf("printed secret: %s", o)
		}
	}
	if got := fmt.Sprint(s); got != Redacted {
		t.Errorf("fmt.Sprint(secret) = %q, want %q", got, Redacted)
	}
	var decoded string
	if b, _ := json.Marshal(s); json.Unmarshal(b, &decoded) != nil || decoded != Redacted {
		t.Errorf("json.Marshal(secret) = %s, want %q", b, Redacted)
	}
	if got := s.Reveal(); !strings.HasSuffix(got, token) {
		t.Errorf("Reveal() = %q, want the value", got)
	}
	var unset Secret
	if !unset.IsZero() || unset.String() != "" || unset.Reveal() != "" || !NewSecret("").IsZero() {
		t.Errorf("unset secret: IsZero %v, String %q, Reveal %q", unset.IsZero(), unset.String(), unset.Reveal())
	}
}

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"slack", "https://hooks.slack.com/services/T000/B000/" + token, "https://hooks.slack.com"},
		{"userinfo and query", "http://user:pw@127.0.0.1:8080/hook?token=" + token, "http://127.0.0.1:8080"},
		{"no scheme", "hooks.slack.com/services/" + token, Redacted},
		{"unparsable", "ht tp://x/" + token, Redacted},
		{"empty", "", Redacted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RedactURL(tc.in); got != tc.want {
				t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestRedactURLError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = http.Post("http://"+addr+"/services/"+token, "text/plain", nil)
	if err == nil {
		t.Fatal("POST to a closed port succeeded")
	}
	wrapped := fmt.Errorf("failed to post webhook: %w", err)
	red := RedactURLError(wrapped)
	want := `Post "http://` + addr + `": `
	if !strings.HasPrefix(red.Error(), want) || strings.Contains(fmt.Sprintf("%v %+v %#v", red, red, red), token) {
		t.Errorf("RedactURLError(%v) = %v, want it to start %s and hide the path", wrapped, red, want)
	}
	if _, ok := errors.AsType[*net.OpError](red); !ok {
		t.Errorf("RedactURLError(%v) lost the *net.OpError", wrapped)
	}
	if ue, _ := errors.AsType[*url.Error](red); ue.URL != "http://"+addr {
		t.Errorf("RedactURLError(%v).URL = %q", wrapped, ue.URL)
	}
	plain := errors.New("other")
	if got := RedactURLError(plain); got != plain {
		t.Errorf("RedactURLError(%v) = %v, want it unchanged", plain, got)
	}
}

func TestValidateURL(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"slack", "https://hooks.slack.com/services/" + token, ""},
		{"http", "http://127.0.0.1:9/hook", ""},
		{"empty", "", "URL is empty"},
		{"unparsable", "ht tp://x/" + token, "URL does not parse"},
		{"no scheme", "hooks.slack.com/services/" + token, `URL scheme "" is not http or https`},
		{"ftp", "ftp://x/" + token, `URL scheme "ftp" is not http or https`},
		{"no host", "https:///services/" + token, "URL has no host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateURL(NewSecret(tc.in))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("ValidateURL(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
