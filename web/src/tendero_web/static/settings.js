// Settings page: add and remove list rows in the page instead of a round trip.
// Without this script the same buttons submit the form and the server re-shows it.
"use strict";

document.addEventListener("click", (event) => {
  const add = event.target.closest("[data-add-row]");
  if (add) {
    event.preventDefault();
    const section = add.dataset.addRow;
    const rows = document.getElementById("rows-" + section);
    const template = document.getElementById("template-" + section);
    if (!rows || !template) return;
    const used = [...rows.querySelectorAll("[data-index]")].map((row) => Number(row.dataset.index));
    const next = used.length ? Math.max(...used) + 1 : 0;
    const holder = document.createElement("div");
    holder.innerHTML = template.innerHTML.replaceAll("__INDEX__", String(next));
    const row = holder.firstElementChild;
    rows.appendChild(row);
    // The first bank account is the default one.
    const radio = row.querySelector('input[type="radio"]');
    if (radio && !rows.querySelector('input[type="radio"]:checked')) radio.checked = true;
    const first = row.querySelector("input, textarea, select");
    if (first) first.focus();
    return;
  }
  const remove = event.target.closest("[data-remove-row]");
  if (remove) {
    event.preventDefault();
    const row = remove.closest(".settings-row");
    if (row) row.remove();
  }
});
