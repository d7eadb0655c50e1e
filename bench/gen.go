package main

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/auditgraph/auditgraph/audit"
)

// The text fields of a generated event, in the documented key order (the
// order of audit.Keys without response_code and timestamp).
const (
	fAction = iota
	fActorEmail
	fActorIP
	fActorUserID
	fArtifactAsset
	fArtifactDigest
	fArtifactQualifiedName
	fArtifactSequenceAsset
	fCLIVersion
	fEntityAsset
	fEntityName
	fProjectAsset
	fProjectName
	fReportAsset
	fReportName
	fUserAsset
	fUserEmail
	nText
)

// textKeys names the text fields; they are also the audit_events columns.
var textKeys = [nText]audit.Key{
	audit.KeyAction, audit.KeyActorEmail, audit.KeyActorIP, audit.KeyActorUserID, audit.KeyArtifactAsset,
	audit.KeyArtifactDigest, audit.KeyArtifactQualifiedName, audit.KeyArtifactSequenceAsset, audit.KeyCLIVersion,
	audit.KeyEntityAsset, audit.KeyEntityName, audit.KeyProjectAsset, audit.KeyProjectName, audit.KeyReportAsset,
	audit.KeyReportName, audit.KeyUserAsset, audit.KeyUserEmail,
}

// event is one generated platform event; an empty text field has no value.
type event struct {
	id   string // the client's idempotency key
	ts   time.Time
	code int
	text [nText]string
}

// member is a generated user of the organization.
type member struct {
	id       int64 // users.id, known once inserted
	username string
	name     string
	email    string
	role     string // admin, member or viewer
	added    time.Time
	ips      [2]string // office/VPN address and home address
	entity   int       // the team the user mostly works in
	projects [4]int    // the projects the user mostly works on
}

var firstNames = []string{"ada", "alan", "amara", "ana", "arjun", "ben", "carla", "chen", "dario", "elena",
	"emeka", "fatima", "felix", "grace", "hana", "hugo", "ines", "ivan", "jamal", "jia", "jonas", "julia",
	"kai", "kenji", "lara", "leo", "lina", "luca", "maya", "mei", "mohamed", "nadia", "nico", "noah", "olga",
	"omar", "paula", "pedro", "priya", "rafael", "rosa", "sami", "sara", "sofia", "tariq", "theo", "uma",
	"valentina", "wei", "yara", "yusuf", "zoe"}

var lastNames = []string{"adeyemi", "alvarez", "andersen", "bauer", "bianchi", "chen", "costa", "dubois",
	"eriksson", "fischer", "garcia", "gupta", "haddad", "ito", "jansen", "kim", "kowalski", "kumar", "larsen",
	"lee", "lopez", "martin", "meyer", "moreau", "mueller", "nakamura", "nguyen", "novak", "okafor", "oliveira",
	"park", "patel", "petrov", "rossi", "sato", "schmidt", "silva", "singh", "smith", "sousa", "tanaka",
	"wang", "weber", "williams", "wong", "yamamoto", "zhang"}

var entityNames = []string{"research", "vision", "nlp", "speech", "recsys", "ml-platform", "robotics",
	"llm-pretrain", "llm-finetune", "eval", "safety", "ads-ranking", "search", "fraud", "forecasting",
	"genai-apps", "multimodal", "rl", "data-science", "autonomy", "perception", "biology", "chem-ml",
	"ocr", "translation", "growth-ml", "pricing", "anomaly", "embeddings", "retrieval"}

var projectStems = []string{"baseline", "resnet50-imagenet", "bert-finetune", "llama-7b-sft", "vit-b16",
	"whisper-small", "ppo-locomotion", "two-tower", "xgboost-churn", "diffusion-v2", "rag-eval",
	"tokenizer-ablation", "lr-sweep", "distillation", "moe-pretrain", "reward-model", "clip-retrieval",
	"gnn-molecules", "tft-demand", "yolo-v8", "t5-summarize", "dpo", "quantization", "long-context"}

var artifactStems = []string{"dataset-train", "dataset-val", "model", "checkpoint", "eval-results",
	"tokenizer", "predictions", "embeddings", "config", "run-table"}

