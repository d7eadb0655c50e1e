package browsertest_test

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"
)

// point is one point of an activity series as GraphQL returns it.
type point struct {
	Date        string
	ActiveUsers int
}

// day returns the point's date as YYYY-MM-DD.
func (pt point) day() string { return pt.Date[:min(len(pt.Date), 10)] }

// series returns acme's usersActiveOverTime points for period, as admin.
func series(e *env, org, field, period string) []point {
	e.t.Helper()
	var data struct {
		Organization struct {
			Activity map[string]struct{ Points []point }
		}
	}
	e.gql("admin", fmt.Sprintf(`{ organization(name: %q) { activity { s: %s(period: %s) { points { date activeUsers } } } } }`, org, field, period), nil, &data)
	return data.Organization.Activity["s"].Points
}

// countOf returns a count panel (totalActiveUsers, activeUserCount) for
// period, as admin.
func countOf(e *env, org, field, period string) int {
	e.t.Helper()
	var data struct {
		Organization struct {
			Activity map[string]struct{ Count int }
		}
	}
	e.gql("admin", fmt.Sprintf(`{ organization(name: %q) { activity { c: %s(period: %s) { count } } } }`, org, field, period), nil, &data)
	return data.Organization.Activity["c"].Count
}

// users returns "N active users" as the charts' tooltips word it.
func users(n int) string {
	if n == 1 {
		return "1 active user"
	}
	return fmt.Sprintf("%d active users", n)
}

// chartTooltip returns the visible text of the chart's tooltip in section
// sel, "" when none shows.
func (p *page) chartTooltip(sel string) string {
	p.t.Helper()
	return eval[string](p, `(() => { const el = document.querySelector(`+js(sel+" .chart-tooltip")+`);
		if (!el || el.getBoundingClientRect().height === 0 || getComputedStyle(el).visibility === "hidden" ||
			getComputedStyle(el).display === "none") return "";
		return el.innerText.trim(); })()`)
}

// hoverPoint moves the mouse over point i of n of the uPlot chart in
// section sel (its x scale runs from the first point to the last) and
// returns the tooltip's text once it names want (or what it shows after
// the wait).
func (p *page) hoverPoint(sel string, i, n int, want string) string {
	p.t.Helper()
	r := eval[[4]float64](p, `(() => { const el = document.querySelector(`+js(sel+" .u-over")+`);
		if (!el) throw new Error("no .u-over in `+sel+`"); el.scrollIntoView({block: "center"});
		const r = el.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`)
	x := r[0] + r[2]*float64(i)/float64(max(n-1, 1))
	if i == n-1 {
		x -= 0.5 // stay inside the plot area
	}
	y := r[1] + r[3]/2
	p.mouseTo(x-3, y) // a move before the one that counts, so the chart sees a change
	p.mouseTo(x, y)
	got := ""
	for range 40 {
		if got = p.chartTooltip(sel); got == want {
			return got
		}
		eval[bool](p, `new Promise(r => setTimeout(() => r(true), 50))`)
	}
	return got
}

// waitPoints waits until the chart in section sel says it drew n points.
func (p *page) waitPoints(sel string, n int) {
	p.t.Helper()
	until[bool](p, fmt.Sprintf("%s drawn with %d points", sel, n), `(() => { const s = document.querySelector(`+js(sel)+`);
		return s && s.getAttribute("data-points") === `+js(strconv.Itoa(n))+` && s.getAttribute("aria-busy") !== "true" &&
			s.querySelector(".u-over") !== null; })()`)
}

// waitText waits until the text of sel is want.
func (p *page) waitText(sel, want string) {
	p.t.Helper()
	got := eval[string](p, `new Promise(resolve => { const end = Date.now() + 10000;
		const check = () => { const el = document.querySelector(`+js(sel)+`); const t = el ? el.innerText.trim() : "";
			if (t === `+js(want)+` || Date.now() > end) return resolve(t); setTimeout(check, 50); }; check(); })`)
	if got != want {
		p.t.Errorf("%s = %q, want %q", sel, got, want)
	}
}

// periodOptions checks the options of a period <select>, once it is there
// (the activity views are a chunk the page may still be loading).
func (p *page) periodOptions(sel string, want [][2]string) {
	p.t.Helper()
	p.waitFor(sel)
	got := eval[[][2]string](p, `[...document.querySelectorAll(`+js(sel+" option")+`)].map(o => [o.textContent.trim(), o.value])`)
	if !slices.Equal(got, want) {
		p.t.Errorf("%s options = %q, want %q", sel, got, want)
	}
}

// refetched fails the test unless a POST /graphql naming field was sent
// after mark m.
func (p *page) refetched(m int, field, what string) {
	p.t.Helper()
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, body := range p.graphqlSince(m) {
			if strings.Contains(body, field) {
				return
			}
		}
	}
	p.t.Errorf("%s: no POST /graphql asking for %s; the page must refetch on every period change", what, field)
}

// checkHover hovers points of the chart in section sel and compares the
// tooltip with the points GraphQL returned; prefix is "" or "Week of ".
func (p *page) checkHover(sel, prefix string, pts []point, what string) {
	p.t.Helper()
	n := len(pts)
	idx := []int{0, n - 1}
	for i, pt := range pts { // and the non-zero points, at most 6
		if pt.ActiveUsers > 0 && len(idx) < 8 && i != 0 && i != n-1 {
			idx = append(idx, i)
		}
	}
	for _, i := range idx {
		want := prefix + pts[i].day() + ": " + users(pts[i].ActiveUsers)
		if got := p.hoverPoint(sel, i, n, want); got != want {
			p.t.Errorf("%s: hovering point %d of %d shows %q, want %q (GraphQL)", what, i, n, got, want)
		}
	}
}

