package browsertest_test

import (
	"strings"
	"testing"
)

// TestIntegrityPageWithoutSigningKey: on a server with no signing key (the
// harness's plain server; serve always has one) the Integrity page says
// plainly that no checkpoint is signed and what that means, shows the rest,
// and verifies the hash chain, instead of an error.
func TestIntegrityPageWithoutSigningKey(t *testing.T) {
	t.Parallel()
	e := newAcme(t)
	e.report("acme", 5)
	p := e.newPage(t)
	p.signIn("alice", e.key("alice"), "/org/dashboard?org=acme&tab=integrity")
	p.waitFor("#panel-integrity #integrity-verification")
	if got := p.waitVerified(); got != "intact" {
		t.Errorf("verification %s, want intact (the chain links; no checkpoint to check)", got)
	}
	p.waitFor("#integrity-no-key")
	if got := p.text("#integrity-no-key"); !strings.Contains(got, "No signing key is configured") || !strings.Contains(got, "signs no checkpoints") {
		t.Errorf("key section %q, want it to say there is no signing key and no checkpoint is signed", got)
	}
	if got := p.text("#integrity-key"); !strings.Contains(got, "no signature vouches for them") {
		t.Errorf("key section %q, want what having no key means", got)
	}
	if got := p.text("#integrity-status"); !strings.Contains(got, "no signed checkpoint vouches for them") {
		t.Errorf("verification %q, want it not to claim checkpoints were checked", got)
	}
	if got := p.text("#integrity-checkpoints"); !strings.Contains(got, "off: this server has no signing key") {
		t.Errorf("checkpoints section %q, want signing off for want of a key", got)
	}
	if p.exists("#integrity-command") || p.exists("#integrity-public-key") {
		t.Error("a verify command or public key shown without a signing key")
	}
	p.waitFor("#integrity-retention-setting")
	if got := p.text("#error"); got != "" {
		t.Errorf("error shown: %q", got)
	}
	p.axe("the Integrity tab without a signing key")
	p.colorScheme("dark")
	p.viewport(390, 844, true)
	p.waitFor("#integrity-no-key")
	if w := eval[int](p, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("on a phone the page is %dpx wide, want at most 390", w)
	}
	p.axe("the Integrity tab without a signing key, dark, on a phone")
}
