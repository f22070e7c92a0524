//! `--report FILE.html`: one self-contained page (inline CSS and JavaScript, no network) that
//! tells the story of a hunt at a glance: a timeline of verdicts by severity, the top
//! principals and their signals, counts per account/subscription and region, and every
//! finding, expandable to its signals and summary.
//!
//! The data travels as one JSON document in a `<script type="application/json">` element
//! (with `<`, `>` and `&` escaped, so no value can close the element) and is rendered with
//! `textContent` only: a hostile string in an event cannot inject markup. When rendering ends,
//! `<body>` carries `data-rendered="N"` (N = findings drawn); a script error is caught and
//! written to `data-error`, which the browser test checks.

use cadet_core::Finding;
use cadet_ingest::layout::Filter;
use serde_json::json;

use super::Summary;

/// A source as shown in the report: credentials (a SAS query string) removed.
pub fn redact(source: &str) -> String {
    match source.split_once('?') {
        Some((base, _)) => format!("{base}?…"),
        None => source.to_string(),
    }
}

/// The page.
pub fn render(
    findings: &[Finding],
    summary: &Summary,
    filter: &Filter,
    sources: &[String],
) -> String {
    let data = json!({
        "generated": cadet_core::finding::rfc3339(jiff::Timestamp::now()),
        "version": env!("CARGO_PKG_VERSION"),
        "sources": sources.iter().map(|s| redact(s)).collect::<Vec<_>>(),
        "window": {
            "since": filter.since.map(cadet_core::finding::rfc3339),
            "until": filter.until.map(cadet_core::finding::rfc3339),
            "accounts": filter.accounts,
            "regions": filter.regions,
        },
        "summary": {
            "files": summary.files,
            "files_listed": summary.files_listed,
            "bytes": summary.bytes,
            "records": summary.records,
            "verdicts": summary.recognized,
            "by_severity": {
                "info": summary.by_severity[0],
                "low": summary.by_severity[1],
                "medium": summary.by_severity[2],
                "high": summary.by_severity[3],
                "critical": summary.by_severity[4],
            },
            "printed": summary.printed,
            "events_scored": summary.context_events,
            "duplicates": summary.duplicates,
            "partial": summary.partial,
            "pruned_prefixes": summary.pruned,
            "rejected": summary.rejected,
            "unreadable": summary.unreadable,
            "seconds": summary.seconds,
            "interrupted": summary.interrupted,
            "first": summary.span.map(|s| cadet_core::finding::rfc3339(s.0)),
            "last": summary.span.map(|s| cadet_core::finding::rfc3339(s.1)),
        },
        "findings": findings,
    });
    let text = serde_json::to_string(&data).unwrap_or_else(|_| "{}".into());
    // No `</script>` (nor `<!--`) can appear inside the element.
    let safe = text
        .replace('&', "\\u0026")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e");
    let mut page = String::with_capacity(safe.len() + TEMPLATE.len());
    page.push_str(TEMPLATE_HEAD);
    page.push_str(&safe);
    page.push_str(TEMPLATE);
    page
}

