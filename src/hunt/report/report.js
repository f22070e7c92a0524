
"use strict";
// The cadet hunt report. Everything is drawn from the JSON in #data with textContent and
// DOM calls only (never innerHTML with data). Only the visible page of rows is in the DOM.
(function () {
  var t0 = Date.now();
  var body = document.body;
  window.addEventListener("error", function (e) { body.setAttribute("data-error", String(e.message)); });

  var SEV = ["info", "low", "medium", "high", "critical"];
  var COLOR = ["#8d99ae", "#2a9d8f", "#e09400", "#e4572e", "#b3001b"];
  var PAGE = { incidents: 20, findings: 40, members: 10, table: 10 };
  var MIN = 60e3, HOUR = 3600e3, DAY = 24 * HOUR;
  var STEPS = [MIN, 5 * MIN, 15 * MIN, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 7 * DAY, 30 * DAY];
  var STEP_NAMES = ["minute", "5 minutes", "15 minutes", "hour", "3 hours", "6 hours", "12 hours", "day", "week", "30 days"];

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (attrs[k] === null || attrs[k] === undefined) continue;
      if (k === "text") e.textContent = String(attrs[k]);
      else if (k === "cls") e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    add(e, kids);
    return e;
  }
  function add(e, kids) {
    (kids || []).forEach(function (c) {
      if (c !== null && c !== undefined && c !== false) e.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
    });
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }
  function num(n) { return Number(n || 0).toLocaleString("en-US"); }
  function bytes(n) {
    var u = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    n = Number(n || 0);
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + " " + u[i];
  }
  function iso(ms) { return new Date(ms).toISOString(); }
  function fmtTime(ms) { return iso(ms).slice(0, 19).replace("T", " ") + " UTC"; }
  function fmtRange(a, b) {
    var x = iso(a), y = iso(b);
    if (x.slice(0, 16) === y.slice(0, 16)) return x.slice(0, 16).replace("T", " ") + " UTC";
    var end = x.slice(0, 10) === y.slice(0, 10) ? y.slice(11, 16) : y.slice(5, 16).replace("T", " ");
    return x.slice(0, 16).replace("T", " ") + " – " + end + " UTC";
  }
  function fmtDur(ms) {
    if (ms < MIN) return Math.round(ms / 1000) + " s";
    if (ms < HOUR) return Math.round(ms / MIN) + " min";
    if (ms < DAY) return Math.floor(ms / HOUR) + " h " + Math.round((ms % HOUR) / MIN) + " min";
    return Math.floor(ms / DAY) + " d " + Math.round((ms % DAY) / HOUR) + " h";
  }
  function plural(n, one, many) { return num(n) + " " + (n === 1 ? one : (many || one + "s")); }
  function sevBadge(sev, mini) { return el("span", { cls: "sev s" + sev + (mini ? " mini" : ""), text: SEV[sev] }); }

  try {
    var D = JSON.parse($("data").textContent);
    var S = D.strings, R = D.rows, ID = D.identities, SU = D.summary;
    var s = function (i) { return i === null || i === undefined ? "" : S[i]; };
    var regionOf = function (r) { return r.region === undefined ? -1 : r.region; };
    // On-host events often carry no account ("unknown"): not an account a principal works in.
    var realAcct = function (r) { return S[r.acct] !== "unknown"; };

    // Totals that do not depend on the filters.
    var incTotal = [], minMs = Infinity, maxMs = -Infinity, sevTotal = [0, 0, 0, 0, 0];
    R.forEach(function (r) {
      incTotal[r.inc] = (incTotal[r.inc] || 0) + 1;
      if (r.ms < minMs) minMs = r.ms;
      if (r.ms > maxMs) maxMs = r.ms;
      sevTotal[r.sev]++;
    });

    var st = { view: "incidents", sort: "score", q: "", sev: [true, true, true, true, true], range: null, who: null, acct: null, region: null, page: 0, open: {}, all: {} };
    var cur = { all: [], shown: [] };
    var searchText = null;

    // ---- Header, stats, coverage (static) ----
    function header() {
      var w = D.window, meta = $("meta");
      add(meta, [
        "sources ", el("b", { text: D.sources.join(", ") }),
        " · window ", el("b", { text: (w.since || "start") + " → " + (w.until || "end") }),
        w.accounts.length ? " · accounts " + w.accounts.join(", ") : "",
        w.regions.length ? " · regions " + w.regions.join(", ") : "",
        " · generated " + D.generated + " by cadet " + D.version,
        SU.interrupted ? el("span", { cls: "warn", text: " · INTERRUPTED: only part of the archive was read" }) : null
      ]);
      var stats = $("stats");
      var items = [
        [num(R.length), R.length === 1 ? "finding" : "findings"],
        [num(D.incidents), D.incidents === 1 ? "incident" : "incidents"]
      ];
      for (var k = 4; k >= 2; k--) items.push([num(sevTotal[k]), SEV[k]]);
      items.push([R.length ? fmtRange(minMs, maxMs) : "–", "events"]);
      items.push([bytes(SU.bytes), "read"]);
      items.push([bytes(SU.raw_bytes), "decompressed"]);
      items.forEach(function (it) {
        stats.appendChild(el("span", { cls: "stat" }, [el("span", { cls: "n", text: it[0] }), el("span", { cls: "l", text: it[1] })]));
      });
      var rows = [
        ["files read", num(SU.files) + " of " + num(SU.files_listed) + " listed" + (SU.partial ? ", " + num(SU.partial) + " partly" : "")],
        ["bytes read", bytes(SU.bytes) + " as stored (gzip objects: compressed)"],
        ["text split", bytes(SU.raw_bytes) + " after gunzip"],
        ["records", num(SU.records)],
        ["events scored", num(SU.events_scored) + " T1651 and context events"],
        ["verdicts", num(SU.verdicts) + sevList(SU.by_severity)],
        ["findings", num(R.length) + " (" + plural(SU.emissions, "emission") + ", revisions included; " + (SU.all ? "every verdict, --all" : SU.alert_severity + " and above") + ")"],
        ["duplicates", num(SU.duplicates) + " suppressed"],
        ["outside filters", num(SU.outside) + " events outside the window/accounts/regions"],
        ["pruned", plural(SU.pruned_prefixes, "prefix", "prefixes") + " never listed"],
        ["rejected", plural(SU.rejected, "record") + (SU.validated ? " (every record validated, --validate)" : " (names first: records naming no known operation were skipped unchecked)")],
        ["unreadable", plural(SU.unreadable, "object")],
        ["scan time", SU.seconds.toFixed(2) + " s"],
        ["event span", SU.first ? SU.first + " → " + SU.last : "no events"]
      ];
      var t = el("table", {}, []);
      rows.forEach(function (r) { t.appendChild(el("tr", {}, [el("th", { text: r[0] }), el("td", { text: r[1] })])); });
      $("coverage").appendChild(t);
    }
    function sevList(by) {
      var parts = [];
      for (var k = 4; k >= 0; k--) if (by[SEV[k]]) parts.push(num(by[SEV[k]]) + " " + SEV[k]);
      return parts.length ? " (" + parts.join(", ") + ")" : "";
    }

    // ---- Filtering ----
    function buildSearch() {
      searchText = R.map(function (r) {
        var p = [r.id, r.ev, r.cmd, r.corr, ID[r.who].label, ID[r.who].kind, SEV[r.sev], fmtTime(r.ms)];
        [r.op, r.cloud, r.acct, r.region, r.pid, r.pkind, r.sess, r.key, r.ip, r.ua, r.app, r.tgt, r.fail, r.sum, r.doc, r.text].forEach(function (i) { p.push(s(i)); });
        r.sig.forEach(function (g) { p.push(s(g[0]), s(g[2])); });
        (r.rel || []).forEach(function (x) { p.push(x.ev, s(x.op), s(x.who), s(x.ip), s(x.line)); });
        if (r.host) p.push(s(r.host[0]), s(r.host[1]));
        if (r.proc) [r.proc.name, r.proc.line, r.proc.parent, r.proc.pline, r.proc.user, r.proc.path].forEach(function (i) { p.push(s(i)); });
        return p.join("\n").toLowerCase();
      });
    }
    function matches(i) {
      var r = R[i];
      if (!st.sev[r.sev]) return false;
      if (st.who !== null && r.who !== st.who) return false;
      if (st.acct !== null && r.acct !== st.acct) return false;
      if (st.region !== null && regionOf(r) !== st.region) return false;
      if (st.q && searchText[i].indexOf(st.q) < 0) return false;
      return true;
    }
    function refilter() {
      if (st.q && !searchText) buildSearch();
      var all = [], shown = [];
      for (var i = 0; i < R.length; i++) {
        if (!matches(i)) continue;
        all.push(i);
        if (!st.range || (R[i].ms >= st.range[0] && R[i].ms < st.range[1])) shown.push(i);
      }
      cur = { all: all, shown: shown };
    }
    function update() {
      refilter();
      drawTimeline();
      drawTables();
      drawList();
    }

    // ---- Timeline: counts per bucket by severity, stacked; drag to zoom ----
    function domain() {
      if (st.range) return st.range;
      if (!R.length) return null;
      return [minMs, maxMs + 1];
    }
    function drawTimeline() {
      var box = clear($("timeline"));
      var dom = domain();
      $("reset").disabled = !st.range;
      if (!dom) {
        box.appendChild(el("p", { cls: "empty", text: "No findings: nothing to draw." }));
        $("bucket").textContent = "";
        return;
      }
      var W = Math.max(320, Math.round(box.clientWidth || 900)), H = 150, L = 36, Rm = 8, T = 8, B = 20;
      var span = Math.max(dom[1] - dom[0], MIN), maxBars = Math.max(20, Math.floor((W - L - Rm) / 4));
      var k = 0;
      while (k < STEPS.length - 1 && span / STEPS[k] > maxBars) k++;
      var step = STEPS[k];
      var b0 = Math.floor(dom[0] / step) * step, b1 = Math.max(b0 + step, Math.ceil(dom[1] / step) * step);
      var nb = Math.round((b1 - b0) / step);
      var counts = [];
      for (var j = 0; j < nb; j++) counts.push([0, 0, 0, 0, 0]);
      cur.all.forEach(function (i) {
        var r = R[i];
        if (r.ms < b0 || r.ms >= b1) return;
        counts[Math.floor((r.ms - b0) / step)][r.sev]++;
      });
      var max = 1;
      counts.forEach(function (c) { var t = c[0] + c[1] + c[2] + c[3] + c[4]; if (t > max) max = t; });
      var pw = W - L - Rm, ph = H - T - B, bw = pw / nb;
      var g = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "findings per " + STEP_NAMES[k] + " by severity" });
      [0, 0.5, 1].forEach(function (f) {
        var y = T + ph - ph * f;
        g.appendChild(svg("line", { x1: L, x2: W - Rm, y1: y, y2: y, "class": f ? "grid" : "axis" }));
        var lab = svg("text", { x: L - 4, y: y + 3, "text-anchor": "end" });
        lab.textContent = f ? num(Math.round(max * f)) : "0";
        g.appendChild(lab);
      });
      var drawn = 0;
      counts.forEach(function (c, j) {
        var total = c[0] + c[1] + c[2] + c[3] + c[4];
        if (!total) return;
        var x = L + j * bw, w = Math.max(1, bw > 3 ? bw - 1 : bw), y = T + ph;
        var bar = svg("g", { "class": "bar", "data-n": total });
        for (var v = 4; v >= 0; v--) {
          if (!c[v]) continue;
          var h = ph * c[v] / max;
          y -= h;
          bar.appendChild(svg("rect", { x: x.toFixed(2), y: y.toFixed(2), width: w.toFixed(2), height: Math.max(h, 0.5).toFixed(2), fill: COLOR[v] }));
        }
        var title = svg("title", {});
        var parts = [];
        for (var v2 = 4; v2 >= 0; v2--) if (c[v2]) parts.push(num(c[v2]) + " " + SEV[v2]);
        title.textContent = fmtRange(b0 + j * step, b0 + (j + 1) * step) + ": " + plural(total, "finding") + " (" + parts.join(", ") + ")";
        bar.appendChild(title);
        g.appendChild(bar);
        drawn++;
      });
      // Time labels at bucket edges, about every 110 px.
      var every = Math.max(1, Math.ceil(110 / bw));
      for (var e = 0; e <= nb; e += every) {
        var tx = L + e * bw;
        if (tx > W - Rm - 40 && e !== 0) break;
        g.appendChild(svg("line", { x1: tx, x2: tx, y1: T + ph, y2: T + ph + 3, "class": "axis" }));
        var tl = svg("text", { x: tx, y: H - 5, "text-anchor": e === 0 ? "start" : "middle" });
        var when = iso(b0 + e * step);
        tl.textContent = step >= DAY ? when.slice(0, 10) : (span > 2 * DAY ? when.slice(5, 16).replace("T", " ") : when.slice(11, 16));
        g.appendChild(tl);
      }
      var brush = svg("rect", { x: 0, y: T, width: 0, height: ph, "class": "brush", visibility: "hidden" });
      var hit = svg("rect", { x: L, y: T, width: pw, height: ph, "class": "hit" });
      g.appendChild(brush);
      g.appendChild(hit);
      var from = null;
      function at(ev) {
        var rc = g.getBoundingClientRect();
        return Math.min(W - Rm, Math.max(L, (ev.clientX - rc.left) * W / rc.width));
      }
      hit.addEventListener("pointerdown", function (ev) {
        from = at(ev);
        try { hit.setPointerCapture(ev.pointerId); } catch (e) { /* a synthetic pointer */ }
        brush.setAttribute("visibility", "visible");
        brush.setAttribute("x", from); brush.setAttribute("width", 0);
      });
      hit.addEventListener("pointermove", function (ev) {
        if (from === null) return;
        var x = at(ev);
        brush.setAttribute("x", Math.min(x, from)); brush.setAttribute("width", Math.abs(x - from));
      });
      hit.addEventListener("pointerup", function (ev) {
        if (from === null) return;
        var x = at(ev), a = Math.min(x, from), b = Math.max(x, from);
        from = null;
        var ja = Math.floor((a - L) / bw), jb = Math.ceil((b - L) / bw);
        if (b - a < 3) { ja = Math.min(nb - 1, Math.floor((x - L) / bw)); jb = ja + 1; }
        zoom([b0 + Math.max(0, ja) * step, b0 + Math.min(nb, Math.max(jb, ja + 1)) * step]);
      });
      box.appendChild(g);
      box.setAttribute("data-bars", drawn);
      $("bucket").textContent = "Findings per " + STEP_NAMES[k] + " (UTC), stacked by severity" + (st.range ? "; zoomed to " + fmtRange(st.range[0], st.range[1]) + "." : ". Drag across the chart to zoom in and filter the lists; click a bar for its " + STEP_NAMES[k] + ".");
    }
    function zoom(range) {
      st.range = range;
      st.page = 0;
      update();
    }

    // ---- Severity toggles (the timeline's legend) ----
    function drawSevs() {
      var box = clear($("sevs"));
      for (var v = 4; v >= 0; v--) (function (v) {
        var chip = el("span", { cls: "chip" + (st.sev[v] ? "" : " off"), role: "checkbox", tabindex: "0", "aria-checked": String(st.sev[v]), title: "show or hide " + SEV[v] }, []);
        var sw = svg("svg", { width: 9, height: 9, "class": "sw" });
        sw.appendChild(svg("rect", { width: 9, height: 9, rx: 2, fill: COLOR[v] }));
        add(chip, [sw, SEV[v] + " " + num(sevTotal[v])]);
        function flip() { st.sev[v] = !st.sev[v]; st.page = 0; drawSevs(); update(); }
        chip.addEventListener("click", flip);
        chip.addEventListener("keydown", function (e) { if (e.key === " " || e.key === "Enter") { e.preventDefault(); flip(); } });
        box.appendChild(chip);
      })(v);
    }

    // ---- Tables: top 10 with "show all" ----
    function tally(key, extra) {
      var by = {}, list = [];
      cur.shown.forEach(function (i) {
        var r = R[i], k = key(r), t = by[k];
        if (!t) { t = by[k] = { key: k, r: r, n: 0, max: -1, sev: 0, sevs: [0, 0, 0, 0, 0], inc: {}, ninc: 0, acct: {}, nacct: 0 }; list.push(t); }
        t.n++; t.sevs[r.sev]++;
        if (r.score > t.max) { t.max = r.score; t.sev = r.sev; }
        if (!t.inc[r.inc]) { t.inc[r.inc] = 1; t.ninc++; }
        if (!t.acct[r.acct] && realAcct(r)) { t.acct[r.acct] = 1; t.nacct++; }
      });
      return list.sort(function (a, b) { return b.max - a.max || b.n - a.n; });
    }
    function sevBar(sevs, n) {
      var g = svg("svg", { width: 80, height: 8, "class": "sevbar-svg", "aria-hidden": "true" }), x = 0;
      for (var v = 4; v >= 0; v--) {
        if (!sevs[v]) continue;
        var w = 80 * sevs[v] / n;
        g.appendChild(svg("rect", { x: x.toFixed(2), y: 0, width: Math.max(w, 1).toFixed(2), height: 8, fill: COLOR[v] }));
        x += w;
      }
      return g;
    }
    function capped(box, name, list, heads, cells, pick) {
      clear(box);
      if (!list.length) { box.appendChild(el("p", { cls: "empty", text: "No findings." })); return; }
      var t = el("table", {}, [el("tr", {}, heads.map(function (h) { return el("th", { cls: h[1] || null, text: h[0] }); }))]);
      var limit = st.all[name] ? list.length : PAGE.table;
      list.slice(0, limit).forEach(function (x) {
        var tr = el("tr", { cls: "pick", title: "show only these findings" }, cells(x));
        tr.addEventListener("click", function () { pick(x); });
        t.appendChild(tr);
      });
      box.appendChild(t);
      if (list.length > PAGE.table) {
        var b = el("button", { cls: "link more", type: "button", text: st.all[name] ? "show the top " + PAGE.table : "show all " + num(list.length) });
        b.addEventListener("click", function () { st.all[name] = !st.all[name]; drawTables(); });
        box.appendChild(b);
      }
    }
    function drawTables() {
      capped($("principals"), "principals", tally(function (r) { return r.who; }),
        [["principal"], ["incidents", "num"], ["findings", "num"], ["max"]],
        function (x) {
          return [el("td", { cls: "trunc", title: ID[x.key].label + " (" + ID[x.key].kind + ")" }, [el("b", { text: ID[x.key].label }), el("div", { cls: "muted small", text: ID[x.key].kind + " · " + plural(x.nacct, "account") })]),
            el("td", { cls: "num", text: num(x.ninc) }), el("td", { cls: "num", text: num(x.n) }), el("td", {}, [sevBadge(x.sev, true)])];
        }, function (x) { st.who = x.key; zoomless(); });
      capped($("accounts"), "accounts", tally(function (r) { return r.acct; }),
        [["cloud"], ["account / subscription"], ["findings", "num"], ["by severity"]],
        function (x) {
          return [el("td", { text: s(x.r.cloud) }), el("td", { cls: "mono trunc", text: s(x.key), title: s(x.key) }), el("td", { cls: "num", text: num(x.n) }), el("td", {}, [sevBar(x.sevs, x.n)])];
        }, function (x) { st.acct = x.key; zoomless(); });
      capped($("regions"), "regions", tally(regionOf),
        [["region / location"], ["findings", "num"], ["by severity"]],
        function (x) {
          return [el("td", { cls: "mono", text: x.key === -1 ? "–" : s(x.key) }), el("td", { cls: "num", text: num(x.n) }), el("td", {}, [sevBar(x.sevs, x.n)])];
        }, function (x) { st.region = x.key; zoomless(); });
    }
    function zoomless() { st.page = 0; update(); }

    // ---- Lists ----
    function byScore(a, b) { return R[b].score - R[a].score || R[b].ms - R[a].ms; }
    function byNew(a, b) { return R[b].ms - R[a].ms; }
    function byOld(a, b) { return R[a].ms - R[b].ms; }
    function rowOrder() { return st.sort === "score" ? byScore : (st.sort === "new" ? byNew : byOld); }
    function incidentsOf(idx) {
      var by = {}, list = [];
      idx.forEach(function (i) {
        var r = R[i], g = by[r.inc];
        if (!g) { g = by[r.inc] = { inc: r.inc, who: r.who, rows: [], max: -1, sev: 0, first: r.ms, last: r.ms, acct: {}, accts: [] }; list.push(g); }
        g.rows.push(i);
        if (r.score > g.max) { g.max = r.score; g.sev = r.sev; }
        if (r.ms < g.first) g.first = r.ms;
        if (r.ms > g.last) g.last = r.ms;
        if (!g.acct[r.acct] && realAcct(r)) { g.acct[r.acct] = 1; g.accts.push(r.acct); }
      });
      var order = st.sort === "score" ? function (a, b) { return b.max - a.max || b.rows.length - a.rows.length || b.last - a.last; }
        : st.sort === "new" ? function (a, b) { return b.last - a.last; } : function (a, b) { return a.first - b.first; };
      return list.sort(order);
    }
    function drawList() {
      var list = clear($("list")), idx = cur.shown, drawn = 0;
      var incs = st.view === "incidents" ? incidentsOf(idx) : null;
      var total = incs ? incs.length : idx.length, size = incs ? PAGE.incidents : PAGE.findings;
      var pages = Math.max(1, Math.ceil(total / size));
      if (st.page >= pages) st.page = pages - 1;
      drawStatus(idx.length, incs ? incs.length : incidentsOf(idx).length);
      if (!R.length) { list.appendChild(explainEmpty()); drawPager(0, size); body.setAttribute("data-drawn", "0"); return; }
      if (!total) {
        var clr = el("button", { type: "button", text: "clear the filters" });
        clr.addEventListener("click", resetAll);
        list.appendChild(el("p", { cls: "empty" }, ["No finding matches the filters. ", clr]));
      }
      if (incs) {
        incs.slice(st.page * size, (st.page + 1) * size).forEach(function (g) { list.appendChild(incidentNode(g)); drawn++; });
      } else {
        var sorted = idx.slice().sort(rowOrder());
        sorted.slice(st.page * size, (st.page + 1) * size).forEach(function (i) { list.appendChild(findingRow(i)); drawn++; });
      }
      drawPager(total, size);
      body.setAttribute("data-drawn", String(list.querySelectorAll(".inc, details.finding").length));
    }
    function drawStatus(nf, ni) {
      $("status").textContent = (nf === R.length ? "" : num(nf) + " of ") + plural(R.length, "finding") + " · " + plural(ni, "incident") +
        " (one principal, findings less than " + D.incident_gap_hours + " h apart)";
      var f = clear($("facets"));
      function facet(label, off) {
        var x = el("button", { type: "button", title: "remove this filter", "aria-label": "remove " + label, text: "×" });
        x.addEventListener("click", function () { off(); zoomless(); });
        f.appendChild(el("span", { cls: "chip facet" }, [label, x]));
      }
      if (st.range) facet("time: " + fmtRange(st.range[0], st.range[1]), function () { st.range = null; });
      if (st.who !== null) facet("principal: " + ID[st.who].label, function () { st.who = null; });
      if (st.acct !== null) facet("account: " + s(st.acct), function () { st.acct = null; });
      if (st.region !== null) facet("region: " + (st.region === -1 ? "–" : s(st.region)), function () { st.region = null; });
    }
    function drawPager(total, size) {
      var p = clear($("pager"));
      if (total <= size) return;
      var pages = Math.ceil(total / size);
      function go(n) {
        return function () {
          st.page = n; drawList();
          var top = $("list-section").getBoundingClientRect().top;
          if (top < 0) $("list-section").scrollIntoView();
        };
      }
      var first = el("button", { type: "button", text: "« first" }), prev = el("button", { type: "button", text: "‹ previous" });
      var next = el("button", { type: "button", text: "next ›" }), last = el("button", { type: "button", text: "last »" });
      first.disabled = prev.disabled = st.page === 0;
      next.disabled = last.disabled = st.page >= pages - 1;
      first.addEventListener("click", go(0)); prev.addEventListener("click", go(st.page - 1));
      next.addEventListener("click", go(st.page + 1)); last.addEventListener("click", go(pages - 1));
      add(p, [first, prev, el("span", { text: num(st.page * size + 1) + "–" + num(Math.min(total, (st.page + 1) * size)) + " of " + num(total) + " (page " + num(st.page + 1) + " of " + num(pages) + ")" }), next, last]);
    }

    function spark(g) {
      var W = 100, H = 20, n = 25, bins = [], sevs = [], span = g.last - g.first;
      for (var k = 0; k < n; k++) { bins.push(0); sevs.push(0); }
      g.rows.forEach(function (i) {
        var r = R[i], k = span ? Math.min(n - 1, Math.floor((r.ms - g.first) / span * n)) : Math.floor(n / 2);
        bins[k]++;
        if (r.sev > sevs[k]) sevs[k] = r.sev;
      });
      var max = Math.max.apply(null, bins);
      var e = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, "class": "spark", "aria-hidden": "true" });
      e.appendChild(svg("line", { x1: 0, x2: W, y1: H - 0.5, y2: H - 0.5, stroke: "#d6dbe1" }));
      bins.forEach(function (c, k) {
        if (!c) return;
        var h = Math.max(2, (H - 2) * c / max);
        e.appendChild(svg("rect", { x: k * 4, y: (H - 1 - h).toFixed(2), width: 3, height: h.toFixed(2), fill: COLOR[sevs[k]] }));
      });
      return e;
    }
    function incidentNode(g) {
      var open = st.open[g.inc], who = ID[g.who], n = g.rows.length, total = incTotal[g.inc];
      var acct = g.accts.length === 1 ? s(g.accts[0]) : (g.accts.length ? plural(g.accts.length, "account") : "on-host");
      var head = el("button", { cls: "inc-head", type: "button", "aria-expanded": open ? "true" : "false", title: "show the findings of this incident" }, [
        sevBadge(g.sev), el("span", { cls: "score", text: g.max }),
        el("span", { cls: "who" }, [el("b", { text: who.label }), " ", el("span", { cls: "k", text: who.kind + " · " + acct })]),
        el("span", { cls: "when" }, [fmtRange(g.first, g.last), " ", el("span", { cls: "k", text: g.last > g.first ? fmtDur(g.last - g.first) : "" })]),
        el("span", { cls: "count", text: num(n) + (n === total ? "" : "/" + num(total)) + (total === 1 ? " finding" : " findings") }),
        spark(g)
      ]);
      var node = el("div", { cls: "inc", "data-inc": g.inc }, [head]);
      head.addEventListener("click", function () {
        if (st.open[g.inc]) delete st.open[g.inc]; else st.open[g.inc] = PAGE.members;
        node.parentNode.replaceChild(incidentNode(g), node);
        body.setAttribute("data-drawn", String($("list").querySelectorAll(".inc, details.finding").length));
      });
      if (open) {
        var members = g.rows.slice().sort(rowOrder()), inner = el("div", { cls: "inc-body" }, []);
        members.slice(0, open).forEach(function (i) { inner.appendChild(findingRow(i)); });
        if (members.length > open) {
          var more = el("button", { cls: "link more", type: "button", text: "show " + Math.min(PAGE.members, members.length - open) + " more (" + num(members.length - open) + " left)" });
          more.addEventListener("click", function () {
            st.open[g.inc] = open + PAGE.members;
            node.parentNode.replaceChild(incidentNode(g), node);
          });
          inner.appendChild(more);
        }
        node.appendChild(inner);
      }
      return node;
    }

    function findingRow(i) {
      var r = R[i];
      var where = s(r.tgt) + " · " + s(r.acct) + (r.region === undefined ? "" : " " + s(r.region));
      var d = el("details", { cls: "finding", "data-row": i }, [
        el("summary", {}, [
          sevBadge(r.sev), el("span", { cls: "score", text: r.score }), el("span", { cls: "mono", text: fmtTime(r.ms) }),
          el("span", { text: s(r.op) + (r.fail === undefined ? "" : " (failed)"), title: s(r.op) }),
          el("span", { text: ID[r.who].label, title: ID[r.who].label + " (" + ID[r.who].kind + ")" }),
          el("span", { cls: "muted hide-narrow", text: where, title: where }),
          r.earlier ? el("span", { cls: "rev", text: "rev " + r.rev, title: "re-emitted after a join: " + plural(r.earlier.length, "earlier revision") + " inside" }) : el("span", {})
        ])
      ]);
      function fill() { if (!d.filled) { d.filled = true; d.appendChild(evidence(r)); } }
      // Filled on the click itself (before the element opens), and on any other way of opening.
      d.firstChild.addEventListener("click", fill);
      d.addEventListener("toggle", function () { if (d.open) fill(); });
      return d;
    }

    function kv(pairs) {
      var box = el("div", { cls: "kv" }, []);
      pairs.forEach(function (p) {
        if (p[1] === null || p[1] === undefined || p[1] === "") return;
        box.appendChild(el("span", { cls: "k", text: p[0] }));
        box.appendChild(el("span", { cls: "v" + (p[2] ? " mono" : ""), text: p[1] }));
      });
      return box;
    }
    function evidence(r) {
      var box = el("div", { cls: "evidence" }, [el("p", { text: s(r.sum) })]);
      var rel = r.rel || [], lines = rel.filter(function (x) { return x.line !== undefined; });
      var calls = rel.filter(function (x) { return x.line === undefined; });
      // The command: the event's own text, or the on-host command lines the join brought
      // (then shown once, each line with the process event it comes from).
      var joinedText = r.text !== undefined && !r.proc && lines.length > 0 && s(r.text) === lines.map(function (x) { return s(x.line); }).join("\n");
      if (joinedText) {
        box.appendChild(el("h3", { text: "Command text: the " + plural(lines.length, "joined on-host process", "joined on-host processes") }));
        lines.forEach(function (x) {
          box.appendChild(el("div", { cls: "muted mono small", text: s(x.op) + (x.who !== undefined ? " · " + s(x.who) : "") + " · event " + x.ev }));
          box.appendChild(el("pre", { cls: "code joined cmd", text: s(x.line) }));
        });
      } else {
        box.appendChild(el("h3", { text: r.proc ? "Command line" : "Command text" }));
        if (r.text !== undefined) box.appendChild(el("pre", { cls: "code cmd", text: s(r.text) }));
        else box.appendChild(el("p", { cls: "muted", text: "The event carries no command text" + (s(r.op) === "ssm:SendCommand" ? " (CloudTrail does not log SendCommand parameters; `cadet detect --enrich` reads them from SSM)" : "") + (r.proc ? "." : ", and no on-host process was joined to it.") }));
      }
      if (r.doc !== undefined) box.appendChild(kv([["document", s(r.doc), true]]));
      if (r.proc) {
        var p = r.proc;
        box.appendChild(el("h3", { text: "On-host process" }));
        box.appendChild(kv([
          ["host", r.host ? s(r.host[0]) + (r.host[1] !== undefined ? " (" + s(r.host[1]) + ")" : "") : "", true],
          ["user", s(p.user), true], ["process", s(p.name) + (p.pid !== undefined ? " (pid " + p.pid + ")" : ""), true],
          ["image", s(p.path), true], ["directory", s(p.cwd), true], ["agent", s(p.agent)], ["parent", s(p.parent), true]
        ]));
        if (p.pline !== undefined) { box.appendChild(el("div", { cls: "muted", text: "parent command line" })); box.appendChild(el("pre", { cls: "code", text: s(p.pline) })); }
      }
      if (lines.length && !joinedText) {
        box.appendChild(el("h3", { text: "Joined on-host processes (" + lines.length + ")" }));
        lines.forEach(function (x) {
          box.appendChild(el("div", { cls: "muted mono", text: s(x.op) + (x.who !== undefined ? " · " + s(x.who) : "") + " · event " + x.ev }));
          box.appendChild(el("pre", { cls: "code joined", text: s(x.line) }));
        });
      }
      if (calls.length) {
        box.appendChild(el("h3", { text: "Joined control-plane calls (" + calls.length + ")" }));
        calls.forEach(function (x) {
          box.appendChild(el("div", { cls: "mono", text: s(x.op) + " by " + (s(x.who) || "?") + (x.ip !== undefined ? " from " + s(x.ip) : "") + " · event " + x.ev }));
        });
      }
      box.appendChild(el("h3", { text: r.proc ? "Where" : "Caller and source" }));
      box.appendChild(kv([
        ["principal", r.proc ? "" : s(r.pid), true], ["identity", ID[r.who].label + " (" + ID[r.who].kind + ")"],
        ["type", r.proc ? "" : s(r.pkind)], ["session", s(r.sess), true], ["access key", s(r.key), true],
        ["source IP", s(r.ip), true], ["user agent", s(r.ua), true], ["client app", s(r.app), true],
        ["cloud", s(r.cloud) + " · " + s(r.acct) + (r.region === undefined ? "" : " · " + s(r.region)), true],
        ["targets", s(r.tgt), true], ["outcome", r.fail === undefined ? "success" : "failure: " + s(r.fail)]
      ]));
      box.appendChild(el("h3", { text: "Signals" }));
      var sig = el("table", {}, [el("tr", {}, [el("th", { text: "signal" }), el("th", { cls: "num", text: "points" }), el("th", { text: "reason" })])]);
      r.sig.forEach(function (g) {
        sig.appendChild(el("tr", {}, [el("td", { cls: "mono", text: s(g[0]) }), el("td", { cls: "num " + (g[1] > 0 ? "pos" : "neg"), text: (g[1] > 0 ? "+" : "") + g[1] }), el("td", { text: s(g[2]) })]));
      });
      box.appendChild(sig);
      if (r.earlier) {
        box.appendChild(el("h3", { text: "Earlier revisions (" + r.earlier.length + ")" }));
        var t = el("table", {}, [el("tr", {}, [el("th", { text: "revision" }), el("th", { cls: "num", text: "score" }), el("th", { text: "severity" }), el("th", { text: "signals" })])]);
        r.earlier.forEach(function (e) {
          t.appendChild(el("tr", {}, [el("td", { text: String(e.rev) }), el("td", { cls: "num", text: e.score }), el("td", {}, [sevBadge(e.sev)]),
            el("td", { cls: "mono", text: e.sig.map(function (g) { return s(g[0]) + " " + (g[1] > 0 ? "+" : "") + g[1]; }).join(", ") })]));
        });
        t.appendChild(el("tr", {}, [el("td", { text: r.rev + " (shown)" }), el("td", { cls: "num", text: r.score }), el("td", {}, [sevBadge(r.sev)]),
          el("td", { cls: "mono", text: r.sig.map(function (g) { return s(g[0]) + " " + (g[1] > 0 ? "+" : "") + g[1]; }).join(", ") })]));
        box.appendChild(t);
      }
      box.appendChild(el("h3", { text: "Ids" }));
      box.appendChild(kv([["finding", r.id, true], ["event", r.ev, true], ["command", r.cmd, true], ["correlation", r.corr, true], ["revision", r.rev ? String(r.rev) : "0 (first emission)"]]));
      return box;
    }

    // Why a report has no findings: what was read, what the filters kept out.
    function explainEmpty() {
      var w = D.window, box = el("div", { cls: "explain" }, []), items = [];
      box.appendChild(el("h3", { text: "No findings in this report." }));
      if (SU.verdicts && !SU.all) {
        items.push(plural(SU.verdicts, "cloud administration command") + " scored, none at the alert severity (" + SU.alert_severity + ") or above" + sevList(SU.by_severity) + "; run with --all to list every verdict.");
      } else if (!SU.verdicts) {
        items.push("No cloud administration command (T1651) was found in the events kept.");
      }
      items.push("Window: " + (w.since || "the start") + " → " + (w.until || "the end") + (w.accounts.length ? "; accounts " + w.accounts.join(", ") : "; every account") + (w.regions.length ? "; regions " + w.regions.join(", ") : "; every region") + ".");
      items.push(num(SU.outside) + " events were outside the window, accounts or regions and were not scored" + (SU.outside && !SU.events_scored ? " — every event found was outside them." : "."));
      items.push(plural(SU.pruned_prefixes, "archive prefix", "archive prefixes") + " outside the window, accounts or regions were skipped without listing.");
      items.push(num(SU.files) + " of " + num(SU.files_listed) + " files read, " + plural(SU.records, "record") + ", " + bytes(SU.bytes) + " as stored (" + bytes(SU.raw_bytes) + " decompressed); " + plural(SU.events_scored, "event") + " scored.");
      if (SU.duplicates) items.push(plural(SU.duplicates, "duplicate") + " suppressed (the same event delivered twice).");
      if (SU.rejected) items.push(plural(SU.rejected, "record") + " rejected as malformed (see the error lines on stderr).");
      if (SU.unreadable) items.push(plural(SU.unreadable, "object") + " could not be read.");
      if (SU.interrupted) items.push("The hunt was interrupted: only part of the archive was read.");
      box.appendChild(el("ul", {}, items.map(function (t, k) { return el("li", { cls: k === 0 ? "big" : null, text: t }); })));
      return box;
    }

    function resetAll() {
      st.q = ""; $("q").value = ""; st.sev = [true, true, true, true, true]; st.range = null; st.who = st.acct = st.region = null; st.page = 0;
      drawSevs(); update();
    }

    // ---- Controls ----
    function setView(v) {
      st.view = v; st.page = 0;
      $("view-incidents").setAttribute("aria-selected", String(v === "incidents"));
      $("view-findings").setAttribute("aria-selected", String(v === "findings"));
      drawList();
    }
    $("view-incidents").addEventListener("click", function () { setView("incidents"); });
    $("view-findings").addEventListener("click", function () { setView("findings"); });
    $("sort").addEventListener("change", function () { st.sort = this.value; st.page = 0; drawList(); });
    $("reset").addEventListener("click", function () { st.range = null; st.page = 0; update(); });
    var typing = null;
    $("q").addEventListener("input", function () {
      var q = this.value.trim().toLowerCase();
      clearTimeout(typing);
      typing = setTimeout(function () { st.q = q; st.page = 0; update(); }, 150);
    });
    var resizing = null;
    window.addEventListener("resize", function () { clearTimeout(resizing); resizing = setTimeout(drawTimeline, 150); });

    header();
    drawSevs();
    update();
    body.setAttribute("data-rendered", String(R.length));
    body.setAttribute("data-incidents", String(D.incidents));
    body.setAttribute("data-render-ms", String(Date.now() - t0));
    if (location.hash === "#selftest") selftest();

    // The controls, driven as a user would: a drag across the timeline and its reset, the
    // three sort orders, the next page, a table's "show all".
    function interactions(out) {
      var total = cur.shown.length, before = $("bucket").textContent;
      var hit = document.querySelector("#timeline .hit"), rc = hit.getBoundingClientRect();
      function drag(type, f) { hit.dispatchEvent(new PointerEvent(type, { clientX: rc.left + rc.width * f, clientY: rc.top + rc.height / 2, bubbles: true, pointerId: 1 })); }
      drag("pointerdown", 0.40); drag("pointermove", 0.43); drag("pointerup", 0.45);
      out["zoom-findings"] = cur.shown.length;
      out["zoom-bars-sum"] = Array.prototype.reduce.call(document.querySelectorAll("#timeline .bar"), function (a, b) { return a + Number(b.getAttribute("data-n")); }, 0);
      out["zoom-rebucketed"] = String($("bucket").textContent !== before);
      out["zoom-list-in-range"] = String(Array.prototype.every.call(document.querySelectorAll("#list .inc"), function (n) {
        return cur.shown.some(function (i) { return R[i].inc === Number(n.getAttribute("data-inc")); });
      }) && cur.shown.every(function (i) { return R[i].ms >= st.range[0] && R[i].ms < st.range[1]; }));
      $("reset").click();
      out["reset-findings"] = cur.shown.length;
      out["reset-total"] = total;
      $("view-findings").click();
      var sel = $("sort");
      function drawnRows() { return Array.prototype.map.call(document.querySelectorAll("#list details.finding"), function (n) { return R[Number(n.getAttribute("data-row"))]; }); }
      function sortedBy(value, ok, first) {
        sel.value = value; sel.dispatchEvent(new Event("change"));
        var rows = drawnRows();
        out["sorted-" + value] = String(rows.length > 0 && first(rows[0]) && rows.every(function (r, k) { return k === 0 || ok(rows[k - 1], r); }));
      }
      var maxScore = Math.max.apply(null, R.map(function (r) { return r.score; }));
      sortedBy("new", function (a, b) { return a.ms >= b.ms; }, function (r) { return r.ms === maxMs; });
      sortedBy("old", function (a, b) { return a.ms <= b.ms; }, function (r) { return r.ms === minMs; });
      sortedBy("score", function (a, b) { return a.score >= b.score; }, function (r) { return r.score === maxScore; });
      var firstId = drawnRows()[0].id;
      function pagerButton(text) { return Array.prototype.filter.call($("pager").querySelectorAll("button"), function (b) { return b.textContent === text; })[0]; }
      var next = pagerButton("next ›");
      if (next) {
        next.click();
        out["page2-rows"] = drawnRows().length;
        out["page2-differs"] = String(drawnRows()[0].id !== firstId);
        pagerButton("« first").click();
      }
      function accountRows() { return document.querySelectorAll("#accounts tr.pick").length; }
      out["accounts-capped"] = accountRows();
      var more = $("accounts").querySelector("button.more");
      if (more) { more.click(); out["accounts-all"] = accountRows(); $("accounts").querySelector("button.more").click(); }
      var accts = {};
      R.forEach(function (r) { accts[r.acct] = 1; });
      out["accounts-total"] = Object.keys(accts).length;
      $("view-incidents").click();
    }

    // ---- #selftest: what the browser tests assert, measured in the page ----
    // The first screen (the timeline and incident rows inside the viewport), the page height,
    // the DOM size; then one click on a finding with command text and joined on-host command
    // lines, and whether they are visible afterwards, as decoded text.
    function selftest() {
      var vh = window.innerHeight, out = {};
      function height() { return Math.max(body.scrollHeight, document.documentElement.scrollHeight); }
      function visible(n) { if (!n) return false; var rc = n.getBoundingClientRect(); return rc.width > 0 && rc.height > 0 && n.getClientRects().length > 0; }
      out.viewport = window.innerWidth + "x" + vh;
      out.height = height();
      out.nodes = document.getElementsByTagName("*").length;
      var tl = document.querySelector("#timeline svg");
      out["timeline-bottom"] = tl ? Math.round(tl.getBoundingClientRect().bottom) : -1;
      out["timeline-bars"] = document.querySelectorAll("#timeline .bar").length;
      var incs = document.querySelectorAll("#list .inc");
      out["incidents-drawn"] = incs.length;
      out["incidents-first-screen"] = Array.prototype.filter.call(incs, function (n) { return n.getBoundingClientRect().bottom <= vh; }).length;
      if (!R.length) { finish(); return; }
      interactions(out);
      // The text filter (debounced), case-insensitive: a finding id finds that finding. Then
      // the filter is cleared again.
      $("q").value = R[R.length - 1].id.toUpperCase();
      $("q").dispatchEvent(new Event("input"));
      setTimeout(function () {
        out["search-findings"] = cur.shown.length;
        out["search-drawn"] = $("list").querySelectorAll(".inc, details.finding").length;
        $("q").value = "";
        $("q").dispatchEvent(new Event("input"));
        setTimeout(oneClick, 400);
      }, 400);
      // One click: the findings view, highest score first; the first row with command text
      // and joined on-host command lines.
      function oneClick() {
        setView("findings");
        var want = function (i) { var r = R[i]; return r.text !== undefined && (r.rel || []).some(function (x) { return x.line !== undefined; }); };
        var d = Array.prototype.filter.call(document.querySelectorAll("#list details.finding"), function (n) { return want(Number(n.getAttribute("data-row"))); })[0];
        if (!d) {
          var i = -1;
          for (var k = 0; k < R.length; k++) if (want(k)) { i = k; break; }
          if (i >= 0) { st.q = R[i].id; buildSearch(); update(); d = document.querySelector("#list details.finding"); out.via = "search"; }
        } else out.via = "page";
        out["findings-drawn"] = document.querySelectorAll("#list details.finding").length;
        if (!d) { out.click = "no finding with command text and joined process lines"; finish(); return; }
        d.querySelector("summary").click();
        setTimeout(function () {
          var r = R[Number(d.getAttribute("data-row"))];
          // The command text: the event's own, or the joined on-host command lines it is.
          var cmd = d.querySelectorAll(".evidence .cmd"), lines = d.querySelectorAll(".evidence pre.joined");
          var text = Array.prototype.map.call(cmd, function (n) { return n.textContent; }).join("\n");
          out.clicks = 1;
          out.open = String(d.open);
          out["command-visible"] = String(cmd.length > 0 && Array.prototype.every.call(cmd, visible));
          out.command = text;
          out["command-expected"] = String(text === s(r.text));
          var top = cmd.length ? cmd[0].getBoundingClientRect().top : -1;
          out["command-in-viewport"] = String(top >= 0 && top < vh);
          out["lines-visible"] = Array.prototype.filter.call(lines, visible).length;
          out["lines-expected"] = (r.rel || []).filter(function (x) { return x.line !== undefined; }).length;
          out.lines = Array.prototype.map.call(lines, function (n) { return n.textContent; }).join("\n");
          out["height-open"] = height();
          finish();
        }, 50);
      }
      function finish() {
        for (var k in out) body.setAttribute("data-selftest-" + k, String(out[k]));
        body.setAttribute("data-selftest", "done");
      }
    }
  } catch (e) {
    body.setAttribute("data-error", String(e && e.stack || e));
  }
})();
