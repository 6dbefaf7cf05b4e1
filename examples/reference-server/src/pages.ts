import type { Health } from "./health.js";

export const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

/** `<script type="application/json">` content: no `</script>` can end it early. */
const inlineJson = (value: unknown) => JSON.stringify(value).replace(/</g, "\\u003c");

export const head = (title: string, extra = "") => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; margin: 0; color: #1b1b1f; background: #fafafa; }
  nav { display: flex; gap: 1rem; padding: .6rem 1rem; background: #111; color: #eee; align-items: center; }
  nav a { color: #eee; }
  main { max-width: 60rem; margin: 1.5rem auto; padding: 0 1rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }
  .ok { color: #137333; font-weight: 600; }
  ${extra}
</style>
</head>`;

export const nav = `<nav aria-label="Main"><strong>Reelkit</strong><a href="/">Feed</a><a href="/upload">Upload</a><a href="/studio">Studio</a><a href="/moderate">Moderate</a><a href="/status">Status</a><span id="who"></span></nav>`;

/** Shared sign-in helper for the demo pages: a token per demo role in localStorage. */
export const signInScript = `
const who = document.getElementById("who");
export async function signIn(user) {
  const res = await fetch("/auth/sign-in", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ user }) });
  if (!res.ok) throw new Error("sign-in failed: " + res.status);
  const body = await res.json();
  localStorage.setItem("reelkit:token", body.token);
  localStorage.setItem("reelkit:user", JSON.stringify(body.user));
  return body;
}
export const currentUser = () => JSON.parse(localStorage.getItem("reelkit:user") ?? "null");
export const token = () => localStorage.getItem("reelkit:token");
const user = currentUser();
if (who) who.textContent = user ? "Signed in as " + user.name + " (" + user.role + ")" : "";
`;

/** The feed: <reel-feed> over /feed, telemetry to /events, the first page rendered inline. */
export function feedPage(firstPage: unknown): string {
  return `${head("Reelkit", "reel-feed { display: block; height: calc(100dvh - 3rem); max-width: 480px; margin: 0 auto; }")}
<body>
${nav}
<div id="feed-slot"></div>
<script type="application/json" id="first-page">${inlineJson(firstPage)}</script>
<script type="module">
${signInScript}
await import("/assets/player.js");
// Created after the elements are defined, so its properties (headers) are set on the real element.
const feed = document.createElement("reel-feed");
feed.setAttribute("src", "/feed");
feed.setAttribute("events", "/events");
feed.setAttribute("label", "Videos");
const t = token();
const u = currentUser();
if (t && u) {
  feed.headers = { Authorization: "Bearer " + t };
  feed.setAttribute("user-id", u.id);
}
// Anonymous viewers start from the page rendered into the HTML; signed-in ones ask /feed for
// their personalised first page.
if (!t) {
  const first = document.createElement("script");
  first.type = "application/json";
  first.textContent = document.getElementById("first-page").textContent;
  feed.append(first);
}
document.getElementById("feed-slot").append(feed);
</script>
</body>
</html>
`;
}

/** Upload a clip with the resumable client, watch the progress, then the processing status. */
export function uploadPage(): string {
  return `${head("Upload · Reelkit", "progress { width: 100%; height: 1.2rem; } #drop { border: 2px dashed #999; padding: 2rem; text-align: center; border-radius: 8px; } #drop.over { background: #eef; }")}
<body>
${nav}
<main>
<h1>Upload a clip</h1>
<p><button type="button" id="sign-in">Sign in as the demo creator</button></p>
<form id="form">
  <p><label>Title <input id="title" name="title" maxlength="200" required value="My clip"></label></p>
  <div id="drop">Drop a video here, or <label>choose one <input id="file" type="file" accept="video/*"></label></div>
  <p><button type="submit" id="send">Upload</button></p>
</form>
<p><progress id="progress" max="1" value="0" aria-label="Upload progress"></progress></p>
<p id="status" role="status" aria-live="polite"></p>
</main>
<script type="module">
${signInScript}
const status = document.getElementById("status");
const progress = document.getElementById("progress");
const fileInput = document.getElementById("file");
const drop = document.getElementById("drop");
let chosen;
document.getElementById("sign-in").addEventListener("click", async () => { await signIn("u-creator"); location.reload(); });
fileInput.addEventListener("change", () => { chosen = fileInput.files[0]; status.textContent = chosen ? "Ready: " + chosen.name : ""; });
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); chosen = e.dataTransfer.files[0]; status.textContent = chosen ? "Ready: " + chosen.name : ""; });
document.getElementById("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!token()) { status.textContent = "Sign in first."; return; }
  if (!chosen) { status.textContent = "Choose a video first."; return; }
  const { createUploadClient } = await import("/assets/upload.js");
  const client = createUploadClient({ endpoint: "/uploads/", headers: () => ({ Authorization: "Bearer " + token() }), parallel: 2 });
  const handle = client.upload(chosen, { metadata: { title: document.getElementById("title").value, filename: chosen.name } });
  handle.on("progress", ({ bytesUploaded, bytesTotal }) => { progress.value = bytesTotal ? bytesUploaded / bytesTotal : 0; status.textContent = "Uploading… " + Math.round(100 * progress.value) + " %"; });
  try {
    const { url } = await handle.done;
    const id = url.split("/").pop();
    status.textContent = "Uploaded. Processing…";
    for (;;) {
      const res = await fetch("/videos/" + id, { headers: { Authorization: "Bearer " + token() } });
      const video = res.ok ? await res.json() : undefined;
      if (video && ["published", "limited", "held", "rejected", "failed"].includes(video.status)) {
        status.innerHTML = video.status === "published" ? 'Published. <a href="/">See it in the feed</a>.' : "Status: " + video.status + (video.error ? " (" + video.error + ")" : "");
        status.dataset.state = video.status;
        break;
      }
      if (video) status.textContent = "Processing: " + video.status + "…";
      await new Promise((r) => setTimeout(r, 1000));
    }
  } catch (error) {
    status.textContent = "Upload failed: " + (error.code ?? "") + " " + error.message;
  }
});
document.body.dataset.ready = "";
import("/assets/upload.js"); // warm the client while the viewer picks a file
</script>
</body>
</html>
`;
}

/** Which packages this server runs, at which versions. */
export function healthPage(report: Health): string {
  const rows = report.packages
    .map(
      (p) =>
        `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${escapeHtml(p.version)}</td><td>${escapeHtml(p.description)}</td></tr>`,
    )
    .join("\n");
  return `${head("Status · Reelkit")}
<body>
${nav}
<main>
<h1>Reelkit reference server</h1>
<p>Status: <span class="ok" id="status">${escapeHtml(report.status)}</span> · mode: ${escapeHtml(report.mode)} · Node ${escapeHtml(report.node)} · up ${report.uptimeSeconds} s · <a href="/healthz">/healthz</a> · <a href="/metrics">/metrics</a></p>
<table id="packages">
<thead><tr><th>package</th><th>version</th><th>what it does</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</main>
</body>
</html>
`;
}
