// Package browsertest drives the dashboard pages in a real Chromium with
// chromedp, against a real server on a real PostgreSQL: sign-in and
// sessions, the Users tab, the Activity tab and the multi-tenant members
// page, as the reference's procedures use them. Every page is checked with
// axe-core (testdata/axe.min.js, injected by the tests) and every request a
// page makes must go to the server's own origin.
//
// The tests find Chromium on PATH (chromium, chromium-browser,
// google-chrome); without it they skip, or fail under CI=true. With
// SCREENSHOTS=1 they write docs/screenshots/*.png (make screenshots).
//
// The package holds tests only.
package browsertest
