// The creator dashboard (`GET /studio`): the page signs in as the demo creator (or uses the stored
// token) and reads /me/analytics, /me/videos and /me/videos/{id}/retention. Charts are inline SVG
// drawn by the small script below (no chart library): axes, labels, role="img" with a summary, and
// every chart's data as a table too. User content only ever reaches the DOM through textContent.
import { head, nav, signInScript } from "../pages.js";

const styles = `
  .tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(9rem, 1fr)); gap: .75rem; padding: 0; list-style: none; }
  .tile { background: #fff; border: 1px solid #ddd; border-radius: 8px; padding: .6rem .8rem; }
  .tile .label { display: block; font-size: .8rem; color: #555; }
  .tile .value { display: block; font-size: 1.25rem; font-weight: 600; white-space: nowrap; }
  .tile .note { display: block; font-size: .8rem; color: #555; }
  figure.chart { margin: 0 0 1rem; background: #fff; border: 1px solid #ddd; border-radius: 8px; padding: .6rem; }
  figure.chart svg { width: 100%; height: auto; display: block; }
  figure.chart .axis { stroke: #888; stroke-width: 1; }
  figure.chart .grid { stroke: #eee; stroke-width: 1; }
  figure.chart text { font: 11px system-ui, sans-serif; fill: #444; }
  .legend { display: flex; gap: 1rem; font-size: .85rem; margin: .3rem 0; flex-wrap: wrap; }
  .swatch { display: inline-block; width: .8rem; height: .8rem; border-radius: 2px; margin-right: .3rem; vertical-align: -1px; }
  details table { font-size: .85rem; }
  form.range { display: flex; gap: 1rem; align-items: end; flex-wrap: wrap; }
  .status-published { color: #137333; } .status-failed, .status-rejected { color: #b3261e; } .status-held, .status-limited { color: #8a5a00; }
  section { margin-bottom: 1.5rem; }
`;

