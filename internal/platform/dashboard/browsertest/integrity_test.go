package browsertest_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/log/retention"
	"github.com/auditgraph/auditgraph/internal/log/verify"
)

// TestIntegrityPage: an admin opens the Integrity tab of a short log: it is
// verified at once and intact, with the newest checkpoint, the signing key,
// the exact auditgraph verify command (copied as the CLI takes it), the
// bucket sync and the retention. After the test tampers with an event as the
// database superuser, verifying again, and reloading, name its sequence
// number as the first bad one.
func TestIntegrityPage(t *testing.T) {
	e := newAcme(t)
	e.serveIntegrity(verify.Setup{CheckpointInterval: 10 * time.Minute,
		Bucket:    &verify.BucketSetup{Interval: 10 * time.Minute, Started: time.Now()},
		Retention: retention.Period{Years: 6}, HIPAA: true})
	e.key("alice") // creating a key appends an event: before the log is checkpointed
	e.report("acme", 40)
	last := e.checkpoint("acme")
	e.exec(`INSERT INTO bucket_sync_orgs (org_id, synced_seq) SELECT id, 10 FROM organizations WHERE name = 'acme'`)
	pub, pubB64 := integrityPublic()
	wantCmd := verify.Command("acme", pub)

	p := e.newPage(t)
	p.signIn("alice", e.key("alice"), "/org/dashboard?org=acme&tab=integrity")
	p.waitFor("#panel-integrity #integrity-verification")
	if got := p.waitVerified(); got != "intact" {
		t.Fatalf("verification %s, want intact; page: %s", got, p.bodyText())
	}
	if s := p.text("#integrity-status"); !strings.HasPrefix(s, "Intact.") {
		t.Errorf("status %q, want Intact.", s)
	}
	p.waitFor("#integrity-checkpoints")
	// Signing in appended an event after the checkpoint.
	now := e.lastSeq("acme")
	if got := p.text("#integrity-last-seq"); got != strconv.Itoa(now) {
		t.Errorf("last sequence number %q, want %d", got, now)
	}
	if got := p.text("#integrity-checkpoint"); !strings.Contains(got, fmt.Sprintf("up to sequence number %d (from 1)", last)) || !strings.Contains(got, " UTC by key ") {
		t.Errorf("newest checkpoint %q, want up to %d, its time and key", got, last)
	}
	if got, want := p.text("#integrity-not-checkpointed"), fmt.Sprintf("%d event", now-last); !strings.HasPrefix(got, want) {
		t.Errorf("not yet checkpointed %q, want %s", got, want)
	}
	if got := p.text("#integrity-public-key"); got != pubB64 {
		t.Errorf("public key %q, want %q", got, pubB64)
	}
	if got := p.text("#integrity-command"); got != wantCmd {
		t.Errorf("verify command shown %q, want %q", got, wantCmd)
	}
	if got := p.text("#integrity-bucket-lag"); !strings.HasPrefix(got, fmt.Sprintf("%d events, the oldest for", now-10)) {
		t.Errorf("bucket lag %q, want %d events waiting", got, now-10)
	}
	if got := p.text("#integrity-bucket-last-success"); got != "none yet" {
		t.Errorf("bucket last success %q, want none yet", got)
	}
	if got := p.text("#integrity-retention-setting"); got != "for 6y (HIPAA: at least 6 years)" {
		t.Errorf("retention %q", got)
	}

	// The copy buttons copy exactly what the CLI takes.
	p.captureClipboard()
	p.click("#integrity-copy-command")
	if got := until[string](p, "the copied command", `window.__copied`); got != wantCmd {
		t.Errorf("copied %q, want %q", got, wantCmd)
	}
	until[bool](p, "the copy notice", `document.querySelector("#notice").textContent === "Copied the verify command."`)
	p.click("#integrity-copy-key")
	if got := until[string](p, "the copied key", `window.__copied !== `+js(wantCmd)+` && window.__copied`); got != pubB64 {
		t.Errorf("copied key %q, want %q", got, pubB64)
	}
	p.axe("the Integrity tab, intact")
	p.screenshot("integrity")
	p.colorScheme("dark")
	p.axe("the Integrity tab, intact, dark")
	p.colorScheme("light")

	// Tampered with: verifying again names the first bad sequence number.
	bad := last - 5
	e.tamper("acme", bad)
	p.click("#integrity-verify")
	until[bool](p, "the verification to run again and fail", `document.querySelector("#integrity-status.broken") !== null`)
	if got := p.text("#integrity-first-bad"); got != strconv.Itoa(bad) {
		t.Errorf("first bad sequence number %q, want %d", got, bad)
	}
	finding := p.text(`#integrity-findings li[data-kind="INVALID"]`)
	if !strings.HasPrefix(finding, fmt.Sprintf("Invalid sequence number %d:", bad)) || !strings.Contains(finding, "does not match its hash") {
		t.Errorf("finding %q, want INVALID at %d in words", finding, bad)
	}
	p.axe("the Integrity tab, not intact")
	p.screenshot("integrity-not-intact")

	// And so does a reload.
	p.open("/org/dashboard?org=acme&tab=integrity")
	if got := p.waitVerified(); got != "broken" {
		t.Fatalf("after a reload: %s, want not intact", got)
	}
	if got := p.text("#integrity-first-bad"); got != strconv.Itoa(bad) {
		t.Errorf("after a reload: first bad sequence number %q, want %d", got, bad)
	}
	if p.text("#error") != "" {
		t.Errorf("error shown: %q", p.text("#error"))
	}

	// At phone width nothing scrolls sideways.
	p.viewport(phoneW, phoneH, true)
	p.waitFor("#integrity-command")
	if w := eval[[]int](p, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
		t.Errorf("at phone width the page is %dpx wide in a %dpx window", w[0], w[1])
	}
	// The page's own parts fit the phone's width (the layout viewport may
	// widen to whatever overflows, so the window's width alone proves little).
	if wide := eval[[]string](p, `[...document.querySelectorAll(".integrity, .integrity *")]
		.filter(el => el.getBoundingClientRect().right > `+strconv.Itoa(phoneW)+` + 0.5)
		.map(el => el.tagName + (el.id ? "#" + el.id : "") + " " + Math.round(el.getBoundingClientRect().right))`); len(wide) > 0 {
		t.Errorf("at %dpx, parts of the page reach past the right edge: %v", phoneW, wide)
	}
	// Nor does the shell: its five tabs scroll within their row, and the
	// document stays the phone's width.
	if w := eval[[]int](p, `[document.documentElement.scrollWidth, Math.round(document.querySelector("[role=tablist]").getBoundingClientRect().right)]`); w[0] > phoneW || w[1] > phoneW {
		t.Errorf("at %dpx the document is %dpx wide; the tab list ends at %dpx", phoneW, w[0], w[1])
	}
	p.axe("the Integrity tab on a phone")
	p.screenshot("integrity-phone")
}

