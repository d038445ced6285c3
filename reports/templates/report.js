(function () {
  "use strict";

  // ---- sortable tables: first click puts the best first (by the metric's direction), the next one reverses
  function cellKey(row, col, kind) {
    var cell = row.cells[col];
    if (kind === "text") { return cell.textContent.trim().toLowerCase(); }
    var v = cell.getAttribute("data-value");
    return v === null || v === "" ? null : parseFloat(v);
  }

  function sortTable(table, col) {
    var th = table.tHead.rows[0].cells[col];
    var kind = th.getAttribute("data-sort") || "num";
    var bestAscending = kind === "text" || th.getAttribute("data-better") === "low";
    var now = th.getAttribute("aria-sort");
    var ascending = now === null || now === "none" ? bestAscending : now !== "ascending";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellKey(a, col, kind), y = cellKey(b, col, kind);
      if (x === null && y === null) { return 0; }
      if (x === null) { return 1; }
      if (y === null) { return -1; }
      if (x === y) { return 0; }
      return (x < y ? -1 : 1) * (ascending ? 1 : -1);
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.setAttribute("aria-sort", "none"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }

  document.querySelectorAll("table.sortable").forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortTable(table, col); });
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sortTable(table, col); } });
    });
  });

  var ciToggle = document.getElementById("show-ci");
  if (ciToggle) {
    ciToggle.addEventListener("change", function () { document.body.classList.toggle("show-ci", ciToggle.checked); });
  }

  // ---- clip tabs
  document.querySelectorAll(".tabs").forEach(function (tabs) {
    tabs.querySelectorAll("button").forEach(function (button) {
      button.addEventListener("click", function () {
        tabs.querySelectorAll("button").forEach(function (b) {
          var on = b === button;
          b.setAttribute("aria-selected", on ? "true" : "false");
          document.getElementById(b.getAttribute("data-target")).hidden = !on;
        });
      });
    });
  });

  // ---- synchronised viewer: one zoom/pan state per viewer, applied to every panel (fractions of the box size)
  function clamp(v, lo, hi) { return Math.min(hi, Math.max(lo, v)); }

  function setupViewer(root) {
    var data = JSON.parse(root.querySelector("script.viewer-data").textContent);
    var holder = root.querySelector(".viewer-panels");
    var state = { s: 1, u: 0, v: 0, frame: 0 };
    var boxes = [], images = [];
    data.panels.forEach(function (panel) {
      var wrap = document.createElement("div");
      wrap.className = "vpanel";
      var box = document.createElement("div");
      box.className = "vbox" + (panel.kind === "input" ? " input" : "");
      box.style.aspectRatio = data.width + " / " + data.height;
      var img = document.createElement("img");
      img.alt = panel.name;
      img.draggable = false;
      img.src = panel.src[0];
      box.appendChild(img);
      var label = document.createElement("div");
      label.className = "vlabel";
      label.textContent = panel.name;
      label.title = panel.name;
      wrap.appendChild(box);
      wrap.appendChild(label);
      holder.appendChild(wrap);
      boxes.push(box);
      images.push(img);
    });
    var level = root.querySelector(".zoom-level");
    var frameNo = root.querySelector(".frame-no");
    var slider = root.querySelector("input[type=range]");

    function apply() {
      state.u = clamp(state.u, 1 - state.s, 0);
      state.v = clamp(state.v, 1 - state.s, 0);
      boxes.forEach(function (box, i) {
        var w = box.clientWidth, h = box.clientHeight;
        images[i].style.transform = "translate(" + (state.u * w) + "px," + (state.v * h) + "px) scale(" + state.s + ")";
      });
      root.classList.toggle("zoomed", state.s > 1);
      level.textContent = (Math.round(state.s * 100) / 100) + "×";
    }

    function zoomAt(fx, fy, factor) {
      var s2 = clamp(state.s * factor, 1, 32);
      state.u = fx - (fx - state.u) * (s2 / state.s);
      state.v = fy - (fy - state.v) * (s2 / state.s);
      state.s = s2;
      apply();
    }

    function showFrame(k) {
      state.frame = k;
      data.panels.forEach(function (panel, i) {
        if (k < panel.src.length) { images[i].src = panel.src[k]; }
      });
      frameNo.textContent = "frame " + data.frames[k] + " (" + (k + 1) + " of " + data.frames.length + ")";
    }

    boxes.forEach(function (box) {
      box.addEventListener("wheel", function (e) {
        e.preventDefault();
        var r = box.getBoundingClientRect();
        zoomAt((e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height, e.deltaY < 0 ? 1.25 : 0.8);
      }, { passive: false });
      var drag = null;
      box.addEventListener("pointerdown", function (e) {
        drag = { x: e.clientX, y: e.clientY, u: state.u, v: state.v };
        box.setPointerCapture(e.pointerId);
        box.classList.add("dragging");
      });
      box.addEventListener("pointermove", function (e) {
        if (!drag) { return; }
        state.u = drag.u + (e.clientX - drag.x) / box.clientWidth;
        state.v = drag.v + (e.clientY - drag.y) / box.clientHeight;
        apply();
      });
      function end() { drag = null; box.classList.remove("dragging"); }
      box.addEventListener("pointerup", end);
      box.addEventListener("pointercancel", end);
      box.addEventListener("dblclick", function () { state.s = 1; state.u = 0; state.v = 0; apply(); });
    });
    root.querySelector("[data-act=in]").addEventListener("click", function () { zoomAt(0.5, 0.5, 2); });
    root.querySelector("[data-act=out]").addEventListener("click", function () { zoomAt(0.5, 0.5, 0.5); });
    root.querySelector("[data-act=reset]").addEventListener("click", function () {
      state.s = 1; state.u = 0; state.v = 0; apply();
    });
    slider.max = String(data.frames.length - 1);
    slider.addEventListener("input", function () { showFrame(parseInt(slider.value, 10)); });
    showFrame(0);
    apply();
    window.addEventListener("resize", apply);
  }

  document.querySelectorAll(".viewer").forEach(setupViewer);
}());
