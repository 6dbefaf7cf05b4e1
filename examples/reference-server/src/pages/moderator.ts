// The moderator dashboard (GET /moderate): the review queue with decision buttons, a form to act
// on any video, and the audit log. Dependency-free inline JS: it signs in as the demo moderator
// (like the other demo pages) and calls the API with the bearer token; user-supplied text only
// ever reaches the DOM through textContent.
import { head, nav, signInScript } from "../pages.js";

const styles = `
  main { max-width: 72rem; }
  .toolbar { display: flex; gap: .75rem; align-items: center; flex-wrap: wrap; }
  #queue { display: grid; gap: .75rem; }
  #queue:empty::after { content: "Nothing waits for review."; color: #666; }
  .item { display: grid; grid-template-columns: 8rem 1fr; gap: 1rem; background: #fff; border: 1px solid #ddd; border-radius: 8px; padding: .75rem; }
  .item.busy { opacity: .5; pointer-events: none; }
  .preview { width: 8rem; height: 12rem; background: #222; color: #bbb; display: flex; align-items: center; justify-content: center; border-radius: 6px; overflow: hidden; font-size: .8rem; text-align: center; }
  .preview img { width: 100%; height: 100%; object-fit: cover; }
  .item h3 { margin: 0 0 .25rem; font-size: 1.05rem; overflow-wrap: anywhere; }
  .meta { color: #555; font-size: .9rem; margin: 0 0 .4rem; }
  .reasons { display: flex; flex-wrap: wrap; gap: .3rem; list-style: none; padding: 0; margin: 0 0 .5rem; }
  .reasons li { background: #fde7e7; color: #8a1c1c; border-radius: 999px; padding: 0 .55rem; font-size: .85rem; }
  .sev-high, .sev-critical { color: #b00020; font-weight: 600; }
  blockquote { margin: 0 0 .5rem; padding: .3rem .6rem; border-left: 3px solid #88a; background: #f3f3fb; white-space: pre-wrap; }
  .controls { display: flex; gap: .4rem; flex-wrap: wrap; align-items: center; }
  .controls input { flex: 1 1 12rem; }
  button[data-action="approve"] { background: #e6f4ea; }
  button[data-action="limit"] { background: #fef7e0; }
  button[data-action="reject"], button[data-action="remove"] { background: #fce8e6; }
  #audit td { font-size: .9rem; overflow-wrap: anywhere; }
  #status[data-kind="error"] { color: #b00020; }
`;

