/* ddaudit findings explorer: filters, search, sort and paging over the inert JSON block.
   Rows are built with createElement and textContent only (every name is untrusted). */
(function () {
  "use strict";
  var PAGE = 100;
  var dataEl = document.getElementById("findings-data");
  var ui = document.getElementById("explorer-ui");
  if (!dataEl || !ui) { return; }
  var D = JSON.parse(dataEl.textContent);
  var rows = D.rows;
  var n = rows.length;
  var $ = function (id) { return document.getElementById(id); };
  var el = {
    sev: $("f-severity"), status: $("f-status"), rule: $("f-rule"), site: $("f-site"),
    org: $("f-org"), owner: $("f-owner"), search: $("f-search"), sort: $("f-sort"), onlyNew: $("f-new"),
    reset: $("f-reset"), count: $("explorer-count"), body: $("explorer-rows"),
    prev: $("p-prev"), next: $("p-next"), newLabel: $("f-new-label")
  };
  var C = { SEV: 0, STATUS: 1, RULE: 2, SITE: 3, ORG: 4, TARGET: 5, RTYPE: 6, RID: 7,
            RNAME: 8, DETAIL: 9, SEEN: 10, NEW: 11, OWNER: 12 };
  var NO_OWNER = "no owner";  // the label of D.owner's null (findings nobody answers for)
  function ownerOf(r) { var o = D.owner[r[C.OWNER]]; return o === null ? NO_OWNER : o; }

  function fill(select, labels, counts) {
    for (var i = 0; i < labels.length; i++) {
      if (counts && !counts[i]) { continue; }
      var text = labels[i] + (counts ? " (" + counts[i] + ")" : "");
      select.appendChild(new Option(text, String(i)));
    }
  }
  function countBy(col, size) {
    var out = new Array(size).fill(0);
    for (var i = 0; i < n; i++) { out[rows[i][col]]++; }
    return out;
  }
  fill(el.sev, D.sev, countBy(C.SEV, D.sev.length));
  fill(el.status, D.status.map(function (s) { return s.replace("_", " "); }),
       countBy(C.STATUS, D.status.length));
  fill(el.rule, D.rule.map(function (r, i) { return r + " " + D.title[i]; }),
       countBy(C.RULE, D.rule.length));
  fill(el.site, D.site, countBy(C.SITE, D.site.length));
  fill(el.org, D.org, countBy(C.ORG, D.org.length));
  fill(el.owner, D.owner.map(function (o) { return o === null ? NO_OWNER : o; }),
       countBy(C.OWNER, D.owner.length));
  if (!D.hasPrevious) { el.newLabel.hidden = true; }

  var hay = null;  // lower-case search text per row, built on the first search
  function haystack() {
    if (hay === null) {
      hay = new Array(n);
      for (var i = 0; i < n; i++) {
        var r = rows[i];
        hay[i] = (D.rule[r[C.RULE]] + "\u0001" + D.title[r[C.RULE]] + "\u0001" +
                  D.site[r[C.SITE]] + "\u0001" + D.org[r[C.ORG]] + "\u0001" +
                  D.target[r[C.TARGET]] + "\u0001" + D.rtype[r[C.RTYPE]] + "\u0001" +
                  r[C.RID] + "\u0001" + r[C.RNAME] + "\u0001" + r[C.DETAIL] + "\u0001" +
                  ownerOf(r)).toLowerCase();
      }
    }
    return hay;
  }

  var orders = {};  // sort name -> row indexes in that order, built once each
  function keyOf(name, r) {
    switch (name) {
      case "rule": return D.rule[r[C.RULE]];
      case "site": return D.site[r[C.SITE]] + "\u0001" + D.org[r[C.ORG]];
      case "resource": return (r[C.RNAME] || r[C.RID]).toLowerCase();
      case "owner": return ownerOf(r).toLowerCase();
      case "newest": case "oldest": return r[C.SEEN];
      default: return "";
    }
  }
  function order(name) {
    if (orders[name]) { return orders[name]; }
    var idx = new Array(n);
    for (var i = 0; i < n; i++) { idx[i] = i; }
    if (name !== "severity") {  // the data is already in severity order
      var keys = new Array(n);
      for (var j = 0; j < n; j++) { keys[j] = keyOf(name, rows[j]); }
      var sign = name === "newest" ? -1 : 1;
      idx.sort(function (a, b) {
        return keys[a] < keys[b] ? -sign : keys[a] > keys[b] ? sign : a - b;
      });
    }
    orders[name] = idx;
    return idx;
  }

  var matched = [];
  var page = 0;
  function num(select) { return select.value === "" ? -1 : Number(select.value); }
  function apply() {
    var sev = num(el.sev), st = num(el.status), rule = num(el.rule), site = num(el.site);
    var org = num(el.org), owner = num(el.owner), onlyNew = el.onlyNew.checked && D.hasPrevious;
    var q = el.search.value.trim().toLowerCase();
    var h = q ? haystack() : null;
    var idx = order(el.sort.value);
    var out = [];
    for (var k = 0; k < n; k++) {
      var i = idx[k], r = rows[i];
      if ((sev >= 0 && r[C.SEV] !== sev) || (st >= 0 && r[C.STATUS] !== st) ||
          (rule >= 0 && r[C.RULE] !== rule) || (site >= 0 && r[C.SITE] !== site) ||
          (org >= 0 && r[C.ORG] !== org) || (owner >= 0 && r[C.OWNER] !== owner) || (onlyNew && !r[C.NEW]) ||
          (h !== null && h[i].indexOf(q) === -1)) { continue; }
      out.push(i);
    }
    matched = out;
    page = 0;
    render();
  }

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    if (cls) { td.className = cls; }
    if (text !== null) { td.textContent = text; }
    tr.appendChild(td);
    return td;
  }
  function badge(td, kind, value, label) {
    var span = document.createElement("span");
    span.className = "badge " + kind + "-" + value.replace("_", "-");
    span.textContent = label;
    td.appendChild(span);
  }
  function line(td, text, cls, tag) {
    var node = document.createElement(tag || "span");
    if (cls) { node.className = cls; }
    node.textContent = text;
    if (td.firstChild) { td.appendChild(document.createElement("br")); }
    td.appendChild(node);
  }
  function render() {
    var total = matched.length;
    var pages = Math.max(1, Math.ceil(total / PAGE));
    if (page >= pages) { page = pages - 1; }
    var start = page * PAGE, end = Math.min(total, start + PAGE);
    var frag = document.createDocumentFragment();
    for (var k = start; k < end; k++) {
      var r = rows[matched[k]];
      var tr = document.createElement("tr");
      var status = D.status[r[C.STATUS]];
      tr.className = "row-" + status.replace("_", "-");
      badge(cell(tr, null), "sev", D.sev[r[C.SEV]], D.sev[r[C.SEV]]);
      var st = cell(tr, null);
      badge(st, "st", status, status.replace("_", " "));
      if (r[C.NEW]) { line(st, "new", "tag-new"); }
      var ru = cell(tr, null);
      line(ru, D.rule[r[C.RULE]], null, "code");
      line(ru, D.title[r[C.RULE]], "small");
      cell(tr, D.site[r[C.SITE]]);
      cell(tr, D.org[r[C.ORG]]);
      cell(tr, D.target[r[C.TARGET]]);
      var res = cell(tr, null);
      line(res, D.rtype[r[C.RTYPE]], "muted small");
      if (r[C.RNAME]) { line(res, r[C.RNAME], null); }
      line(res, r[C.RID], "small", "code");
      if (D.owner[r[C.OWNER]] === null) { line(cell(tr, null), NO_OWNER, "muted"); }
      else { cell(tr, D.owner[r[C.OWNER]]); }
      cell(tr, r[C.DETAIL], "detail");
      cell(tr, r[C.SEEN]);
      frag.appendChild(tr);
    }
    el.body.replaceChildren(frag);
    el.count.textContent = total === 0 ? "No finding matches the filters." :
      "Showing " + (start + 1) + "\u2013" + end + " of " + total + " matching findings (" +
      n + " in all).";
    el.prev.disabled = page === 0;
    el.next.disabled = page >= pages - 1;
  }

  var timer = 0;
  [el.sev, el.status, el.rule, el.site, el.org, el.owner, el.sort, el.onlyNew].forEach(function (s) {
    s.addEventListener("change", apply);
  });
  el.search.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(apply, 120);
  });
  el.prev.addEventListener("click", function () { page--; render(); });
  el.next.addEventListener("click", function () { page++; render(); });
  el.reset.addEventListener("click", function () {
    [el.sev, el.status, el.rule, el.site, el.org, el.owner].forEach(function (s) {
      s.value = "";
    });
    el.search.value = ""; el.sort.value = "severity"; el.onlyNew.checked = false;
    apply();
  });
  Array.prototype.forEach.call(document.querySelectorAll("a.explore-rule"), function (a) {
    a.addEventListener("click", function () {
      var i = D.rule.indexOf(a.getAttribute("data-rule"));
      el.rule.value = i >= 0 ? String(i) : "";
      apply();
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("a.explore-owner"), function (a) {
    a.addEventListener("click", function () {
      var i = D.owner.indexOf(a.hasAttribute("data-owner") ? a.getAttribute("data-owner") : null);
      el.owner.value = i >= 0 ? String(i) : "";
      apply();
    });
  });
  ui.hidden = false;
  apply();
  setTimeout(haystack, 300);  // the search index, built once the first rows are painted
  window.ddauditExplorer = { apply: apply, matched: function () { return matched.length; },
                             readyAt: performance.now() };
}());
/* The credential inventory's filters: hide the server-rendered rows that do not match. */
(function () {
  "use strict";
  var ui = document.getElementById("cred-ui");
  var body = document.getElementById("cred-rows");
  if (!ui || !body) { return; }
  var kind = document.getElementById("c-kind"), owner = document.getElementById("c-owner");
  var priv = document.getElementById("c-priv"), count = document.getElementById("cred-count");
  var rows = Array.prototype.filter.call(body.rows, function (tr) {
    return tr.hasAttribute("data-kind");
  });
  var shown = rows.length;
  function apply() {
    shown = 0;
    rows.forEach(function (tr) {
      var ok = (!kind.value || tr.getAttribute("data-kind") === kind.value) &&
               (!owner.value || tr.getAttribute("data-owner") === owner.value) &&
               (!priv.value || tr.getAttribute("data-priv") === priv.value);
      tr.hidden = !ok;
      if (ok) { shown++; }
    });
    count.textContent = shown + " of " + rows.length + " credentials shown.";
  }
  [kind, owner, priv].forEach(function (s) { s.addEventListener("change", apply); });
  document.getElementById("c-reset").addEventListener("click", function () {
    kind.value = ""; owner.value = ""; priv.value = ""; apply();
  });
  ui.hidden = false;
  apply();
  window.ddauditCredentials = { shown: function () { return shown; } };
}());
