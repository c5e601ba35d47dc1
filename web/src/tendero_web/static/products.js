// Products page: save a row's price/stock/active in place, and check the size of an
// import file before uploading it. Without this script the forms still work.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function rowMessage(row, text, isError) {
    var message = row.querySelector(".row-message");
    if (!message) return;
    message.textContent = text;
    message.hidden = !text;
    message.classList.toggle("field-error", !!isError);
    message.classList.toggle("saved", !isError);
  }

  function clearErrors(row) {
    row.classList.remove("has-error");
    row.querySelectorAll(".num .field-error").forEach(function (el) { el.remove(); });
    row.querySelectorAll("[aria-invalid]").forEach(function (el) {
      el.removeAttribute("aria-invalid");
      el.removeAttribute("aria-describedby");
    });
  }

  function showFieldError(row, name, text) {
    var input = row.querySelector('[name="' + name + '"]');
    if (!input) return;
    var error = document.createElement("span");
    error.className = "field-error";
    error.id = input.id + "-error";
    error.textContent = text;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", error.id);
    input.parentNode.appendChild(error);
  }

  function showProduct(row, form, product) {
    row.querySelector('[name="price"]').value = product.price;
    row.querySelector('[name="stock"]').value = product.stock;
    row.querySelector('[name="active"]').checked = product.active;
    row.querySelector(".price-display").textContent = product.price_display;
    form.querySelector('[name="was_price"]').value = product.price;
    form.querySelector('[name="was_stock"]').value = product.stock;
    form.querySelector('[name="was_active"]').value = product.active ? "1" : "0";
    row.classList.toggle("inactive", !product.active);
  }

  function saveRow(event) {
    var form = event.target;
    var row = form.closest("tr");
    event.preventDefault();
    var button = form.querySelector("button");
    button.disabled = true;
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { "Accept": "application/json", "X-CSRF-Token": csrfToken() },
      credentials: "same-origin"
    }).then(function (response) {
      return response.json().then(function (data) { return { status: response.status, data: data }; });
    }).then(function (answer) {
      var data = answer.data;
      clearErrors(row);
      if (data.product) showProduct(row, form, data.product);
      if (data.gone) row.classList.add("inactive");
      Object.keys(data.errors || {}).forEach(function (name) {
        showFieldError(row, name, data.errors[name]);
      });
      if (!data.ok) row.classList.add("has-error");
      rowMessage(row, data.message || "", !data.ok);
    }).catch(function () {
      form.submit();  // fall back to the plain form post
    }).finally(function () {
      button.disabled = false;
    });
  }

  document.querySelectorAll("form.product-edit").forEach(function (form) {
    form.addEventListener("submit", saveRow);
  });

  var importForm = document.getElementById("import-form");
  if (importForm) {
    importForm.addEventListener("submit", function (event) {
      var input = document.getElementById("import-file");
      var error = document.getElementById("file-error");
      var limit = parseInt(importForm.dataset.maxBytes, 10);
      var file = input.files && input.files[0];
      if (file && limit && file.size > limit) {
        event.preventDefault();
        error.textContent = importForm.dataset.tooLarge;
        error.hidden = false;
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", "file-error");
        input.focus();
      }
    });
  }
})();
