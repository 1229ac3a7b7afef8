/**
 * The page's only script, inlined. It reads data- attributes and never the report itself, so
 * no capture string is ever placed inside a <script>. Without it the page is complete, only
 * not filterable.
 */
export const SCRIPT = `
"use strict";
(() => {
  const text = document.getElementById("filter");
  const boxes = [...document.querySelectorAll("input[data-severity-filter]")];
  const shown = document.getElementById("filter-count");
  const fabric = document.getElementById("fabric");
  const rows = [...document.querySelectorAll("#findings tbody tr, #events tbody tr")];
  if (!text) return;
  const apply = () => {
    const needle = text.value.trim().toLowerCase();
    const severities = new Set(boxes.filter((b) => b.checked).map((b) => b.value));
    let visible = 0;
    for (const row of rows) {
      const sev = row.dataset.severity;
      const hit = (!needle || row.textContent.toLowerCase().includes(needle)) &&
        (!sev || severities.has(sev));
      row.classList.toggle("hidden", !hit);
      if (hit && row.closest("#findings")) visible++;
    }
    if (shown) shown.textContent = needle || boxes.some((b) => !b.checked)
      ? visible + " findings match"
      : "";
    if (!fabric) return;
    let any = false;
    for (const v of fabric.querySelectorAll(".vtep")) {
      const on = needle !== "" && v.dataset.vtep.toLowerCase() === needle;
      v.classList.toggle("selected", on);
      any ||= on;
    }
    fabric.classList.toggle("filtered", any);
    for (const l of fabric.querySelectorAll(".link")) {
      const on = l.dataset.src.toLowerCase() === needle || l.dataset.dst.toLowerCase() === needle;
      l.classList.toggle("dim", any && !on);
    }
  };
  text.addEventListener("input", apply);
  for (const b of boxes) b.addEventListener("change", apply);
  // Clicking a VTEP filters both tables to it; clicking it again clears the filter.
  if (fabric) {
    const pick = (v) => {
      text.value = text.value === v.dataset.vtep ? "" : v.dataset.vtep;
      apply();
    };
    for (const v of fabric.querySelectorAll(".vtep")) {
      v.addEventListener("click", () => pick(v));
      v.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pick(v); }
      });
    }
  }
  apply();
})();
`;