var reportNames = []string{"Weekly eval summary", "Sweep results: lr vs batch size", "Q3 \"north star\" metrics",
	"Ablation study", "Release candidate comparison", "Évaluation mensuelle", "Data drift review",
	"Onboarding: how we log runs", "Incident postmortem 2024-11", "Leaderboard", "GPU utilisation by team"}

var cliVersions = []string{"0.15.12", "0.16.0", "0.16.6", "0.17.0", "0.17.5", "0.18.1", "0.18.7", "0.19.2"}
var cliWeights = []float64{2, 3, 6, 8, 12, 18, 25, 26}

// actionMix is the share of each action in a busy ML organization's log.
// automated actions happen around the clock (training jobs, pipelines);
// the others follow office hours and weekdays.
var actionMix = []struct {
	action    audit.Action
	weight    float64
	automated bool
}{
	{audit.RunUpdate, 440, true},
	{audit.ArtifactRead, 140, true},
	{audit.ArtifactCreate, 80, true},
	{audit.ProjectRead, 120, false},
	{audit.UserLogin, 60, false},
	{audit.ReportRead, 40, false},
	{audit.SweepCreateAgent, 25, true},
	{audit.RunStop, 20, false},
	{audit.UserInitiateLogin, 12, false},
	{audit.UserLogout, 10, false},
	{audit.RunUpdateMany, 8, false},
	{audit.RunDelete, 6, false},
	{audit.UserRead, 5, false},
	{audit.ArtifactDelete, 4, false},
	{audit.RunDeleteMany, 2, false},
	{audit.UserCreateAPIKey, 2, false},
	{audit.UserDeleteAPIKey, 1, false},
	{audit.RunUndeleteMany, 0.5, false},
	{audit.ProjectDelete, 0.5, false},
	{audit.TeamInviteUser, 0.5, false},
	{audit.UserUpdate, 0.5, false},
	{audit.TeamUninvite, 0.2, false},
	{audit.UserCreate, 0.3, false},
	{audit.TeamCreate, 0.1, false},
	{audit.TeamCreateServiceAccount, 0.1, false},
	{audit.UserDeactivate, 0.1, false},
	{audit.TeamDelete, 0.05, false},
	{audit.UserReactivate, 0.05, false},
	{audit.UserPermanentlyDelete, 0.02, false},
}

// officeHours weighs the UTC hours of an organization with offices in
// Europe and the Americas.
var officeHours = [24]float64{0.25, 0.2, 0.15, 0.12, 0.12, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 0.9,
	0.9, 1.1, 1.3, 1.4, 1.4, 1.3, 1.2, 1.1, 1.0, 0.8, 0.6, 0.4}

// cumulative is a sampler over weighted choices.
type cumulative []float64

func newCumulative(ws []float64) cumulative {
	c := make(cumulative, len(ws))
	sum := 0.0
	for i, w := range ws {
		sum += w
		c[i] = sum
	}
	return c
}

func (c cumulative) pick(r *rand.Rand) int {
	x := r.Float64() * c[len(c)-1]
	return min(sort.SearchFloat64s(c, x), len(c)-1)
}

// generator makes a deterministic dataset from a seed.
type generator struct {
	r        *rand.Rand
	now      time.Time
	first    time.Time // midnight UTC of the oldest day
	days     int
	members  []member
	admins   []int // indexes into members
	rank     []int // Zipf rank -> member index
	zipf     *rand.Zipf
	actions  cumulative
	cli      cumulative
	slots    [2]cumulative // per (automated) flag: weight of each hour since first
	projects []project
}

type project struct {
	entity int
	name   string
	id     int
}

