package main

import (
	"net"
	"runtime/debug"
	"strings"
	"testing"
)

// Every flag is checked when it is loaded, before anything starts; the
// database URL is unreachable so that a value wrongly accepted fails later
// with another status.
func TestFlagValidation(t *testing.T) {
	unsetEnv(t, "AUDITGRAPH_ADMIN_API_KEY")
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string // the whole of stderr, after "auditgraph <command>: "
	}{
		{"public URL not a URL", []string{"serve", "--public-url", "notaurl"}, nil,
			`--public-url "notaurl": want an absolute http:// or https:// URL with no credentials, query or fragment, such as https://audit.example.com`},
		{"public URL with credentials", []string{"serve", "--public-url", "https://u:p@audit.example.com"}, nil,
			`--public-url "https://u:p@audit.example.com": want an absolute http:// or https:// URL with no credentials, query or fragment, such as https://audit.example.com`},
		{"public URL without scheme", []string{"serve", "--public-url", "audit.example.com:8080"}, nil,
			`--public-url "audit.example.com:8080": want an absolute http:// or https:// URL with no credentials, query or fragment, such as https://audit.example.com`},
		{"Slack API URL", []string{"serve", "--slack-api-url", "ftp://slack.example.com/api/"}, nil,
			`--slack-api-url "ftp://slack.example.com/api/": want an absolute http:// or https:// URL with no credentials, query or fragment, such as https://audit.example.com`},
		{"Slack authorize URL", []string{"serve", "--slack-authorize-url", "/oauth"}, nil,
			`--slack-authorize-url "/oauth": want an absolute http:// or https:// URL with no credentials, query or fragment, such as https://audit.example.com`},
		{"negative checkpoint interval", []string{"serve", "--checkpoint-interval", "-5m"}, nil,
			`--checkpoint-interval -5m0s: a duration must not be negative`},
		{"negative checkpoint interval from the environment", []string{"serve"}, map[string]string{"AUDITGRAPH_CHECKPOINT_INTERVAL": "-5m"},
			`--checkpoint-interval -5m0s: a duration must not be negative`},
		{"negative sync interval", []string{"serve", "--sync-interval", "-1s"}, nil,
			`--sync-interval -1s: a duration must not be negative`},
		{"zero sync interval", []string{"serve", "--sync-interval", "0"}, nil,
			`--sync-interval: must be positive`},
		{"negative shutdown timeout", []string{"serve", "--shutdown-timeout", "-30s"}, nil,
			`--shutdown-timeout -30s: a duration must not be negative`},
		{"zero shutdown timeout", []string{"serve", "--shutdown-timeout", "0s"}, nil,
			`--shutdown-timeout 0s: want a positive duration such as 30s`},
		{"negative session idle timeout", []string{"serve", "--session-idle-timeout", "-1h"}, nil,
			`--session-idle-timeout -1h0m0s: a duration must not be negative`},
		{"zero session idle timeout", []string{"serve", "--session-idle-timeout", "0"}, nil,
			`--session-idle-timeout 0s: want a positive duration such as 12h`},
		{"zero session lifetime from the environment", []string{"serve"}, map[string]string{"AUDITGRAPH_SESSION_LIFETIME": "0s"},
			`--session-lifetime 0s: want a positive duration such as 168h`},
		{"listen address without port", []string{"serve", "--listen", "nonsense"}, nil,
			`--listen "nonsense": want host:port, such as 127.0.0.1:8080 or :8080`},
		{"metrics address without port", []string{"serve", "--metrics-listen", "localhost"}, nil,
			`--metrics-listen "localhost": want host:port, such as 127.0.0.1:8080 or :8080`},
		{"admin key too weak", []string{"serve"}, map[string]string{"AUDITGRAPH_ADMIN_API_KEY": "hunter2"},
			"AUDITGRAPH_ADMIN_API_KEY: want at least 32 hexadecimal characters (128 bits), such as the 40 that `openssl rand -hex 20` prints; got 7 characters, not all hexadecimal"},
		{"admin key 124 bits", []string{"serve"}, map[string]string{"AUDITGRAPH_ADMIN_API_KEY": strings.Repeat("a", 31)},
			"AUDITGRAPH_ADMIN_API_KEY: want at least 32 hexadecimal characters (128 bits), such as the 40 that `openssl rand -hex 20` prints; got 31 (124 bits)"},
		{"admin username", []string{"serve", "--admin-username", "-root"}, nil,
			`invalid input: admin username "-root": use 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit`},
		{"organization name", []string{"serve", "--org-name", "a;b"}, nil,
			`invalid input: organization name "a;b": use 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit`},
		{"GraphQL body limit zero", []string{"serve", "--graphql-max-body", "0"}, nil,
			`--graphql-max-body 0: want a number of bytes, 1 or more`},
		{"GraphQL body limit from the environment", []string{"serve"}, map[string]string{"AUDITGRAPH_GRAPHQL_MAX_BODY": "-1"},
			`--graphql-max-body -1: want a number of bytes, 1 or more`},
		{"verify negative gap", []string{"verify", "--gap-after", "-1m"}, nil,
			`--gap-after -1m0s: a duration must not be negative`},
		{"logs pull negative settle", []string{"logs", "pull", "--settle", "-1m", "--url", "http://127.0.0.1:1"}, nil,
			`--settle -1m0s: a duration must not be negative`},
		{"create-admin-key bad deployment", []string{"keys", "create-admin-key", "--deployment", "cloud"}, nil,
			`--deployment: unknown deployment "cloud": want self-managed, dedicated or multi-tenant`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			args := tc.args
			if args[0] != "logs" {
				args = append(args, "--database-url", unreachableDB)
			}
			code, _, stderr := runCmd(t, args...)
			want := "auditgraph " + tc.args[0] + ": " + tc.want + "\n"
			if code != 2 || stderr != want {
				t.Errorf("run(%q) = %d, stderr %q; want 2, %q", args, code, stderr, want)
			}
			if strings.Contains(stderr, "hunter2") {
				t.Errorf("stderr %q shows the key", stderr)
			}
		})
	}
}

