// Small behaviours htmx does not cover. No inline script anywhere (CSP).
"use strict";

// After a swap, put keyboard focus on the swapped content's autofocus field,
// as a full page load would.
document.addEventListener("htmx:afterSettle", (event) => {
  const target = event.detail.elt;
  const field = target && target.querySelector ? target.querySelector("[autofocus]") : null;
  if (field) field.focus();
});

// "Copy" buttons: data-copy names the element whose text goes to the clipboard
// (one line per list item, so recovery codes paste one per line).
document.addEventListener("click", (event) => {
  const button = event.target.closest ? event.target.closest("[data-copy]") : null;
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  const items = source.querySelectorAll("li");
  const text = items.length
    ? Array.from(items, (item) => item.textContent.trim()).join("\n")
    : source.textContent.trim();
  const label = button.textContent;
  navigator.clipboard.writeText(text).then(
    () => { button.textContent = "Copied"; },
    () => { button.textContent = "Copy failed: select the text instead"; },
  ).finally(() => setTimeout(() => { button.textContent = label; }, 2000));
});