// newGenerator prepares users and the platform's teams and projects. now is
// the newest possible event time; the oldest day is days-1 days before it.
func newGenerator(seed uint64, users, days int, now time.Time) *generator {
	g := &generator{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: now.UTC(), days: days}
	y, m, d := g.now.Date()
	g.first = time.Date(y, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -(days - 1))

	for e := range entityNames {
		for p := 0; p < 12; p++ {
			stem := projectStems[(e*7+p*5)%len(projectStems)]
			name := stem
			if p >= len(projectStems)/2 {
				name = fmt.Sprintf("%s-%d", stem, p)
			}
			g.projects = append(g.projects, project{entity: e, name: name, id: 1000 + e*100 + p})
		}
	}

	seen := map[string]int{}
	for i := 0; i < users; i++ {
		fn := firstNames[g.r.IntN(len(firstNames))]
		ln := lastNames[g.r.IntN(len(lastNames))]
		base := fn + "." + ln
		n := seen[base]
		seen[base]++
		handle := base
		if n > 0 {
			handle = fmt.Sprintf("%s%d", base, n+1)
		}
		role := "member"
		switch x := g.r.Float64(); {
		case x < 0.01:
			role = "admin"
		case x < 0.11:
			role = "viewer"
		}
		mb := member{
			username: handle,
			name:     title(fn) + " " + title(ln),
			email:    handle + "@example.com",
			role:     role,
			added:    g.first.AddDate(0, 0, -g.r.IntN(700)-1).Add(time.Duration(g.r.IntN(86400)) * time.Second),
			entity:   g.r.IntN(len(entityNames)),
		}
		mb.ips[0] = fmt.Sprintf("10.%d.%d.%d", 16+g.r.IntN(16), g.r.IntN(256), 1+g.r.IntN(254))
		mb.ips[1] = fmt.Sprintf("%d.%d.%d.%d", 23+g.r.IntN(180), g.r.IntN(256), g.r.IntN(256), 1+g.r.IntN(254))
		for k := range mb.projects {
			if k < 3 {
				mb.projects[k] = mb.entity*12 + g.r.IntN(12)
			} else {
				mb.projects[k] = g.r.IntN(len(g.projects))
			}
		}
		if role == "admin" {
			g.admins = append(g.admins, i)
		}
		g.members = append(g.members, mb)
	}
	if len(g.admins) == 0 {
		g.members[0].role = "admin"
		g.admins = []int{0}
	}
	// A tenth of the members (at least one stays) do nothing in the window:
	// invitations never used, people who moved on.
	active := max(users-users/10, 1)
	g.rank = g.r.Perm(users)[:active]
	g.zipf = rand.NewZipf(g.r, 1.15, 6, uint64(active-1))

	ws := make([]float64, len(actionMix))
	for i, a := range actionMix {
		ws[i] = a.weight
	}
	g.actions = newCumulative(ws)
	g.cli = newCumulative(cliWeights)

	for auto := range 2 {
		hours := make([]float64, days*24)
		for h := range hours {
			start := g.first.Add(time.Duration(h) * time.Hour)
			if !start.Before(g.now) {
				continue
			}
			day := h / 24
			// A growing organization: a year ago it was half as busy.
			w := 0.5 + 0.5*float64(day)/float64(max(days-1, 1))
			weekend := start.Weekday() == time.Saturday || start.Weekday() == time.Sunday
			holidays := start.Month() == time.December && start.Day() >= 23 || start.Month() == time.January && start.Day() <= 2
			if auto == 1 {
				w *= 0.6 + 0.4*officeHours[start.Hour()]/1.4
				if weekend || holidays {
					w *= 0.6
				}
			} else {
				w *= officeHours[start.Hour()]
				if weekend {
					w *= 0.15
				}
				if holidays {
					w *= 0.3
				}
			}
			hours[h] = w
		}
		g.slots[auto] = newCumulative(hours)
	}
	return g
}

func title(s string) string { return string(s[0]-'a'+'A') + s[1:] }

// opaque returns a platform-style opaque ID, as the platform's GraphQL IDs look.
func opaque(kind string, n int) string {
	return base64.StdEncoding.EncodeToString([]byte(kind + ":" + strconv.Itoa(n)))
}