// TestIntegrityPageMember: a member who is not an admin sees a plain note,
// and the page asks the API nothing it would refuse.
func TestIntegrityPageMember(t *testing.T) {
	e := newAcme(t)
	e.serveIntegrity(verify.Setup{CheckpointInterval: 10 * time.Minute})
	p := e.newPage(t)
	m := p.mark()
	p.signIn("bob", e.key("bob"), "/org/dashboard?org=acme&tab=integrity")
	p.waitFor("#integrity-admins-only")
	if got := p.text("#integrity-admins-only"); !strings.Contains(got, "shown to its admins") {
		t.Errorf("note %q", got)
	}
	time.Sleep(300 * time.Millisecond) // a request the page wrongly made would be on its way
	for _, body := range p.graphqlSince(m) {
		if strings.Contains(body, "auditLogIntegrity") || strings.Contains(body, "verifyAuditLog") {
			t.Errorf("a member's page asked %s", body)
		}
	}
	if got := p.text("#error"); got != "" {
		t.Errorf("error shown to a member: %q", got)
	}
	p.axe("the Integrity tab, as a member")
}

// TestIntegrityPageMultiTenant: /account-settings/<org>/integrity, where
// there is no bucket sync.
func TestIntegrityPageMultiTenant(t *testing.T) {
	e := newTenant(t)
	e.serveIntegrity(verify.Setup{CheckpointInterval: 10 * time.Minute})
	e.key("alice")
	e.report("acme", 12)
	last := e.checkpoint("acme")
	e.report("acme", 3)
	p := e.newPage(t)
	p.signIn("alice", e.key("alice"), "/account-settings/acme/integrity")
	p.waitPath("/account-settings/acme/integrity")
	p.waitFor("#panel-integrity #integrity-verification")
	if got := p.waitVerified(); got != "intact" {
		t.Fatalf("verification %s, want intact", got)
	}
	if p.text("#nav-integrity") != "Integrity" || !eval[bool](p, `document.querySelector("#nav-integrity").getAttribute("aria-current") === "page"`) {
		t.Error("the Integrity link is not the current page")
	}
	p.waitFor("#integrity-checkpoints")
	// 3 events reported, and the sign-in's.
	if got, want := p.text("#integrity-not-checkpointed"), fmt.Sprintf("%d events", e.lastSeq("acme")-last); !strings.HasPrefix(got, want) {
		t.Errorf("not yet checkpointed %q, want %s", got, want)
	}
	if got := p.text("#integrity-checkpoint"); !strings.Contains(got, fmt.Sprintf("up to sequence number %d", last)) {
		t.Errorf("newest checkpoint %q, want up to %d", got, last)
	}
	if p.exists("#integrity-bucket") {
		t.Error("a bucket sync section without a bucket")
	}
	if got := p.text("#integrity-retention-setting"); got != "forever" {
		t.Errorf("retention %q, want forever", got)
	}
	p.axe("the multi-tenant Integrity page")
}

