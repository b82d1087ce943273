// The dtypegate matrix page: draws the table from the JSON in #matrix-data, in pages of rows.
// Rows with a failure, skip or downgrade come first; rows that passed on every leg are collapsed per file.
(function () {
  "use strict";
  var PAGE = 300;
  var data = JSON.parse(document.getElementById("matrix-data").textContent);
  var table = document.getElementById("matrix");
  var thead = table.tHead, tbody = table.tBodies[0];
  var more = document.getElementById("more"), shown = document.getElementById("shown");
  var q = document.getElementById("q"), outcome = document.getElementById("outcome");
  var legPick = document.getElementById("leg"), passing = document.getElementById("passing");
  var kinds = data.kinds, columns = data.columns, opened = {}, queue = [], drawn = 0;

  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function visibleColumns() {
    var leg = legPick.value === "" ? -1 : Number(legPick.value), out = [];
    columns.forEach(function (column, index) { if (leg < 0 || column[0] === leg) { out.push(index); } });
    return out;
  }
  function header(cols) {
    var html = '<tr><th class="test corner" rowspan="2" scope="col">test</th>', spans = [];
    cols.forEach(function (c) {
      var leg = columns[c][0], last = spans[spans.length - 1];
      if (last && last[0] === leg) { last[1] += 1; } else { spans.push([leg, 1]); }
    });
    spans.forEach(function (s) {
      html += '<th class="leg" colspan="' + s[1] + '" scope="colgroup">' + esc(data.legs[s[0]]) + "</th>";
    });
    html += "</tr><tr>";
    cols.forEach(function (c) { html += '<th class="precision" scope="col">' + esc(columns[c][1]) + "</th>"; });
    thead.innerHTML = html + "</tr>";
  }
  function rowClasses(row, cols) {
    var seen = {};
    cols.forEach(function (c) { var k = kinds[row[2][c]][0]; if (k !== "empty") { seen[k] = true; } });
    return seen;
  }
  function cellHtml(row, c, name) {
    var kind = kinds[row[2][c]], reason = row[3][String(c)];
    var tip = reason === undefined ? "" : ' title="' + esc(data.reasons[reason]) + '"';
    return '<td class="cell ' + kind[0] + '" data-test="' + esc(name) + '" data-leg="' +
      esc(data.legs[columns[c][0]]) + '" data-precision="' + esc(columns[c][1]) + '"' + tip + ">" +
      esc(kind[1]) + "</td>";
  }
  function rowHtml(row, cols) {
    var file = data.files[row[0]], name = row[1] === file ? file : file + "::" + row[1];
    // the file is the group's heading: the row shows the rest of the name, the full one on hover
    var html = '<tr><th class="test" scope="row" title="' + esc(name) + '">' + esc(row[1]) + "</th>";
    cols.forEach(function (c) { html += cellHtml(row, c, name); });
    return html + "</tr>";
  }
  function plan() {
    var cols = visibleColumns(), text = q.value.trim().toLowerCase(), want = outcome.value;
    var groups = {}, order = [], matched = 0;
    header(cols);
    data.rows.forEach(function (row) {
      var file = data.files[row[0]], name = file + "::" + row[1];
      if (text && name.toLowerCase().indexOf(text) < 0) { return; }
      var seen = rowClasses(row, cols), keys = Object.keys(seen);
      if (keys.length === 0 || (want && !seen[want])) { return; }
      var allPassed = keys.length === 1 && seen.passed;
      var group = groups[row[0]];
      if (!group) { group = groups[row[0]] = {file: row[0], notable: [], passed: []}; order.push(group); }
      (allPassed ? group.passed : group.notable).push(row);
      matched += 1;
    });
    order.sort(function (a, b) { return (b.notable.length > 0) - (a.notable.length > 0); });
    queue = [];
    order.forEach(function (group) {
      var open = passing.checked || opened[group.file];
      queue.push({group: group, cols: cols, open: open});
      group.notable.forEach(function (row) { queue.push({row: row, cols: cols}); });
      if (open) { group.passed.forEach(function (row) { queue.push({row: row, cols: cols}); }); }
    });
    tbody.innerHTML = "";
    drawn = 0;
    shown.textContent = matched + " of " + data.rows.length + " tests match";
    draw();
  }
  function draw() {
    var html = "", end = Math.min(queue.length, drawn + PAGE);
    for (; drawn < end; drawn += 1) {
      var item = queue[drawn];
      if (item.group) {
        var g = item.group, span = item.cols.length + 1, count = g.notable.length + g.passed.length;
        var label = esc(data.files[g.file]) + " \u2014 " + count + (count === 1 ? " test" : " tests");
        if (g.passed.length) {
          label += ', <button type="button" class="toggle" data-file="' + g.file + '">' +
            (item.open ? "\u25be " : "\u25b8 ") + g.passed.length + " passed on every leg" + "</button>";
        }
        html += '<tr class="file"><th colspan="' + span + '" scope="rowgroup">' + label + "</th></tr>";
      } else {
        html += rowHtml(item.row, item.cols);
      }
    }
    tbody.insertAdjacentHTML("beforeend", html);
    more.hidden = drawn >= queue.length;
    more.textContent = "show more rows (" + (queue.length - drawn) + " left)";
  }
  tbody.addEventListener("click", function (event) {
    var button = event.target.closest("button.toggle");
    if (!button) { return; }
    var file = Number(button.getAttribute("data-file"));
    opened[file] = !opened[file];
    plan();
  });
  more.addEventListener("click", draw);
  if ("IntersectionObserver" in window) {
    new IntersectionObserver(function (entries) {
      if (entries[0].isIntersecting && !more.hidden) { draw(); }
    }, {rootMargin: "800px"}).observe(more);
  }
  var timer = null;
  q.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(plan, 150); });
  [outcome, legPick, passing].forEach(function (el) { el.addEventListener("change", plan); });
  plan();
})();
