// Orders page: live rows over Server-Sent Events; order detail: confirm before cancelling.
// Customer text only ever arrives inside rows the server rendered and escaped; everything
// else is set with textContent.
(function () {
  "use strict";

  // --- confirmation of dangerous moves (forms with data-confirm) ---
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
        return;
      }
      var confirmed = document.createElement("input");
      confirmed.type = "hidden";
      confirmed.name = "confirmed";
      confirmed.value = "yes";
      form.appendChild(confirmed);
    });
  });

  // --- live updates of the Orders table ---
  var section = document.getElementById("orders-section");
  if (!section || !section.dataset.eventsUrl || !window.EventSource) return;
  var firstPage = section.dataset.firstPage === "true";
  var body = document.getElementById("orders-body");
  var tableWrap = document.getElementById("orders-table-wrap");
  var empty = document.getElementById("orders-empty");
  var notice = document.getElementById("live-notice");
  var noticeLink = document.getElementById("live-notice-link");
  var unseen = 0;

  function showNotice() {
    var text = unseen === 1 ? notice.dataset.one : notice.dataset.many.replace("{n}", String(unseen));
    noticeLink.textContent = text;
    notice.hidden = false;
  }

  function addRow(html, number) {
    if (body.querySelector('tr[data-number="' + number + '"]')) return;
    var holder = document.createElement("template");
    holder.innerHTML = html.trim(); // server-rendered and escaped (see views/live.py)
    var row = holder.content.firstElementChild;
    if (!row) return;
    row.classList.add("is-new");
    body.insertBefore(row, body.firstElementChild);
    tableWrap.hidden = false;
    empty.hidden = true;
  }

  var source = new EventSource(section.dataset.eventsUrl);
  source.addEventListener("order", function (event) {
    var data = JSON.parse(event.data);
    if (firstPage) {
      addRow(data.html, data.number);
    } else {
      unseen += 1;
      showNotice();
    }
  });
  source.addEventListener("more", function () {
    unseen += 1;
    showNotice();
  });
  source.addEventListener("counters", function (event) {
    var data = JSON.parse(event.data);
    [["new_orders", "counter-new-orders"], ["payments_to_verify", "counter-payments-to-verify"],
     ["revenue", "counter-revenue"]].forEach(function (pair) {
      var element = document.getElementById(pair[1]);
      if (element && data[pair[0]] !== undefined) element.textContent = data[pair[0]];
    });
  });
  // EventSource reconnects by itself after a drop (the server asks for 3 s).
  window.addEventListener("pagehide", function () { source.close(); });
})();