/** The dashboard's script (plain JS in the page: no template literals inside, no `${`). */
const dashboardScript = `
const $ = (id) => document.getElementById(id);
const statusLine = $("studio-status");
const SVG = "http://www.w3.org/2000/svg";
const say = (text, state) => { statusLine.textContent = text; statusLine.dataset.state = state ?? ""; };
const el = (tag, attrs = {}, text) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
};
const svgEl = (tag, attrs = {}, text) => {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
};
const num = (n) => Math.round(n).toLocaleString("en");
const pct = (r) => (Math.round(r * 1000) / 10) + " %";
function duration(ms) {
  const s = Math.round(ms / 1000);
  if (s < 60) return s + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + " min " + (s % 60) + " s";
  return Math.floor(m / 60) + " h " + (m % 60) + " min";
}
const shortDate = (iso) => new Date(iso + "T00:00:00Z").toLocaleDateString("en", { month: "short", day: "numeric", timeZone: "UTC" });

/** Round tick steps (1, 2, 5 × 10^n) covering min..max in about five steps. */
function ticks(min, max) {
  const span = max - min || 1;
  const raw = span / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? raw;
  const out = [];
  for (let v = Math.floor(min / step) * step; v <= max + step / 2; v += step) out.push(Math.round(v * 1e6) / 1e6);
  return out;
}

/**
 * Draw a chart into a <figure>: bars and lines over a category x axis.
 * spec: { id, title, summary, labels, xFormat, yFormat, yMax?, series: [{ name, values, type, color }], columns }
 */
function drawChart(figure, spec) {
  figure.replaceChildren();
  const W = 640, H = 240, L = 52, R = 12, T = 12, B = 34;
  const all = spec.series.flatMap((s) => s.values);
  let lo = Math.min(0, ...all), hi = Math.max(spec.yMax ?? 0, ...all, 1);
  const yt = ticks(lo, hi);
  lo = Math.min(lo, yt[0]); hi = Math.max(hi, yt[yt.length - 1]);
  const n = spec.labels.length;
  const band = (W - L - R) / Math.max(n, 1);
  const x = (i) => L + band * (i + 0.5);
  const y = (v) => T + (H - T - B) * (1 - (v - lo) / (hi - lo || 1));
  const caption = el("figcaption", { id: spec.id + "-caption" }, spec.title);
  const svg = svgEl("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": spec.title + ". " + spec.summary, "aria-describedby": spec.id + "-desc", "data-points": n });
  svg.append(svgEl("title", { id: spec.id + "-title" }, spec.title), svgEl("desc", { id: spec.id + "-desc" }, spec.summary));
  const axes = svgEl("g", { "aria-hidden": "true" });
  for (const v of yt) {
    axes.append(svgEl("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
    axes.append(svgEl("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, spec.yFormat(v)));
  }
  axes.append(svgEl("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }));
  axes.append(svgEl("line", { class: "axis", x1: L, x2: W - R, y1: y(0), y2: y(0) }));
  const every = Math.max(1, Math.ceil(n / 8));
  spec.labels.forEach((label, i) => {
    if (i % every !== 0 && i !== n - 1) return;
    axes.append(svgEl("line", { class: "axis", x1: x(i), x2: x(i), y1: H - B, y2: H - B + 4 }));
    axes.append(svgEl("text", { x: x(i), y: H - B + 16, "text-anchor": "middle" }, spec.xFormat(label)));
  });
  svg.append(axes);
  const bars = spec.series.filter((s) => s.type === "bar");
  const barWidth = Math.max(1, (band * 0.8) / Math.max(bars.length, 1));
  bars.forEach((s, k) => {
    const g = svgEl("g", { "data-series": s.name, fill: s.color });
    s.values.forEach((v, i) => {
      const top = y(Math.max(v, 0)), bottom = y(Math.min(v, 0));
      const rect = svgEl("rect", { class: "bar", x: x(i) - (band * 0.8) / 2 + k * barWidth, y: top, width: barWidth, height: Math.max(bottom - top, v === 0 ? 0 : 1), "data-value": v });
      rect.append(svgEl("title", {}, spec.xFormat(spec.labels[i]) + ": " + s.name + " " + spec.yFormat(v)));
      g.append(rect);
    });
    svg.append(g);
  });
  for (const s of spec.series.filter((s) => s.type === "line")) {
    const g = svgEl("g", { "data-series": s.name });
    const d = s.values.map((v, i) => (i === 0 ? "M" : "L") + x(i).toFixed(1) + " " + y(v).toFixed(1)).join(" ");
    g.append(svgEl("path", { class: "line", d, fill: "none", stroke: s.color, "stroke-width": 2 }));
    s.values.forEach((v, i) => {
      const dot = svgEl("circle", { class: "point", cx: x(i), cy: y(v), r: n > 40 ? 1.5 : 3, fill: s.color, "data-value": v });
      dot.append(svgEl("title", {}, spec.xFormat(spec.labels[i]) + ": " + s.name + " " + spec.yFormat(v)));
      g.append(dot);
    });
    svg.append(g);
  }
  const legend = el("div", { class: "legend", "aria-hidden": "true" });
  for (const s of spec.series) {
    const item = el("span");
    item.append(el("span", { class: "swatch", style: "background:" + s.color }), s.name);
    legend.append(item);
  }
  const details = el("details");
  details.append(el("summary", {}, "Data table: " + spec.title));
  const table = el("table");
  const headRow = el("tr");
  for (const c of spec.columns) headRow.append(el("th", { scope: "col" }, c.name));
  table.append(el("thead"), el("tbody"));
  table.tHead.append(headRow);
  spec.labels.forEach((label, i) => {
    const row = el("tr");
    for (const c of spec.columns) row.append(el("td", {}, c.value(label, i)));
    table.tBodies[0].append(row);
  });
  details.append(table);
  figure.append(caption, legend, svg, details);
}

const headers = () => ({ Authorization: "Bearer " + token() });

/** GET with the stored token; a rejected token (expired, or the server's secret changed) signs in again once. */
async function api(path) {
  let res = await fetch(path, { headers: headers() });
  if (res.status === 401) {
    await signIn("u-creator");
    res = await fetch(path, { headers: headers() });
  }
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    const error = new Error(body.error ?? "HTTP " + res.status);
    error.status = res.status;
    throw error;
  }
  return res.json();
}

function tiles(a) {
  const t = a.totals;
  const list = $("tiles");
  list.replaceChildren();
  const tile = (label, value, note) => {
    const li = el("li", { class: "tile" });
    li.append(el("span", { class: "label" }, label), el("span", { class: "value" }, value));
    if (note) li.append(el("span", { class: "note" }, note));
    list.append(li);
  };
  tile("Views", num(t.views), num(t.impressions) + " impressions");
  tile("Watch time", duration(t.watchMs), duration(t.averageWatchMs) + " per view");
  tile("Completion rate", pct(t.completionRate), num(t.completions) + " completions");
  tile("Likes", num(t.likes));
  tile("Shares", num(t.shares));
  tile("Followers", num(a.followers.total), "+" + num(a.followers.gained) + " / −" + num(a.followers.lost) + " in range");
}

function charts(a) {
  const labels = a.days.map((d) => d.date);
  const views = a.days.map((d) => d.views);
  const peak = a.days.reduce((best, d) => (d.views > best.views ? d : best), a.days[0]);
  drawChart($("views-chart"), {
    id: "views",
    title: "Views per day, " + a.from + " to " + a.to,
    summary: num(a.totals.views) + " views over " + a.days.length + " days" + (a.totals.views > 0 ? "; the most, " + num(peak.views) + ", on " + peak.date + "." : "."),
    labels, xFormat: shortDate, yFormat: num,
    series: [{ name: "Views", values: views, type: "bar", color: "#3b6fd8" }, { name: "Likes", values: a.days.map((d) => d.likes), type: "line", color: "#d8553b" }],
    columns: [
      { name: "Date", value: (l) => l },
      { name: "Views", value: (_, i) => num(views[i]) },
      { name: "Watch time", value: (_, i) => duration(a.days[i].watchMs) },
      { name: "Completions", value: (_, i) => num(a.days[i].completions) },
      { name: "Likes", value: (_, i) => num(a.days[i].likes) },
    ],
  });
  const g = a.followerGrowth;
  drawChart($("followers-chart"), {
    id: "followers",
    title: "Followers, " + a.from + " to " + a.to,
    summary: num(a.followers.total) + " followers at the end; " + num(a.followers.gained) + " gained and " + num(a.followers.lost) + " lost in the range.",
    labels: g.map((d) => d.date), xFormat: shortDate, yFormat: num,
    series: [
      { name: "Gained", values: g.map((d) => d.gained), type: "bar", color: "#2e9d5b" },
      { name: "Lost", values: g.map((d) => -d.lost), type: "bar", color: "#c0392b" },
      { name: "Total", values: g.map((d) => d.total), type: "line", color: "#333" },
    ],
    columns: [
      { name: "Date", value: (l) => l },
      { name: "Gained", value: (_, i) => num(g[i].gained) },
      { name: "Lost", value: (_, i) => num(g[i].lost) },
      { name: "Total", value: (_, i) => num(g[i].total) },
    ],
  });
}

async function showRetention(videoId) {
  const figure = $("retention-chart");
  if (!videoId) { figure.replaceChildren(el("p", {}, "No published video yet.")); return; }
  const r = await api("/me/videos/" + encodeURIComponent(videoId) + "/retention");
  const half = r.points.find((p) => p.share < 0.5);
  drawChart(figure, {
    id: "retention",
    title: "Retention of “" + r.title + "”",
    summary: r.viewers === 0 ? "No viewers yet." : r.viewers + " viewers started; " + pct(r.points[r.points.length - 1].share) + " reached the end" + (half ? "; under half were still watching at " + half.percent + " %." : "."),
    labels: r.points.map((p) => p.percent), xFormat: (p) => p + " %", yFormat: pct, yMax: 1,
    series: [{ name: "Viewers still watching", values: r.points.map((p) => p.share), type: "line", color: "#7b3bd8" }],
    columns: [{ name: "Position", value: (p) => p + " %" }, { name: "Still watching", value: (_, i) => pct(r.points[i].share) }],
  });
  figure.dataset.videoId = videoId;
}

function videoTable(a, mine) {
  const body = $("videos").tBodies[0];
  body.replaceChildren();
  const counts = new Map(a.videos.map((v) => [v.id, v.counts]));
  const select = $("retention-video");
  select.replaceChildren();
  for (const v of mine) {
    const c = counts.get(v.id);
    const row = el("tr", { "data-video-id": v.id });
    const status = el("td", { class: "status-" + v.status }, v.status + (v.error ? " (" + v.error + ")" : ""));
    row.append(el("td", {}, v.title), status, el("td", {}, v.publishedAt ? new Date(v.publishedAt).toISOString().slice(0, 10) : "—"));
    for (const value of c ? [num(c.views), num(c.uniqueViewers), duration(c.watchMs), pct(c.completionRate), num(c.likes), num(c.shares)] : ["—", "—", "—", "—", "—", "—"])
      row.append(el("td", {}, value));
    const cell = el("td");
    if (v.status === "published" || v.status === "limited") {
      select.append(el("option", { value: v.id }, v.title));
      const button = el("button", { type: "button" }, "Retention");
      button.addEventListener("click", () => { select.value = v.id; void showRetention(v.id).catch(fail); $("retention-h").scrollIntoView(); });
      cell.append(button);
    }
    row.append(cell);
    body.append(row);
  }
  if (mine.length === 0) {
    const row = el("tr");
    row.append(el("td", { colspan: "10" }, "No videos yet: upload one."));
    body.append(row);
  }
  select.disabled = select.options.length === 0;
}

function fail(error) {
  if (error.status === 403) {
    say("The studio is for creators: sign in as the demo creator.", "forbidden");
    $("sign-in-creator").hidden = false;
  } else say("Could not load the studio: " + error.message, "error");
}

async function load() {
  const params = new URLSearchParams();
  if ($("from").value) params.set("from", $("from").value);
  if ($("to").value) params.set("to", $("to").value);
  say("Loading…", "loading");
  const [a, mine] = await Promise.all([api("/me/analytics?" + params), api("/me/videos")]);
  $("from").value = a.from;
  $("to").value = a.to;
  tiles(a);
  charts(a);
  videoTable(a, mine.videos);
  const selected = $("retention-video").value;
  await showRetention(selected);
  say("Showing " + a.from + " to " + a.to + ".", "loaded");
}

$("sign-in-creator").addEventListener("click", async () => {
  await signIn("u-creator");
  location.reload();
});
$("range").addEventListener("submit", (event) => { event.preventDefault(); void load().catch(fail); });
$("retention-video").addEventListener("change", (event) => void showRetention(event.target.value).catch(fail));

try {
  if (!token() || !currentUser()) {
    await signIn("u-creator");
    const u = currentUser();
    if (who) who.textContent = "Signed in as " + u.name + " (" + u.role + ")";
  }
  await load();
} catch (error) {
  fail(error);
}
document.body.dataset.ready = "";
`;