const TEMPLATE_HEAD: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>cadet hunt report</title>
<style>
:root { --critical:#b3001b; --high:#e4572e; --medium:#f0a202; --low:#2a9d8f; --info:#8d99ae; --fg:#1d232a; --muted:#5c6773; --line:#e3e7ec; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); margin: 0; background: #f6f8fa; }
header { background: #1d232a; color: #fff; padding: 16px 24px; }
header h1 { margin: 0 0 4px; font-size: 20px; }
header .meta { color: #c9d1d9; font-size: 12px; }
main { padding: 16px 24px; max-width: 1280px; margin: 0 auto; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; margin-bottom: 16px; }
h2 { font-size: 15px; margin: 0 0 8px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { flex: 1 1 120px; border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; background: #fff; }
.card .n { font-size: 22px; font-weight: 600; }
.card .l { color: var(--muted); font-size: 12px; }
.sev { display: inline-block; min-width: 64px; text-align: center; border-radius: 10px; padding: 0 8px; color: #fff; font-size: 12px; font-weight: 600; }
.sev.critical { background: var(--critical); } .sev.high { background: var(--high); } .sev.medium { background: var(--medium); }
.sev.low { background: var(--low); } .sev.info { background: var(--info); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
@media (max-width: 900px) { .grid { grid-template-columns: 1fr; } }
svg text { font-size: 11px; fill: var(--muted); }
details.finding { border-bottom: 1px solid var(--line); padding: 6px 0; }
details.finding > summary { cursor: pointer; list-style: none; display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; }
details.finding > summary::-webkit-details-marker { display: none; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
.muted { color: var(--muted); }
.body { padding: 8px 0 4px 74px; }
.pos { color: var(--critical); } .neg { color: var(--low); }
.controls { display: flex; gap: 12px; align-items: center; margin-bottom: 8px; flex-wrap: wrap; }
input[type=search] { padding: 4px 8px; min-width: 260px; border: 1px solid var(--line); border-radius: 4px; }
.empty { color: var(--muted); font-style: italic; }
</style>
</head>
<body>
<header><h1>cadet hunt — T1651 Cloud Administration Command</h1><div class="meta" id="meta"></div></header>
<main>
<section><div class="cards" id="cards"></div></section>
<section><h2>Timeline of verdicts by severity</h2><div id="timeline"></div></section>
<div class="grid">
<section><h2>Top principals</h2><div id="principals"></div></section>
<section><h2>Per account / subscription and region</h2><div id="accounts"></div></section>
</div>
<section><h2>Findings</h2>
<div class="controls"><input type="search" id="q" placeholder="filter: principal, operation, account, signal…"><span id="sevfilter"></span><span class="muted" id="shown"></span></div>
<div id="findings"></div></section>
</main>
<script type="application/json" id="data">"##;

const TEMPLATE: &str = r##"</script>
<script>
"use strict";
window.addEventListener("error", function (e) { document.body.setAttribute("data-error", String(e.message)); });
(function () {
  var SEVS = ["critical", "high", "medium", "low", "info"];
  var COLORS = { critical: "#b3001b", high: "#e4572e", medium: "#f0a202", low: "#2a9d8f", info: "#8d99ae" };
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) { if (k === "text") e.textContent = attrs[k]; else if (k === "cls") e.className = attrs[k]; else e.setAttribute(k, attrs[k]); }
    (children || []).forEach(function (c) { if (c !== null && c !== undefined) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function sevBadge(s) { return el("span", { cls: "sev " + s, text: s }); }
  function principalName(f) { var p = f.principal || {}; return p.name || p.id || "?"; }
  function bytes(n) { var u = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0; while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; } return (i ? n.toFixed(1) : n) + " " + u[i]; }
  try {
    var data = JSON.parse(document.getElementById("data").textContent);
    var F = data.findings || [];
    var S = data.summary || {};
    document.getElementById("meta").textContent =
      "Sources: " + data.sources.join(", ") + " · window: " + (data.window.since || "start") + " → " + (data.window.until || "end") +
      (data.window.accounts.length ? " · accounts: " + data.window.accounts.join(", ") : "") +
      (data.window.regions.length ? " · regions: " + data.window.regions.join(", ") : "") +
      " · generated " + data.generated + " by cadet " + data.version + (S.interrupted ? " · INTERRUPTED: partial coverage" : "");

    var cards = document.getElementById("cards");
    [["findings shown", F.length], ["verdicts", S.verdicts], ["critical", S.by_severity.critical], ["high", S.by_severity.high],
     ["medium", S.by_severity.medium], ["files read", S.files + " / " + S.files_listed], ["bytes read", bytes(S.bytes)],
     ["records", S.records], ["rejected records", S.rejected], ["unreadable objects", S.unreadable],
     ["events from", S.first ? S.first.slice(0, 19).replace("T", " ") : "–"], ["events to", S.last ? S.last.slice(0, 19).replace("T", " ") : "–"]].forEach(function (c) {
      cards.appendChild(el("div", { cls: "card" }, [el("div", { cls: "n", text: String(c[1]) }), el("div", { cls: "l", text: c[0] })]));
    });

    // Timeline: one lane per severity, one dot per finding.
    var tl = document.getElementById("timeline");
    if (!F.length) { tl.appendChild(el("p", { cls: "empty", text: "No findings." })); }
    else {
      var times = F.map(function (f) { return Date.parse(f.event_time); });
      var t0 = Math.min.apply(null, times), t1 = Math.max.apply(null, times);
      if (t1 === t0) { t0 -= 3600e3; t1 += 3600e3; }
      var W = 1200, L = 80, R = 20, lane = 26, H = SEVS.length * lane + 30;
      var s = svg("svg", { viewBox: "0 0 " + W + " " + H, width: "100%", role: "img", "aria-label": "timeline" });
      SEVS.forEach(function (sev, i) {
        var y = 10 + i * lane + lane / 2;
        s.appendChild(svg("line", { x1: L, x2: W - R, y1: y, y2: y, stroke: "#e3e7ec" }));
        var t = svg("text", { x: 4, y: y + 4 }); t.textContent = sev; s.appendChild(t);
      });
      for (var k = 0; k <= 4; k++) {
        var tx = t0 + (t1 - t0) * k / 4, x = L + (W - L - R) * k / 4;
        var lab = svg("text", { x: x, y: H - 4, "text-anchor": k === 0 ? "start" : (k === 4 ? "end" : "middle") });
        lab.textContent = new Date(tx).toISOString().slice(0, 16).replace("T", " ");
        s.appendChild(lab);
      }
      F.forEach(function (f, i) {
        var x = L + (W - L - R) * (times[i] - t0) / (t1 - t0);
        var y = 10 + SEVS.indexOf(f.severity) * lane + lane / 2;
        var c = svg("circle", { cx: x.toFixed(1), cy: y, r: 5, fill: COLORS[f.severity], "fill-opacity": 0.8, "class": "dot" });
        var title = svg("title", {}); title.textContent = f.event_time + " " + f.severity + " " + f.risk_score + " " + f.operation + " by " + principalName(f);
        c.appendChild(title);
        c.addEventListener("click", function () { var d = document.getElementById("f" + i); if (d) { d.open = true; d.scrollIntoView(); } });
        s.appendChild(c);
      });
      tl.appendChild(s);
    }

    // Top principals.
    var byP = {};
    F.forEach(function (f) {
      var k = principalName(f) + " (" + f.account + ")";
      var p = byP[k] || (byP[k] = { name: k, n: 0, max: 0, sev: "info", signals: {}, first: f.event_time, last: f.event_time });
      p.n++; if (f.risk_score > p.max) { p.max = f.risk_score; p.sev = f.severity; }
      if (f.event_time < p.first) p.first = f.event_time; if (f.event_time > p.last) p.last = f.event_time;
      (f.signals || []).forEach(function (g) { if (g.points > 0 && g.id !== "action") p.signals[g.id] = (p.signals[g.id] || 0) + 1; });
    });
    var plist = Object.keys(byP).map(function (k) { return byP[k]; }).sort(function (a, b) { return b.max - a.max || b.n - a.n; }).slice(0, 15);
    var pt = el("table", {}, [el("tr", {}, ["principal", "findings", "max", "first → last", "signals"].map(function (h) { return el("th", { text: h }); }))]);
    plist.forEach(function (p) {
      var sig = Object.keys(p.signals).sort(function (a, b) { return p.signals[b] - p.signals[a]; }).map(function (s) { return s + " ×" + p.signals[s]; }).join(", ");
      pt.appendChild(el("tr", {}, [el("td", { cls: "mono", text: p.name }), el("td", { text: String(p.n) }),
        el("td", {}, [sevBadge(p.sev), " " + p.max]), el("td", { cls: "mono", text: p.first.slice(0, 16) + " → " + p.last.slice(0, 16) }),
        el("td", { cls: "mono", text: sig })]));
    });
    document.getElementById("principals").appendChild(plist.length ? pt : el("p", { cls: "empty", text: "No findings." }));

    // Per account and region.
    var byA = {};
    F.forEach(function (f) {
      var k = f.provider + "\u0000" + f.account + "\u0000" + (f.region || "–");
      var a = byA[k] || (byA[k] = { provider: f.provider, account: f.account, region: f.region || "–", n: 0, sev: {} });
      a.n++; a.sev[f.severity] = (a.sev[f.severity] || 0) + 1;
    });
    var at = el("table", {}, [el("tr", {}, ["cloud", "account / subscription", "region", "findings", "by severity"].map(function (h) { return el("th", { text: h }); }))]);
    Object.keys(byA).map(function (k) { return byA[k]; }).sort(function (a, b) { return b.n - a.n; }).forEach(function (a) {
      at.appendChild(el("tr", {}, [el("td", { text: a.provider }), el("td", { cls: "mono", text: a.account }), el("td", { text: a.region }),
        el("td", { text: String(a.n) }), el("td", { text: SEVS.filter(function (s) { return a.sev[s]; }).map(function (s) { return a.sev[s] + " " + s; }).join(", ") })]));
    });
    document.getElementById("accounts").appendChild(Object.keys(byA).length ? at : el("p", { cls: "empty", text: "No findings." }));

    // Findings, expandable.
    var list = document.getElementById("findings");
    F.forEach(function (f, i) {
      var t = f.targets || {};
      var targets = t.selector ? t.selector + (t.count != null ? " (" + t.count + ")" : "") : (t.ids || []).join(", ") || "–";
      var sigRows = el("table", {}, [el("tr", {}, ["signal", "points", "reason"].map(function (h) { return el("th", { text: h }); }))]);
      (f.signals || []).forEach(function (g) {
        sigRows.appendChild(el("tr", {}, [el("td", { cls: "mono", text: g.id }), el("td", { cls: g.points > 0 ? "pos" : "neg", text: (g.points > 0 ? "+" : "") + g.points }), el("td", { text: g.reason })]));
      });
      var d = el("details", { cls: "finding", id: "f" + i, "data-severity": f.severity }, [
        el("summary", {}, [sevBadge(f.severity), el("b", { text: String(f.risk_score) }), el("span", { cls: "mono", text: f.event_time }),
          el("span", { text: f.operation }), el("span", { cls: "mono", text: principalName(f) }), el("span", { cls: "muted", text: "→ " + targets }),
          el("span", { cls: "muted", text: f.provider + " " + f.account + (f.region ? " " + f.region : "") })]),
        el("div", { cls: "body" }, [el("p", { text: f.summary }), sigRows,
          el("p", { cls: "muted mono", text: "event " + f.event_id + " · finding " + f.finding_id + " · source " + ((f.source || {}).ip || "–") + (f.document ? " · document " + f.document : "") })])
      ]);
      d.searchText = JSON.stringify(f).toLowerCase();
      list.appendChild(d);
    });
    if (!F.length) list.appendChild(el("p", { cls: "empty", text: "No findings at the alert severity." }));

    // Filters.
    var active = {}; SEVS.forEach(function (s) { active[s] = true; });
    var sf = document.getElementById("sevfilter");
    SEVS.forEach(function (s) {
      var cb = el("input", { type: "checkbox", checked: "checked" });
      cb.addEventListener("change", function () { active[s] = cb.checked; apply(); });
      sf.appendChild(el("label", {}, [cb, " " + s + " "]));
    });
    var q = document.getElementById("q");
    q.addEventListener("input", apply);
    function apply() {
      var text = q.value.toLowerCase(), shown = 0;
      Array.prototype.forEach.call(list.querySelectorAll("details.finding"), function (d) {
        var ok = active[d.getAttribute("data-severity")] && (!text || d.searchText.indexOf(text) >= 0);
        d.style.display = ok ? "" : "none"; if (ok) shown++;
      });
      document.getElementById("shown").textContent = shown + " of " + F.length + " shown";
    }
    apply();
    document.body.setAttribute("data-rendered", String(list.querySelectorAll("details.finding").length));
  } catch (e) {
    document.body.setAttribute("data-error", String(e && e.stack || e));
  }
})();
</script>
</body>
</html>
"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_sas_tokens() {
        assert_eq!(
            redact("https://a.blob.core.windows.net/c/p?sv=2024&sig=SECRET"),
            "https://a.blob.core.windows.net/c/p?…"
        );
        assert_eq!(redact("s3://b/p"), "s3://b/p");
    }
}
