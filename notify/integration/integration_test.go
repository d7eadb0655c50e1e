package integration_test

import (
	"cmp"
	"net/http"
	"testing"

	"github.com/auditgraph/auditgraph/notify"
	"github.com/auditgraph/auditgraph/notify/integration"
	"github.com/auditgraph/auditgraph/notify/slack"
	"github.com/auditgraph/auditgraph/notify/webhook"
)

const (
	slackURL      = "https://hooks.slack.com/services/T000/B000/SUPERSECRETTOKEN"
	signingSecret = "whsec_TOPSECRET"
)

func TestValidate(t *testing.T) {
	s := notify.NewSecret
	for _, tc := range []struct {
		cfg  integration.Config
		want string
	}{
		{integration.Config{Name: "ops", Kind: integration.Slack, URL: s(slackURL)}, ""},
		{integration.Config{Name: "siem", Kind: integration.Webhook, URL: s("http://10.0.0.5:8080/in"), SigningSecret: s(signingSecret)}, ""},
		{integration.Config{Kind: integration.Slack, URL: s(slackURL)}, `integration: name is empty (kind "slack")`},
		{integration.Config{Name: "ops", Kind: "teams", URL: s(slackURL)}, `integration "ops": unknown kind "teams"`},
		{integration.Config{Name: "ops", URL: s(slackURL)}, `integration "ops": unknown kind ""`},
		{integration.Config{Name: "ops", Kind: integration.Slack}, `integration "ops": URL is empty`},
		{integration.Config{Name: "ops", Kind: integration.Slack, URL: s("hooks.slack.com/services/T000/B000/SUPERSECRETTOKEN")},
			`integration "ops": URL scheme "" is not http or https`},
		{integration.Config{Name: "ops", Kind: integration.Slack, URL: s("https://hooks.slack.com/services/%zzSUPERSECRETTOKEN")},
			`integration "ops": URL does not parse`},
		{integration.Config{Name: "ops", Kind: integration.Slack, URL: s("https:///services/SUPERSECRETTOKEN")},
			`integration "ops": URL has no host`},
		{integration.Config{Name: "ops", Kind: integration.Slack, URL: s(slackURL), SigningSecret: s(signingSecret)},
			`integration "ops": slack takes no signing secret`},
		{integration.Config{Name: "siem", Kind: integration.Webhook, URL: s("https://siem.example/in")},
			`integration "siem": webhook needs a signing secret`},
	} {
		t.Run(cmp.Or(tc.want, "valid "+tc.cfg.Name), func(t *testing.T) {
			got := ""
			if err := tc.cfg.Validate(); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("%+v.Validate() = %q, want %q", tc.cfg, got, tc.want)
			}
		})
	}
}

func TestBuild(t *testing.T) {
	s := notify.NewSecret
	ops := integration.Config{Name: "ops", Kind: integration.Slack, URL: s(slackURL)}
	siem := integration.Config{Name: "siem", Kind: integration.Webhook, URL: s("https://siem.example/in"), SigningSecret: s(signingSecret)}

	ns, err := integration.Build([]integration.Config{ops, siem}, http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ns["ops"].(*slack.Notifier); !ok || len(ns) != 2 {
		t.Errorf("Build: ops is %T, want *slack.Notifier, in %d notifiers", ns["ops"], len(ns))
	}
	if _, ok := ns["siem"].(*webhook.Notifier); !ok {
		t.Errorf("Build: siem is %T, want *webhook.Notifier", ns["siem"])
	}

	for _, tc := range []struct {
		cfgs []integration.Config
		want string
	}{
		{[]integration.Config{ops, ops}, `integration "ops": duplicate name`},
		{[]integration.Config{ops, {Name: "x", Kind: "email", URL: s(slackURL)}}, `integration "x": unknown kind "email"`},
	} {
		t.Run(tc.want, func(t *testing.T) {
			ns, err := integration.Build(tc.cfgs, nil)
			if err == nil || err.Error() != tc.want || ns != nil {
				t.Errorf("Build(%+v) = %v, %v, want %q", tc.cfgs, ns, err, tc.want)
			}
		})
	}
	if ns, err := integration.Build(nil, nil); err != nil || len(ns) != 0 {
		t.Errorf("Build(nil) = %v, %v, want empty", ns, err)
	}
}
