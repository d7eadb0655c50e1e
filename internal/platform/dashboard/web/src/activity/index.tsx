// PLACEHOLDER: the charts helper replaces this folder with the Activity tab
// (self-managed, dedicated) and the Activity Panel (multi-tenant).
//
// Contract with the page around them (web/src/app.tsx):
// - ActivityTab renders inside div#panel-activity (role=tabpanel), which the
//   page owns; it renders section#total-active-users and
//   section#users-over-time itself, each with aria-busy while loading.
// - ActivityPanel renders its own root, section#activity-panel, which the
//   Members page puts above #panel-users.
// - Errors go to #error through reportError(source, err, org) from ../ui
//   (use a source name of your own, e.g. "activity"); clearError(source)
//   when a later fetch succeeds. CSS: import './activity.css' here.

/** The Activity tab's content, for organization org. */
export function ActivityTab({ org }: { org: string }) {
  return (
    <div class="activity-placeholder">
      <p>Activity for {org} is coming soon.</p>
    </div>
  );
}

/** The multi-tenant Members page's Activity Panel, for organization org. */
export function ActivityPanel({ org }: { org: string }) {
  return (
    <section id="activity-panel" class="activity-placeholder" aria-label="Activity">
      <p>Activity for {org} is coming soon.</p>
    </section>
  );
}