func TestVersionFlags(t *testing.T) {
	for _, arg := range []string{"version", "--version", "-version"} {
		t.Run(arg, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, arg)
			if code != 0 || stdout != "auditgraph "+buildVersion()+"\n" || stderr != "" {
				t.Errorf("run(%s) = %d, %q, %q; want 0, %q, nothing", arg, code, stdout, stderr, "auditgraph "+buildVersion()+"\n")
			}
		})
	}
}

func TestVersionOf(t *testing.T) {
	rev := "4ec9aff0123456789abcdef0123456789abcdef0"
	for _, tc := range []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"tagged", debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3"},
		{"pseudo-version", debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261203071806-4ec9aff01234+dirty"}}, "v0.0.0-20261203071806-4ec9aff01234+dirty"},
		{"revision only", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "false"}}}, "devel-4ec9aff01234"},
		{"modified revision", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "true"}}}, "devel-4ec9aff01234+dirty"},
		{"nothing", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := versionOf(&tc.bi); got != tc.want {
				t.Errorf("versionOf(%+v) = %q, want %q", tc.bi, got, tc.want)
			}
		})
	}
}

func TestDefaultPublicURL(t *testing.T) {
	for _, tc := range []struct {
		listen string
		bound  net.Addr
		want   string
	}{
		{"127.0.0.1:8080", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, "http://127.0.0.1:8080"},
		{"localhost:8080", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, "http://localhost:8080"},
		{"127.0.0.1:0", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 41234}, "http://127.0.0.1:41234"},
		{":8080", &net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, "http://localhost:8080"},
		{"0.0.0.0:8080", &net.TCPAddr{IP: net.IPv4zero, Port: 8080}, "http://localhost:8080"},
		{"[::]:9000", &net.TCPAddr{IP: net.IPv6unspecified, Port: 9000}, "http://localhost:9000"},
		{"[::1]:9000", &net.TCPAddr{IP: net.IPv6loopback, Port: 9000}, "http://[::1]:9000"},
	} {
		t.Run(tc.listen, func(t *testing.T) {
			if got := defaultPublicURL(tc.listen, tc.bound); got != tc.want {
				t.Errorf("defaultPublicURL(%q, %v) = %q, want %q", tc.listen, tc.bound, got, tc.want)
			}
		})
	}
}
