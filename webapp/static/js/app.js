// Small behaviours htmx does not cover. No inline script anywhere (CSP).
"use strict";

// After a swap, put keyboard focus on the swapped content's autofocus field,
// as a full page load would.
document.addEventListener("htmx:afterSettle", (event) => {
  const target = event.detail.elt;
  const field = target && target.querySelector ? target.querySelector("[autofocus]") : null;
  if (field) field.focus();
});
