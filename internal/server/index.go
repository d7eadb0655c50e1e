package server

import "html/template"

// indexPage is what GET / shows: the routes, and a link to the playground.
var indexPage = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>auditgraph</title></head>
<body>
<h1>auditgraph {{.Version}}</h1>
<p><a href="/signin">Sign in</a> to the organization dashboard with your username and an API key.</p>
<p>Deployment: {{.Mode}}. Every API takes HTTP Basic <code>username:API-KEY</code> or <code>Authorization: Bearer API-KEY</code>.</p>
<ul>
<li><a href="/graphiql">/graphiql</a>: the GraphQL playground</li>
<li><code>POST /graphql</code>: the GraphQL API (WebSocket subscriptions on the same path)</li>
<li><code>POST /api/v1/audit_events</code>: report audit events (NDJSON)</li>
<li><code>GET /admin/audit_logs</code>: fetch audit events (NDJSON, or paginated JSON)</li>
<li><code>GET /admin/users.csv</code>: export the organization's users</li>
<li><code>GET /healthz</code>, <code>GET /readyz</code>: health</li>
</ul>
</body></html>
`))