export function moderatorPage(): string {
  return `${head("Moderate · Reelkit", styles)}
<body>
${nav}
<main>
<h1>Moderation</h1>
<p class="toolbar"><button type="button" id="refresh">Refresh</button> <span id="queue-count"></span></p>
<p id="status" role="status" aria-live="polite"></p>
<section aria-labelledby="queue-heading">
<h2 id="queue-heading">Review queue</h2>
<div id="queue" aria-busy="true"></div>
</section>
<section aria-labelledby="direct-heading">
<h2 id="direct-heading">Act on any video</h2>
<form id="direct" class="controls">
  <label>Video id <input id="direct-id" name="id" required pattern="[A-Za-z0-9_\\-]{16,64}" size="28"></label>
  <label>Action <select id="direct-action" name="action">
    <option value="remove">remove</option><option value="reject">reject</option><option value="limit">limit</option><option value="approve">approve</option>
  </select></label>
  <label>Reason <select id="direct-reason" name="reason"></select></label>
  <button type="submit">Decide</button>
</form>
</section>
<section aria-labelledby="audit-heading">
<h2 id="audit-heading">Audit log</h2>
<table id="audit">
<thead><tr><th>when</th><th>who</th><th>subject</th><th>action</th><th>reason</th><th>status</th><th>note</th></tr></thead>
<tbody></tbody>
</table>
<p><button type="button" id="audit-more" hidden>Older entries</button></p>
</section>
</main>
<script type="module">
${signInScript}
const REASONS = [
  ["", "reason: by action"],
  ["policy:hate", "hate"],
  ["policy:harassment", "harassment"],
  ["policy:sexual", "sexual content"],
  ["policy:violence", "violence"],
  ["policy:self_harm", "self-harm"],
  ["policy:spam", "spam"],
  ["policy:misleading", "misleading"],
  ["reviewed:ok", "not violating"],
];
const DEFAULT_REASON = { approve: "reviewed:ok", limit: "reviewed:borderline", reject: "policy:violation", remove: "policy:violation" };
const statusLine = document.getElementById("status");
const queueEl = document.getElementById("queue");
const auditBody = document.querySelector("#audit tbody");
const moreButton = document.getElementById("audit-more");
let auditCursor = null;
const posters = new Map();

const say = (text, kind = "info") => { statusLine.textContent = text; statusLine.dataset.kind = kind; };
const h = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "dataset") Object.assign(node.dataset, v);
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  return node;
};
const reasonSelect = (select) => {
  for (const [value, label] of REASONS) select.append(h("option", { value }, label));
  return select;
};
reasonSelect(document.getElementById("direct-reason"));
const requestId = () => (crypto.randomUUID ? crypto.randomUUID() : Date.now().toString(36) + Math.random().toString(36).slice(2, 12));

async function ensureModerator() {
  const u = currentUser();
  if (token() && u && (u.role === "moderator" || u.role === "admin")) return;
  const body = await signIn("moderator");
  if (who) who.textContent = "Signed in as " + body.user.name + " (" + body.user.role + ")";
}

async function api(path, init = {}, retried = false) {
  const headers = { Authorization: "Bearer " + token(), ...(init.body ? { "content-type": "application/json" } : {}) };
  const res = await fetch(path, { ...init, headers });
  if (res.status === 401 && !retried) {
    localStorage.removeItem("reelkit:token");
    await ensureModerator();
    return api(path, init, true);
  }
  const body = (res.headers.get("content-type") ?? "").includes("json") ? await res.json() : null;
  if (!res.ok) throw Object.assign(new Error((body && body.error) || res.statusText), { status: res.status });
  return body;
}

async function posterOf(url) {
  if (posters.has(url)) return posters.get(url);
  const res = await fetch(url, { headers: { Authorization: "Bearer " + token() } });
  const objectUrl = res.ok ? URL.createObjectURL(await res.blob()) : null;
  posters.set(url, objectUrl);
  return objectUrl;
}

const age = (seconds) => seconds < 90 ? seconds + " s" : seconds < 5400 ? Math.round(seconds / 60) + " min" : Math.round(seconds / 3600) + " h";

function card(item) {
  const video = item.video;
  const title = video ? video.title : item.summary && (item.summary.title || item.summary.text) || item.subject.kind + " " + item.subject.id;
  const preview = h("div", { class: "preview" }, video ? "Loading preview…" : item.subject.kind);
  if (video) {
    posterOf(video.poster).then((src) => {
      preview.textContent = "";
      if (src) preview.append(h("a", { href: src, target: "_blank", rel: "noopener" }, h("img", { src, alt: "Poster of " + video.title })));
      else preview.append("No preview");
    }, () => { preview.textContent = "No preview"; });
  }
  const note = h("input", { type: "text", class: "note", maxlength: "2000", placeholder: "Note (optional)", "aria-label": "Note" });
  const reason = reasonSelect(h("select", { class: "reason", "aria-label": "Reason" }));
  const node = h("article", { class: "item", dataset: { itemId: item.id, kind: item.subject.kind }, "aria-label": "Review item " + title });
  const buttons = ["approve", "limit", "reject"].map((action) =>
    h("button", { type: "button", dataset: { action } }, action[0].toUpperCase() + action.slice(1)));
  for (const button of buttons)
    button.addEventListener("click", () => decide({ itemId: item.id }, button.dataset.action, reason.value, note.value, node));
  const kind = item.subject.kind === "appeal" ? "appeal" : item.subject.kind;
  node.append(
    preview,
    h("div", { class: "body" },
      h("h3", {}, title),
      h("p", { class: "meta" },
        kind, " · ", h("span", { class: "sev-" + item.severityLevel }, item.severityLevel), " · waiting ", age(item.ageSeconds),
        video ? " · " + video.status + " · by " + video.ownerId : item.summary && item.summary.ownerId ? " · by " + item.summary.ownerId : "",
        item.claimedBy ? " · claimed by " + item.claimedBy : "",
        " · ", h("code", {}, video ? video.id : item.subject.id)),
      h("ul", { class: "reasons", "aria-label": "Reasons" }, item.reasons.map((r) => h("li", {}, r))),
      item.appeal ? h("blockquote", { "aria-label": "Appeal" }, "Appeal by " + item.appeal.ownerId + " (" + item.appeal.appealedStatus + "): " + item.appeal.message) : null,
      item.summary && item.summary.text && item.summary.title ? h("blockquote", {}, item.summary.text) : null,
      h("div", { class: "controls" }, reason, note, buttons)));
  return node;
}

async function loadQueue() {
  queueEl.setAttribute("aria-busy", "true");
  const { items } = await api("/moderation/queue?limit=100");
  queueEl.replaceChildren(...items.map(card));
  document.getElementById("queue-count").textContent = items.length + " waiting";
  queueEl.setAttribute("aria-busy", "false");
}

function auditRow(e) {
  return h("tr", { dataset: { entryId: e.id } },
    h("td", {}, new Date(e.at).toLocaleString()),
    h("td", {}, e.actor.id + " (" + e.actor.role + ")"),
    h("td", {}, h("code", {}, e.subject.kind + ":" + e.subject.id)),
    h("td", {}, e.action),
    h("td", {}, e.reason),
    h("td", {}, (e.previousStatus ?? "—") + " → " + (e.status ?? "—")),
    h("td", {}, e.note ?? ""));
}

async function loadAudit(more = false) {
  const page = await api("/moderation/audit?limit=25" + (more && auditCursor ? "&cursor=" + encodeURIComponent(auditCursor) : ""));
  const rows = page.entries.map(auditRow);
  if (more) auditBody.append(...rows);
  else auditBody.replaceChildren(...rows);
  auditCursor = page.cursor;
  moreButton.hidden = !auditCursor;
}

async function decide(target, action, reason, note, node) {
  const body = { ...target, action, reason: reason || DEFAULT_REASON[action], requestId: requestId() };
  if (note && note.trim()) body.note = note.trim();
  if (node) node.classList.add("busy");
  const send = () => api("/moderation/decisions", { method: "POST", body: JSON.stringify(body) });
  try {
    let result;
    try {
      result = await send();
    } catch (error) {
      if (error.status !== undefined) throw error;
      result = await send(); // a network failure: retry with the same requestId, applied once
    }
    say("Decided: " + action + " " + result.subject.kind + " " + result.subject.id + " → " + result.status + (result.appeal ? " (appeal " + result.appeal.status + ")" : ""));
    if (node) node.remove();
    await Promise.all([loadQueue(), loadAudit()]);
  } catch (error) {
    if (node) node.classList.remove("busy");
    say("Could not decide: " + error.message, "error");
  }
}

document.getElementById("direct").addEventListener("submit", (event) => {
  event.preventDefault();
  const id = document.getElementById("direct-id").value.trim();
  decide({ subject: { kind: "video", id } }, document.getElementById("direct-action").value, document.getElementById("direct-reason").value, "", null);
});
document.getElementById("refresh").addEventListener("click", () => Promise.all([loadQueue(), loadAudit()]).catch((e) => say(e.message, "error")));
moreButton.addEventListener("click", () => loadAudit(true).catch((e) => say(e.message, "error")));

try {
  await ensureModerator();
  await Promise.all([loadQueue(), loadAudit()]);
} catch (error) {
  say("Could not load the queue: " + error.message, "error");
}
setInterval(() => { if (document.visibilityState === "visible" && !queueEl.querySelector(".busy") && !queueEl.contains(document.activeElement)) loadQueue().catch(() => {}); }, 15000);
document.body.dataset.ready = "";
</script>
</body>
</html>
`;
}