// TestIntegrityPageLongLogOnDemand: a log longer than the page verifies on
// opening (50,000 events) is verified when the admin presses Verify now,
// with the section busy meanwhile; opening the page asks only for the cheap
// facts.
func TestIntegrityPageLongLogOnDemand(t *testing.T) {
	e := newAcme(t)
	e.serveIntegrity(verify.Setup{CheckpointInterval: 10 * time.Minute})
	e.key("alice")
	for range 11 {
		e.report("acme", 5000)
		e.checkpoint("acme")
	}
	p := e.newPage(t)
	m := p.mark()
	p.signIn("alice", e.key("alice"), "/org/dashboard?org=acme&tab=integrity")
	p.waitFor("#integrity-checkpoints")
	status := p.text("#integrity-status")
	if !strings.HasPrefix(status, "Not verified in this visit. Verification reads all 55,0") || !strings.Contains(status, "press Verify now") {
		t.Errorf("status %q, want not verified, with the number of events", status)
	}
	time.Sleep(300 * time.Millisecond)
	for _, body := range p.graphqlSince(m) {
		if strings.Contains(body, "verifyAuditLog") {
			t.Errorf("a long log was verified on opening: %s", body)
		}
	}
	if got := p.text("#integrity-verify"); got != "Verify now" {
		t.Errorf("button %q, want Verify now", got)
	}
	eval[bool](p, `(() => { window.__sawBusy = false;
		const s = document.querySelector("#integrity-verification");
		new MutationObserver(() => { if (s.getAttribute("aria-busy") === "true" && document.querySelector("#integrity-status progress") &&
			document.querySelector("#integrity-verify").disabled) window.__sawBusy = true; }).observe(s, {attributes: true, subtree: true, childList: true});
		return true; })()`)
	p.click("#integrity-verify")
	if got := p.waitVerified(); got != "intact" {
		t.Fatalf("verification %s, want intact", got)
	}
	if !eval[bool](p, `window.__sawBusy`) {
		t.Error("the section was not busy (progress, disabled button) while verifying")
	}
	if got := p.text("#integrity-verify"); got != "Verify again" {
		t.Errorf("button %q after a verification, want Verify again", got)
	}
	p.axe("the Integrity tab of a long log, verified")

	// Another tab and back: the result is still there, not asked again.
	m = p.mark()
	p.click("#tab-users")
	p.waitUsers()
	p.click("#tab-integrity")
	if got := p.waitVerified(); got != "intact" {
		t.Fatalf("back on the tab: %s, want the intact result kept", got)
	}
	p.waitFor("#integrity-checkpoints")
	for _, body := range p.graphqlSince(m) {
		if strings.Contains(body, "verifyAuditLog") {
			t.Errorf("a long log was verified again on coming back to the tab: %s", body)
		}
	}
}
