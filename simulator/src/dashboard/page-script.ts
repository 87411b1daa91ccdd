/**
 * The dashboard page's script (served as /dashboard.js): polls GET /api/state every second and renders it;
 * the inject form posts to /api/messages and shows the answer or the error code. Plain browser JavaScript,
 * no build step. Values from the simulation go into the page with textContent only.
 */

export const DASHBOARD_SCRIPT = String.raw`'use strict';
(function () {
  var POLL_MS = 1000;
  var lastMessageSeq = -1;
  var moduleIds = '';
  var twinViews = new Map();
  var lastStatus = null;

  function $(id) { return document.getElementById(id); }

  function el(tag, text, className) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (className) e.className = className;
    return e;
  }

  function cell(text, className) { return el('td', text, className); }

  function yesNo(b) { return cell(b ? 'yes' : 'no', b ? 'yes' : 'no'); }

  function fill(tableId, rows) {
    $(tableId).tBodies[0].replaceChildren.apply($(tableId).tBodies[0], rows);
  }

  function age(ms) {
    if (!ms) return '';
    if (ms < 1000) return ms + ' ms';
    if (ms < 120000) return (ms / 1000).toFixed(1) + ' s';
    return Math.round(ms / 60000) + ' min';
  }

  function renderModules(s) {
    fill('modules', s.modules.map(function (m) {
      var tr = el('tr');
      tr.dataset.module = m.id;
      tr.append(cell(m.id), cell(m.kind), cell(m.state, 'state state-' + m.state), yesNo(m.connected),
        cell(m.restarts, 'num restarts'), cell(m.exitCode === null ? '' : m.exitCode, 'num'), cell(m.error ? m.error.code : '', 'code'));
      return tr;
    }));
  }

  function renderRoutes(s) {
    fill('routes', s.routes.map(function (r) {
      var tr = el('tr');
      tr.dataset.route = r.name;
      tr.append(cell(r.name), cell(r.route, 'code'), cell(r.endpoint, 'code'), cell(r.priority, 'num'), cell(r.timeToLiveSecs, 'num'),
        cell(r.matched, 'num matched'), cell(r.perSecond.toFixed(1), 'num rate'));
      return tr;
    }));
  }

  function renderEndpoints(s) {
    fill('endpoints', s.endpoints.map(function (e) {
      var tr = el('tr');
      tr.dataset.endpoint = e.endpoint;
      tr.append(cell(e.endpoint, 'code'), cell(e.pending, 'num backlog'), cell(e.inFlight, 'num'), cell(e.delivered, 'num delivered'),
        cell(e.expired, 'num'), cell(age(e.oldestAgeMs), 'num'), yesNo(e.online));
      return tr;
    }));
  }

  function renderSummary(s) {
    $('sim-name').textContent = '"' + s.name + '"';
    $('summary').textContent = 'device ' + s.deviceId + ' · MQTT 127.0.0.1:' + s.mqttPort + ' · ' + s.accepted + ' messages accepted, ' +
      s.unrouted + ' unrouted, ' + s.upstreamReceived + ' received upstream';
  }

  function routedInputs(s, moduleId) {
    var prefix = '/modules/' + moduleId + '/inputs/';
    var inputs = [];
    s.routes.forEach(function (r) {
      if (r.endpoint.indexOf(prefix) === 0) {
        var input = r.endpoint.slice(prefix.length);
        if (inputs.indexOf(input) < 0) inputs.push(input);
      }
    });
    return inputs;
  }

  function renderInjectChoices(s) {
    var ids = s.modules.map(function (m) { return m.id; });
    if (ids.join('\n') !== moduleIds) {
      moduleIds = ids.join('\n');
      var select = $('inject-module');
      var chosen = select.value;
      select.replaceChildren.apply(select, ids.map(function (id) {
        var o = el('option', id);
        o.value = id;
        return o;
      }));
      if (ids.indexOf(chosen) >= 0) select.value = chosen;
    }
    var options = routedInputs(s, $('inject-module').value).map(function (input) {
      var o = el('option');
      o.value = input;
      return o;
    });
    $('inject-inputs').replaceChildren.apply($('inject-inputs'), options);
  }

  function pair(dl, name, value) {
    dl.append(el('dt', name), el('dd', value));
  }

  function renderMessages(messages) {
    var newest = messages.length ? messages[0].seq : 0;
    if (newest === lastMessageSeq) return;
    lastMessageSeq = newest;
    $('messages').replaceChildren.apply($('messages'), messages.map(function (m) {
      var li = el('li');
      li.value = m.seq;
      li.dataset.seq = m.seq;
      li.append(el('div', m.enqueuedAt + '  ' + m.source + ' → ' + m.endpoints.join(', ') + '  (' + m.bodyBytes + ' bytes)', 'meta'));
      var dl = el('dl');
      Object.keys(m.properties).forEach(function (k) { pair(dl, k, m.properties[k]); });
      Object.keys(m.systemProperties).forEach(function (k) { pair(dl, '$.' + k, m.systemProperties[k]); });
      li.append(dl);
      var body = (m.bodyEncoding === 'base64' ? 'base64: ' : '') + m.bodyPreview + (m.truncated ? ' …' : '');
      li.append(el('pre', body, 'body'));
      return li;
    }));
  }

  function renderTwins(twins) {
    var box = $('twins');
    Object.keys(twins).forEach(function (id) {
      var view = twinViews.get(id);
      if (!view) {
        var wrap = el('div', null, 'twin');
        wrap.dataset.module = id;
        var desired = el('pre', '', 'desired');
        var reported = el('pre', '', 'reported');
        wrap.append(el('h3', id), el('div', 'desired'), desired, el('div', 'reported'), reported);
        box.append(wrap);
        view = { wrap: wrap, desired: desired, reported: reported };
        twinViews.set(id, view);
      }
      var d = JSON.stringify(twins[id].desired, null, 2);
      var r = JSON.stringify(twins[id].reported, null, 2);
      if (view.desired.textContent !== d) view.desired.textContent = d;
      if (view.reported.textContent !== r) view.reported.textContent = r;
    });
    twinViews.forEach(function (view, id) {
      if (!(id in twins)) {
        view.wrap.remove();
        twinViews.delete(id);
      }
    });
  }

  function setConnection(ok, text) {
    var c = $('connection');
    c.className = ok ? 'ok' : 'error';
    c.textContent = text;
  }

  function poll() {
    fetch('/api/state', { cache: 'no-store' })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.json();
      })
      .then(function (state) {
        lastStatus = state.status;
        renderSummary(state.status);
        renderModules(state.status);
        renderRoutes(state.status);
        renderEndpoints(state.status);
        renderInjectChoices(state.status);
        renderMessages(state.messages);
        renderTwins(state.twins);
        setConnection(true, 'live · updated ' + new Date().toLocaleTimeString());
      })
      .catch(function (e) {
        setConnection(false, 'cannot reach the simulator (' + e.message + '); retrying');
      })
      .finally(function () { setTimeout(poll, POLL_MS); });
  }

  function showResult(ok, text) {
    var r = $('inject-result');
    r.className = ok ? 'ok' : 'error';
    r.textContent = text;
  }

  function inject(event) {
    event.preventDefault();
    var request = { moduleId: $('inject-module').value, inputName: $('inject-input').value.trim(), data: $('inject-body').value };
    var propertiesText = $('inject-properties').value.trim();
    if (propertiesText !== '') {
      try {
        request.properties = JSON.parse(propertiesText);
      } catch (e) {
        showResult(false, 'Properties: not JSON (' + e.message + ')');
        return;
      }
    }
    $('inject-send').disabled = true;
    fetch('/api/messages', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) })
      .then(function (res) {
        return res.json().then(function (body) { return { ok: res.ok, status: res.status, body: body }; });
      })
      .then(function (a) {
        if (a.ok) showResult(true, 'Queued ' + a.body.messageId + ' for ' + a.body.moduleId + '/' + a.body.inputName);
        else showResult(false, (a.body.code || ('HTTP ' + a.status)) + ': ' + a.body.message);
      })
      .catch(function (e) { showResult(false, 'Cannot reach the simulator: ' + e.message); })
      .finally(function () { $('inject-send').disabled = false; });
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('inject').addEventListener('submit', inject);
    $('inject-module').addEventListener('change', function () { if (lastStatus) renderInjectChoices(lastStatus); });
    poll();
  });
})();
`;
