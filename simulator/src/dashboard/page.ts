/**
 * The dashboard page (issue 3 §6): plain HTML and CSS, no framework, no build step. Kept as strings so
 * `dist/` carries them (tsc copies no other files). The script is dashboard.js (page-script.ts); every value
 * from the simulation is put in the page as text (textContent), never parsed as HTML.
 */

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ferry simulator</title>
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>Ferry simulator <span id="sim-name"></span></h1>
  <p id="summary"></p>
  <p id="connection" class="pending">connecting…</p>
</header>
<main>
<section id="modules-section">
  <h2>Modules</h2>
  <table id="modules">
    <thead><tr><th>Module</th><th>Kind</th><th>State</th><th>Connected</th><th>Restarts</th><th>Exit code</th><th>Error</th></tr></thead>
    <tbody></tbody>
  </table>
</section>
<section id="routes-section">
  <h2>Routes</h2>
  <table id="routes">
    <thead><tr><th>Name</th><th>Route</th><th>Endpoint</th><th>Priority</th><th>TTL (s)</th><th>Messages</th><th>Per second (10 s)</th></tr></thead>
    <tbody></tbody>
  </table>
</section>
<section id="endpoints-section">
  <h2>Store-and-forward</h2>
  <table id="endpoints">
    <thead><tr><th>Endpoint</th><th>Backlog</th><th>In flight</th><th>Delivered</th><th>Expired</th><th>Oldest waiting</th><th>Online</th></tr></thead>
    <tbody></tbody>
  </table>
</section>
<section id="inject-section">
  <h2>Inject a message into an input</h2>
  <form id="inject" autocomplete="off">
    <label>Module <select id="inject-module" name="moduleId" required></select></label>
    <label>Input <input id="inject-input" name="inputName" list="inject-inputs" required placeholder="input1"></label>
    <datalist id="inject-inputs"></datalist>
    <label class="wide">Properties (JSON object) <textarea id="inject-properties" name="properties" rows="2" placeholder='{"kind": "test"}'></textarea></label>
    <label class="wide">Body <textarea id="inject-body" name="data" rows="3" required placeholder="hello world"></textarea></label>
    <button type="submit" id="inject-send">Send</button>
    <p id="inject-result" role="status"></p>
  </form>
</section>
<section id="messages-section">
  <h2>Latest messages</h2>
  <ol id="messages" reversed></ol>
</section>
<section id="twins-section">
  <h2>Module twins</h2>
  <div id="twins"></div>
</section>
</main>
</body>
</html>
`;

export const DASHBOARD_CSS = `
:root { font-family: system-ui, sans-serif; font-size: 14px; color: #1d2330; background: #f6f7f9; }
body { margin: 0; }
header { background: #1d2330; color: #fff; padding: 0.6rem 1.2rem; }
header h1 { font-size: 1.2rem; margin: 0; }
header p { margin: 0.2rem 0 0; }
#connection.ok { color: #8fd19e; }
#connection.error, #connection.pending { color: #ffb3b3; }
main { padding: 0.5rem 1.2rem 2rem; display: grid; gap: 1rem; }
section { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: 0.6rem 0.9rem; overflow-x: auto; }
h2 { font-size: 1rem; margin: 0 0 0.5rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.25rem 0.5rem; border-bottom: 1px solid #eef0f3; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.code, .mono, pre { font-family: ui-monospace, monospace; font-size: 12px; }
.state-running, .yes { color: #137333; }
.state-failed, .state-backoff, .no { color: #b3261e; }
form { display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); gap: 0.5rem; align-items: end; }
form label { display: grid; gap: 0.2rem; }
form label.wide { grid-column: 1 / -1; }
textarea, input, select { font: inherit; padding: 0.25rem; }
#inject-result { grid-column: 1 / -1; margin: 0; min-height: 1.2em; }
#inject-result.ok { color: #137333; }
#inject-result.error { color: #b3261e; }
#messages { margin: 0; padding-left: 2.5rem; }
#messages li { border-bottom: 1px solid #eef0f3; padding: 0.3rem 0; }
#messages .meta { color: #5f6b7a; }
#messages dl { display: grid; grid-template-columns: max-content 1fr; gap: 0 0.8rem; margin: 0.2rem 0; }
#messages dt { color: #5f6b7a; }
#messages dd { margin: 0; font-family: ui-monospace, monospace; font-size: 12px; overflow-wrap: anywhere; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f7f9; padding: 0.3rem; margin: 0.2rem 0; max-height: 12rem; overflow: auto; }
#twins { display: grid; grid-template-columns: repeat(auto-fill, minmax(20rem, 1fr)); gap: 0.6rem; }
#twins h3 { font-size: 0.95rem; margin: 0.2rem 0; }
`;