func (g *generator) uuid() string {
	a, b := g.r.Uint64(), g.r.Uint64()
	a = a&^0xf000 | 0x4000     // version 4
	b = b&^(0xc<<60) | 0x8<<60 // RFC 4122 variant
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, a>>16&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

// when picks an event time: an hour by the weights, then a second within it.
func (g *generator) when(automated bool) time.Time {
	auto := 0
	if automated {
		auto = 1
	}
	h := g.slots[auto].pick(g.r)
	start := g.first.Add(time.Duration(h) * time.Hour)
	span := min(time.Hour, g.now.Sub(start))
	return start.Add(time.Duration(g.r.Int64N(int64(span/time.Second))) * time.Second)
}

func (g *generator) actor() int { return g.rank[g.zipf.Uint64()] }

// code picks a response code: mostly 200, with the failures each kind of
// action sees.
func (g *generator) code(a audit.Action) int {
	x := g.r.Float64()
	switch {
	case a == audit.UserLogin && x < 0.04:
		return 401
	case x < 0.005:
		return 401
	case x < 0.015:
		return 403
	case x < 0.03 && (a == audit.ArtifactRead || a == audit.ProjectRead || a == audit.ReportRead || a == audit.UserRead):
		return 404
	case x > 0.998:
		return 500
	}
	return 200
}

// events generates n events, sorted by time as a platform would report them.
func (g *generator) events(n int) []event {
	es := make([]event, n)
	for i := range es {
		g.fill(&es[i])
	}
	slices.SortStableFunc(es, func(a, b event) int { return a.ts.Compare(b.ts) })
	return es
}

func (g *generator) fill(e *event) {
	mix := actionMix[g.actions.pick(g.r)]
	a := mix.action
	e.id = g.uuid()
	e.ts = g.when(mix.automated)
	e.code = g.code(a)
	t := &e.text
	t[fAction] = string(a)

	admin := false
	switch a {
	case audit.TeamInviteUser, audit.TeamUninvite, audit.TeamCreate, audit.TeamDelete, audit.TeamCreateServiceAccount,
		audit.UserCreate, audit.UserUpdate, audit.UserDeactivate, audit.UserReactivate, audit.UserPermanentlyDelete:
		admin = true
	}
	var m *member
	switch {
	case admin:
		m = &g.members[g.admins[g.r.IntN(len(g.admins))]]
	case g.r.Float64() < 0.01:
		// A guest collaborator who is not a member of the organization.
		t[fActorEmail] = fmt.Sprintf("guest%d@partner.example.org", g.r.IntN(50))
		t[fActorIP] = fmt.Sprintf("198.51.100.%d", 1+g.r.IntN(254))
	default:
		m = &g.members[g.actor()]
	}
	if m != nil {
		t[fActorEmail] = m.email
		t[fActorIP] = m.ips[0]
		if g.r.Float64() < 0.3 {
			t[fActorIP] = m.ips[1]
		}
		if g.r.Float64() < 0.4 {
			t[fActorUserID] = strconv.FormatInt(m.id, 10)
		}
	}

	proj := g.projects[g.r.IntN(len(g.projects))]
	if m != nil {
		proj = g.projects[m.projects[g.r.IntN(len(m.projects))]]
	}
	withProject := func() {
		t[fEntityName] = entityNames[proj.entity]
		t[fEntityAsset] = opaque("Entity", 100+proj.entity)
		t[fProjectName] = proj.name
		t[fProjectAsset] = opaque("Project", proj.id)
	}
	sdk := func() { t[fCLIVersion] = cliVersions[g.cli.pick(g.r)] }
	target := func() {
		u := &g.members[g.r.IntN(len(g.members))]
		t[fUserEmail] = u.email
		t[fUserAsset] = strconv.FormatInt(u.id, 10)
	}

	switch a {
	case audit.RunUpdate, audit.RunStop, audit.RunDelete, audit.RunUpdateMany, audit.RunDeleteMany, audit.RunUndeleteMany, audit.SweepCreateAgent:
		withProject()
		if a != audit.RunStop || g.r.IntN(2) == 0 {
			sdk()
		}
	case audit.ArtifactCreate, audit.ArtifactRead, audit.ArtifactDelete:
		withProject()
		sdk()
		seqID := proj.id*20 + g.r.IntN(len(artifactStems))
		version := g.r.IntN(120)
		if a == audit.ArtifactCreate {
			version = 120 + g.r.IntN(40)
		}
		artID := seqID*200 + version
		t[fArtifactAsset] = opaque("Artifact", artID)
		t[fArtifactSequenceAsset] = opaque("ArtifactSequence", seqID)
		t[fArtifactQualifiedName] = fmt.Sprintf("%s/%s/%s:v%d", t[fEntityName], t[fProjectName], artifactStems[seqID%len(artifactStems)], version)
		t[fArtifactDigest] = digest(artID)
	case audit.ProjectRead, audit.ProjectDelete:
		withProject()
	case audit.ReportRead:
		withProject()
		r := g.r.IntN(len(reportNames) * 8)
		t[fReportName] = reportNames[r%len(reportNames)]
		t[fReportAsset] = opaque("View", 50000+r)
	case audit.UserRead, audit.TeamInviteUser, audit.TeamUninvite, audit.UserCreate, audit.UserUpdate,
		audit.UserDeactivate, audit.UserReactivate, audit.UserPermanentlyDelete:
		target()
		if a == audit.TeamInviteUser || a == audit.TeamUninvite {
			t[fEntityName] = entityNames[proj.entity]
			t[fEntityAsset] = opaque("Entity", 100+proj.entity)
		}
	case audit.TeamCreate, audit.TeamDelete, audit.TeamCreateServiceAccount:
		t[fEntityName] = entityNames[proj.entity]
		t[fEntityAsset] = opaque("Entity", 100+proj.entity)
	case audit.UserCreateAPIKey, audit.UserDeleteAPIKey:
		if m != nil {
			t[fUserEmail] = m.email
			t[fUserAsset] = strconv.FormatInt(m.id, 10)
		}
	}
}

// digest is an artifact's content digest: the same artifact version always
// has the same one.
func digest(n int) string {
	x := uint64(n)*0x9e3779b97f4a7c15 + 0x632be59bd9b4e019
	y := x ^ x>>31*0xbf58476d1ce4e5b9
	y ^= y >> 29
	z := y*0x94d049bb133111eb ^ x
	return fmt.Sprintf("%016x%016x", y, z^z>>32)
}

// daysHolding returns the smallest numDays whose window (today and numDays
// days before it) holds at least want of the sorted events.
func daysHolding(es []event, today time.Time, want int) int {
	for k := 0; ; k++ {
		from := today.AddDate(0, 0, -k)
		i := sort.Search(len(es), func(i int) bool { return !es[i].ts.Before(from) })
		if len(es)-i >= want || i == 0 {
			return k
		}
	}
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hexd = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// appendNDJSON appends e as one NDJSON line, with its client id.
func appendNDJSON(b []byte, e *event) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, e.id)
	for i, v := range e.text {
		if v == "" {
			continue
		}
		b = append(b, ',', '"')
		b = append(b, textKeys[i]...)
		b = append(b, '"', ':')
		b = appendJSONString(b, v)
	}
	b = append(b, `,"response_code":`...)
	b = strconv.AppendInt(b, int64(e.code), 10)
	b = append(b, `,"timestamp":"`...)
	b = e.ts.UTC().AppendFormat(b, time.RFC3339)
	return append(b, '"', '}', '\n')
}

// csvColumns are the audit_events columns of appendCSV's rows.
func csvColumns() string {
	s := "org_id, seq, ts, response_code"
	for _, k := range textKeys {
		s += ", " + string(k)
	}
	return s
}

// appendCSV appends e as a CSV row of csvColumns. Values are quoted and
// missing ones left empty and unquoted, which COPY reads as NULL.
func appendCSV(b []byte, e *event, org, seq int64) []byte {
	b = strconv.AppendInt(b, org, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, ',')
	b = e.ts.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(e.code), 10)
	for _, v := range e.text {
		b = append(b, ',')
		if v == "" {
			continue
		}
		b = append(b, '"')
		for i := 0; i < len(v); i++ {
			if v[i] == '"' {
				b = append(b, '"')
			}
			b = append(b, v[i])
		}
		b = append(b, '"')
	}
	return append(b, '\n')
}

// mib formats bytes as MiB.
func mib(n int64) string { return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB" }
