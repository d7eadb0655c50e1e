package slack

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/auditgraph/auditgraph/notify"
)

// maxShown alerts get blocks of their own (five each, with the divider):
// Slack takes at most 50 blocks per message.
const maxShown = 9

// maxValue caps each event value in the message: values may be 4 KiB, a
// section's text only 3000 characters.
const maxValue = 200

// message builds the Block Kit message for alerts, with a plain-text Text
// that notifications and old clients show instead of the blocks.
func message(alerts []notify.Alert) *slackapi.WebhookMessage {
	var blocks []slackapi.Block
	for i, a := range alerts[:min(len(alerts), maxShown)] {
		if i > 0 {
			blocks = append(blocks, slackapi.NewDividerBlock())
		}
		blocks = append(blocks, alertBlocks(a)...)
	}
	if more := len(alerts) - maxShown; more > 0 {
		blocks = append(blocks, slackapi.NewContextBlock("", mrkdwn(fmt.Sprintf("and %d more alerts", more))))
	}
	text := summary(alerts[0])
	if len(alerts) > 1 {
		text += fmt.Sprintf(" and %d more", len(alerts)-1)
	}
	return &slackapi.WebhookMessage{Text: text, Blocks: &slackapi.Blocks{BlockSet: blocks}}
}

// alertBlocks says what happened (the header), who did it to what, when and
// with which response code (the section; lines only for values the event
// has), which rule in which organization matched (the context) and links
// to the event (the button).
func alertBlocks(a notify.Alert) []slackapi.Block {
	e := a.Event
	var lines []string
	line := func(label, value string) {
		if value != "" {
			lines = append(lines, "*"+label+":* "+value)
		}
	}
	line("Who", described(or(e.ActorEmail, e.ActorUserID),
		idNote(e.ActorEmail, e.ActorUserID), note("IP", e.ActorIP), note("CLI", e.CLIVersion)))
	line("User", described(e.UserEmail, code(e.UserAsset)))
	line("Entity", described(e.EntityName, code(e.EntityAsset)))
	line("Project", described(e.ProjectName, code(e.ProjectAsset)))
	line("Artifact", described(e.ArtifactQualifiedName, code(e.ArtifactAsset),
		note("digest", e.ArtifactDigest), note("sequence", e.ArtifactSequenceAsset)))
	line("Report", described(e.ReportName, code(e.ReportAsset)))
	if !e.Timestamp.IsZero() {
		// Slack shows the date in the reader's time zone; the RFC 3339
		// text is its fallback.
		line("When", fmt.Sprintf("<!date^%d^{date_short_pretty} {time_secs}|%s>",
			e.Timestamp.Unix(), e.Timestamp.UTC().Format(time.RFC3339)))
	}
	if e.ResponseCode != 0 {
		line("Response code", strconv.Itoa(e.ResponseCode))
	}

	blocks := []slackapi.Block{
		// A test alert has no action: Slack refuses an empty header.
		slackapi.NewHeaderBlock(slackapi.NewTextBlockObject(slackapi.PlainTextType, clip(or(string(e.Action), a.Rule), 150), false, false)),
	}
	if len(lines) > 0 {
		blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn(strings.Join(lines, "\n")), nil, nil))
	}
	blocks = append(blocks, slackapi.NewContextBlock("",
		mrkdwn(fmt.Sprintf("Rule *%s* in organization *%s*", escape(a.Rule), escape(a.Organization)))))
	if a.EventURL != "" {
		button := slackapi.NewButtonBlockElement("view_event", a.IdempotencyKey,
			slackapi.NewTextBlockObject(slackapi.PlainTextType, "View event", false, false))
		button.URL = a.EventURL
		blocks = append(blocks, slackapi.NewActionBlock("", button))
	}
	return blocks
}

// summary is one line of plain text for a notification.
func summary(a notify.Alert) string {
	// A test alert has no action; its rule names it.
	s := or(string(a.Event.Action), a.Rule)
	if who := or(a.Event.ActorEmail, a.Event.ActorUserID); who != "" {
		s += " by " + clip(who, maxValue)
	}
	return escape(fmt.Sprintf("%s in %s (rule %s)", s, a.Organization, a.Rule))
}

func mrkdwn(s string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.MarkdownType, s, false, false)
}

// described is "main (note, note)" from the values that are present, each
// escaped; "" when none is.
func described(main string, notes ...string) string {
	var ns []string
	for _, n := range notes {
		if n != "" {
			ns = append(ns, n)
		}
	}
	main = escape(clip(main, maxValue))
	switch {
	case len(ns) == 0:
		return main
	case main == "":
		return strings.Join(ns, ", ")
	}
	return main + " (" + strings.Join(ns, ", ") + ")"
}

// idNote shows the actor's user id beside the email; alone, it is the main
// value.
func idNote(email, id string) string {
	if email == "" {
		return ""
	}
	return note("id", id)
}

func note(label, v string) string {
	if v == "" {
		return ""
	}
	return label + " " + code(v)
}

func code(v string) string {
	if v == "" {
		return ""
	}
	return "`" + escape(clip(v, maxValue)) + "`"
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// escape makes v literal text in mrkdwn: reported events are not trusted,
// and "<!channel>" or a "<https://evil|link>" in an actor email must not act.
func escape(v string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(v)
}

// clip cuts v to at most n runes.
func clip(v string, n int) string {
	if r := []rune(v); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return v
}
