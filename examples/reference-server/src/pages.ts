import type { Health } from "./health.js";

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

/** The start page for now: which packages this server runs, at which versions. */
export function healthPage(report: Health): string {
  const rows = report.packages
    .map(
      (p) =>
        `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${escapeHtml(p.version)}</td><td>${escapeHtml(p.description)}</td></tr>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Reelkit reference server</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #1b1b1f; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }
  .ok { color: #137333; font-weight: 600; }
</style>
</head>
<body>
<h1>Reelkit reference server</h1>
<p>Status: <span class="ok" id="status">${escapeHtml(report.status)}</span> · mode: ${escapeHtml(report.mode)} · Node ${escapeHtml(report.node)} · up ${report.uptimeSeconds} s · <a href="/healthz">/healthz</a></p>
<table id="packages">
<thead><tr><th>package</th><th>version</th><th>what it does</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</body>
</html>
`;
}
