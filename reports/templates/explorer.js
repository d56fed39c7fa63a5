/* ddaudit findings explorer: filters, search, sort and paging over the inert JSON block.
   Rows are built with createElement and textContent only (every name is untrusted).
   Fast at 100,000 findings: the rows are read once into typed columns, every sort order
   is worked out once at load (stable counting sorts over the dictionaries' ranks; one
   native sort for the resource names), the search text is lower-cased once, and a filter
   is one pass over integer columns; only the page of rows shown is in the document. */
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
    org: $("f-org"), owner: $("f-owner"), search: $("f-search"), sort: $("f-sort"),
    onlyNew: $("f-new"), reset: $("f-reset"), count: $("explorer-count"),
    body: $("explorer-rows"), prev: $("p-prev"), next: $("p-next"),
    newLabel: $("f-new-label")
  };
  var C = { SEV: 0, STATUS: 1, RULE: 2, SITE: 3, ORG: 4, TARGET: 5, RTYPE: 6, RID: 7,
            RNAME: 8, DETAIL: 9, SEEN: 10, NEW: 11, OWNER: 12 };
  var NO_OWNER = "no owner";  // the label of D.owner's null (findings nobody answers for)
  var owners = D.owner.map(function (o) { return o === null ? NO_OWNER : o; });

  function column(c) {
    var out = new Int32Array(n);
    for (var i = 0; i < n; i++) { out[i] = rows[i][c]; }
    return out;
  }
  var col = { sev: column(C.SEV), status: column(C.STATUS), rule: column(C.RULE),
              site: column(C.SITE), org: column(C.ORG), owner: column(C.OWNER),
              isNew: column(C.NEW) };
  var days = [], dayOf = new Int32Array(n), dayIndex = new Map();  // distinct first-seen days
  for (var d = 0; d < n; d++) {
    var seen = rows[d][C.SEEN], at = dayIndex.get(seen);
    if (at === undefined) { at = days.length; days.push(seen); dayIndex.set(seen, at); }
    dayOf[d] = at;
  }

  function fill(select, labels, counts) {
    for (var i = 0; i < labels.length; i++) {
      if (counts && !counts[i]) { continue; }
      var text = labels[i] + (counts ? " (" + counts[i] + ")" : "");
      select.appendChild(new Option(text, String(i)));
    }
  }
  function countBy(values, size) {
    var out = new Int32Array(size);
    for (var i = 0; i < n; i++) { out[values[i]]++; }
    return out;
  }
  fill(el.sev, D.sev, countBy(col.sev, D.sev.length));
  fill(el.status, D.status.map(function (s) { return s.replace("_", " "); }),
       countBy(col.status, D.status.length));
  fill(el.rule, D.rule.map(function (r, i) { return r + " " + D.title[i]; }),
       countBy(col.rule, D.rule.length));
  fill(el.site, D.site, countBy(col.site, D.site.length));
  fill(el.org, D.org, countBy(col.org, D.org.length));
  fill(el.owner, owners, countBy(col.owner, D.owner.length));
  if (!D.hasPrevious) { el.newLabel.hidden = true; }

  // Search: one lower-case text per row.
  var hay = new Array(n);
  for (var h = 0; h < n; h++) {
    var r = rows[h];
    hay[h] = (D.rule[r[C.RULE]] + "\u0001" + D.title[r[C.RULE]] + "\u0001" +
              D.site[r[C.SITE]] + "\u0001" + D.org[r[C.ORG]] + "\u0001" +
              D.target[r[C.TARGET]] + "\u0001" + D.rtype[r[C.RTYPE]] + "\u0001" +
              r[C.RID] + "\u0001" + r[C.RNAME] + "\u0001" + r[C.DETAIL] + "\u0001" +
              owners[r[C.OWNER]]).toLowerCase();
  }

  // Sorting: each order is the rows' indexes sorted by a key, ties in report order.
  function ranks(labels) {  // each label's rank among the labels (equal labels, equal rank)
    var idx = labels.map(function (_, i) { return i; });
    idx.sort(function (a, b) {
      return labels[a] < labels[b] ? -1 : labels[a] > labels[b] ? 1 : 0;
    });
    var rank = new Int32Array(labels.length), at = -1;
    for (var k = 0; k < idx.length; k++) {
      if (k === 0 || labels[idx[k]] !== labels[idx[k - 1]]) { at++; }
      rank[idx[k]] = at;
    }
    return rank;
  }
  function byRank(order, values, rank, descending) {  // a stable counting sort of `order`
    var size = 0;
    for (var j = 0; j < rank.length; j++) { size = Math.max(size, rank[j] + 1); }
    var start = new Int32Array(size + 1), out = new Int32Array(n), k, key;
    for (k = 0; k < n; k++) {
      key = rank[values[order[k]]];
      start[(descending ? size - 1 - key : key) + 1]++;
    }
    for (k = 0; k < size; k++) { start[k + 1] += start[k]; }
    for (k = 0; k < n; k++) {
      key = rank[values[order[k]]];
      out[start[descending ? size - 1 - key : key]++] = order[k];
    }
    return out;
  }
  function byResource() {  // one native sort of "key \0 zero-padded index" strings
    var width = String(n).length, pad = "0000000000".slice(0, width), keys = new Array(n);
    for (var i = 0; i < n; i++) {
      var text = String(i);
      keys[i] = (rows[i][C.RNAME] || rows[i][C.RID]).toLowerCase() + "\u0000" +
                pad.slice(text.length) + text;
    }
    keys.sort();
    var out = new Int32Array(n);
    for (var k = 0; k < n; k++) { out[k] = +keys[k].slice(keys[k].length - width); }
    return out;
  }
  var identity = new Int32Array(n);
  for (var s = 0; s < n; s++) { identity[s] = s; }
  var dayRank = ranks(days);
  var orders = {  // the data is in severity order already
    severity: identity,
    rule: byRank(identity, col.rule, ranks(D.rule), false),
    site: byRank(byRank(identity, col.org, ranks(D.org), false), col.site, ranks(D.site), false),
    resource: byResource(),
    owner: byRank(identity, col.owner,
                  ranks(owners.map(function (o) { return o.toLowerCase(); })), false),
    newest: byRank(identity, dayOf, dayRank, true),
    oldest: byRank(identity, dayOf, dayRank, false)
  };

  var matched = new Int32Array(0);
  var page = 0;
  function num(select) { return select.value === "" ? -1 : Number(select.value); }
  function apply() {
    var sev = num(el.sev), st = num(el.status), rule = num(el.rule), site = num(el.site);
    var org = num(el.org), owner = num(el.owner), onlyNew = el.onlyNew.checked && D.hasPrevious;
    var q = el.search.value.trim().toLowerCase();
    var idx = orders[el.sort.value] || identity;
    var out = new Int32Array(n), m = 0;
    for (var k = 0; k < n; k++) {
      var i = idx[k];
      if ((sev >= 0 && col.sev[i] !== sev) || (st >= 0 && col.status[i] !== st) ||
          (rule >= 0 && col.rule[i] !== rule) || (site >= 0 && col.site[i] !== site) ||
          (org >= 0 && col.org[i] !== org) || (owner >= 0 && col.owner[i] !== owner) ||
          (onlyNew && !col.isNew[i]) || (q && hay[i].indexOf(q) === -1)) { continue; }
      out[m++] = i;
    }
    matched = out.subarray(0, m);
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
  [el.sev, el.status, el.rule, el.site, el.org, el.owner, el.sort, el.onlyNew].forEach(
    function (select) { select.addEventListener("change", apply); });
  el.search.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(apply, 120);
  });
  el.prev.addEventListener("click", function () { page--; render(); });
  el.next.addEventListener("click", function () { page++; render(); });
  el.reset.addEventListener("click", function () {
    [el.sev, el.status, el.rule, el.site, el.org, el.owner].forEach(function (select) {
      select.value = "";
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