var periods = [][2]string{
	{"Last 30 days", "LAST_30_DAYS"}, {"Last 3 months", "LAST_3_MONTHS"}, {"Last 6 months", "LAST_6_MONTHS"},
	{"Last 12 months", "LAST_12_MONTHS"}, {"All time", "ALL_TIME"},
}

// TestActivityPlots: the Activity tab's two plots show, on hover, the
// numbers GraphQL returns for the seeded activity, with their default
// periods; changing a period refetches (also back to a period seen
// before) and shows the new numbers; the arrow keys move the readout.
func TestActivityPlots(t *testing.T) {
	t.Parallel()
	e := newAcme(t)
	p := e.newPage(t)
	p.signIn("alice", e.key("alice"), "/org/dashboard?org=acme")
	p.waitUsers()
	p.click("#tab-activity")
	p.waitFor("#panel-activity")
	if sel := eval[string](p, `document.querySelector("#tab-activity").getAttribute("aria-selected")`); sel != "true" {
		t.Errorf("#tab-activity aria-selected = %q after a click, want true", sel)
	}

	// Total active users, 3 months by default.
	p.periodOptions("#total-active-period", periods)
	p.waitFor("#total-active-count")
	if v := eval[string](p, `document.querySelector("#total-active-period").value`); v != "LAST_3_MONTHS" {
		t.Errorf("#total-active-period = %s at first, want LAST_3_MONTHS", v)
	}
	p.waitText("#total-active-count", strconv.Itoa(countOf(e, "acme", "totalActiveUsers", "LAST_3_MONTHS")))

	// Users active over time, 6 months by default, one point a day.
	p.periodOptions("#over-time-period", periods)
	if v := eval[string](p, `document.querySelector("#over-time-period").value`); v != "LAST_6_MONTHS" {
		t.Errorf("#over-time-period = %s at first, want LAST_6_MONTHS", v)
	}
	six := series(e, "acme", "usersActiveOverTime", "LAST_6_MONTHS")
	p.waitPoints("#users-over-time", len(six))
	p.axe("the Activity tab")
	p.screenshot("activity")
	p.checkHover("#users-over-time", "", six, "Users active over time, 6 months")
	p.screenshot("activity-tooltip")

	// The total's tooltip.
	p.hover("#total-active-count")
	until[string](p, "the total's tooltip", `(() => { const els = [...document.querySelectorAll("#total-active-users [role=tooltip]")];
		const el = els.find(el => el.getBoundingClientRect().height > 0); return el ? el.innerText.trim() : ""; })()`)

	// The keyboard moves the readout: focus the chart, then Left and Right.
	focused := eval[bool](p, `(() => { const s = document.querySelector("#users-over-time");
		const el = s.matches("[tabindex]") ? s : s.querySelector("[tabindex]"); if (!el) return false; el.focus(); return true; })()`)
	if !focused {
		t.Errorf("#users-over-time has no focusable element")
	} else {
		valid := map[string]bool{}
		for _, pt := range six {
			valid[pt.day()+": "+users(pt.ActiveUsers)] = true
		}
		var seen []string
		for _, k := range []string{kb.ArrowLeft, kb.ArrowLeft, kb.ArrowRight} {
			p.press(k)
			got := until[string](p, "the keyboard readout", `(() => { const el = document.querySelector("#users-over-time .chart-tooltip");
				return el && el.getBoundingClientRect().height > 0 ? el.innerText.trim() : ""; })()`)
			if !valid[got] {
				t.Errorf("keyboard readout %q is not one of GraphQL's points", got)
			}
			seen = append(seen, got)
		}
		if len(seen) == 3 && (seen[0] == seen[1] || seen[0] != seen[2]) {
			t.Errorf("readouts after Left, Left, Right = %q; want Left to move and Right to move back", seen)
		}
	}

	// A period change refetches and redraws.
	m := p.mark()
	p.choose("#over-time-period", "LAST_30_DAYS")
	thirty := series(e, "acme", "usersActiveOverTime", "LAST_30_DAYS")
	p.waitPoints("#users-over-time", len(thirty))
	p.refetched(m, "usersActiveOverTime", "6 months → 30 days")
	p.checkHover("#users-over-time", "", thirty, "Users active over time, 30 days")
	m = p.mark()
	p.choose("#over-time-period", "LAST_6_MONTHS")
	p.waitPoints("#users-over-time", len(six))
	p.refetched(m, "usersActiveOverTime", "30 days → 6 months again")

	m = p.mark()
	p.choose("#total-active-period", "LAST_30_DAYS")
	p.waitText("#total-active-count", strconv.Itoa(countOf(e, "acme", "totalActiveUsers", "LAST_30_DAYS")))
	p.refetched(m, "totalActiveUsers", "total: 3 months → 30 days")
	m = p.mark()
	p.choose("#total-active-period", "ALL_TIME")
	p.waitText("#total-active-count", strconv.Itoa(countOf(e, "acme", "totalActiveUsers", "ALL_TIME")))
	p.refetched(m, "totalActiveUsers", "total: 30 days → all time")
	if got := p.text("#total-active-count"); !regexp.MustCompile(`^\d+$`).MatchString(got) {
		t.Errorf("#total-active-count = %q, want digits only", got)
	}

	p.colorScheme("dark")
	p.open("/org/dashboard?org=acme&tab=activity")
	p.waitPoints("#users-over-time", len(six))
	p.axe("the Activity tab, dark")
	p.screenshot("activity-dark")
	p.colorScheme("light")

	p.viewport(phoneW, phoneH, true)
	p.open("/org/dashboard?org=acme&tab=activity")
	p.waitPoints("#users-over-time", len(six))
	p.axe("the Activity tab at 390×844")
	p.screenshot("activity-phone")
}