export function studioPage(): string {
  return `${head("Studio · Reelkit", styles)}
<body>
${nav}
<main>
<h1>Studio</h1>
<p id="studio-status" role="status" aria-live="polite"></p>
<p><button type="button" id="sign-in-creator" hidden>Sign in as the demo creator</button></p>
<form id="range" class="range" aria-label="Date range (UTC)">
  <label>From <input type="date" id="from" name="from"></label>
  <label>To <input type="date" id="to" name="to"></label>
  <button type="submit">Show</button>
</form>
<section aria-labelledby="summary-h">
  <h2 id="summary-h">Summary</h2>
  <ul id="tiles" class="tiles"></ul>
</section>
<section aria-labelledby="views-h">
  <h2 id="views-h">Views over time</h2>
  <figure id="views-chart" class="chart"></figure>
</section>
<section aria-labelledby="followers-h">
  <h2 id="followers-h">Follower growth</h2>
  <figure id="followers-chart" class="chart"></figure>
</section>
<section aria-labelledby="retention-h">
  <h2 id="retention-h">Retention</h2>
  <p><label>Video <select id="retention-video"></select></label></p>
  <figure id="retention-chart" class="chart"></figure>
</section>
<section aria-labelledby="videos-h">
  <h2 id="videos-h">Your videos</h2>
  <div style="overflow-x: auto">
  <table id="videos">
    <thead><tr><th scope="col">Title</th><th scope="col">Status</th><th scope="col">Published</th><th scope="col">Views</th><th scope="col">Unique viewers</th><th scope="col">Watch time</th><th scope="col">Completion</th><th scope="col">Likes</th><th scope="col">Shares</th><th scope="col">Retention</th></tr></thead>
    <tbody></tbody>
  </table>
  </div>
</section>
</main>
<script type="module">
${signInScript}
${dashboardScript}
</script>
</body>
</html>
`;
}
