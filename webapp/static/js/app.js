// Small behaviours htmx does not cover. No inline script anywhere (CSP).
"use strict";

// --- Dialogs (the help article's "windows"; see the `dialog` macro) ----------
// A <dialog data-modal> that htmx swaps in opens as a modal: focus moves
// inside and stays there; Escape, a [data-dialog-close] control or the
// server's `closeDialog` event close it, and focus goes back to the control
// that opened it. A dialog rendered as a whole page (no JavaScript, a
// bookmark) is left alone: its Cancel is an ordinary link.

const openers = new WeakMap();
let lastActive = null;

// Remember what had focus when a request started: that control opened the dialog.
document.addEventListener("htmx:beforeRequest", () => {
  lastActive = document.activeElement;
});

function focusables(root) {
  return Array.from(root.querySelectorAll(
    "a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), " +
    "select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])",
  )).filter((el) => el.getClientRects().length > 0);
}

// Focus what a person should meet first in `root`: a field that asks for
// input (autofocus), else something that changed (data-focus), else `fallback`.
function focusFirst(root, fallback) {
  const target = root.querySelector("[autofocus]") || root.querySelector("[data-focus]") || fallback;
  if (target) target.focus();
  return Boolean(target);
}

function openModal(dialog) {
  if (dialog.open) return;
  const opener = lastActive && lastActive !== document.body ? lastActive : null;
  openers.set(dialog, {
    element: opener,
    top: opener ? opener.getBoundingClientRect().top : null,
    // To find the opener again if it is replaced meanwhile (a table row updated
    // after Save): the nearest element with an id, and which link or button in it.
    ...(opener ? locate(opener) : {}),
  });
  dialog.showModal();
  focusFirst(dialog, dialog.querySelector(".dialog-title"));
  dialog.addEventListener("close", () => restoreFocus(dialog), { once: true });
}

function controlsIn(root) {
  return Array.from(root.querySelectorAll("a[href], button"));
}

function locate(element) {
  const anchor = element.id ? element : element.parentElement.closest("[id]");
  if (!anchor) return {};
  return {
    anchorId: anchor.id,
    index: element === anchor ? -1 : controlsIn(anchor).indexOf(element),
    // The same control is found by its kind and words first: the new element
    // may have gained or lost controls ("Send reminder" once MFA is reset).
    tag: element.tagName,
    text: element.textContent.trim(),
  };
}

function relocate(opener) {
  const anchor = opener.anchorId ? document.getElementById(opener.anchorId) : null;
  if (!anchor || opener.index === -1) return anchor;
  const controls = controlsIn(anchor);
  const same = controls.filter((c) => c.tagName === opener.tag && c.textContent.trim() === opener.text);
  return (same.length === 1 ? same[0] : controls[opener.index]) || null;
}

function restoreFocus(dialog) {
  const opener = openers.get(dialog) || {};
  let target = opener.element && opener.element.isConnected ? opener.element : null;
  // The opener may have been replaced meanwhile (a row updated after Save).
  if (!target) target = relocate(opener);
  if (!target && dialog.dataset.returnFocus) target = document.querySelector(dialog.dataset.returnFocus);
  dialog.remove(); // the next opening fetches it afresh
  if (!target) {
    document.getElementById("main").focus();
    return;
  }
  target.focus({ preventScroll: true });
  // Keep the opener where it was on screen (a message above it may have
  // pushed the page down), so the list does not jump.
  if (opener.top !== null) window.scrollBy(0, target.getBoundingClientRect().top - opener.top);
  target.scrollIntoView({ block: "nearest" });
}

function isModal(dialog) {
  return Boolean(dialog && dialog.open && dialog.matches(":modal"));
}

// htmx:load fires for each element htmx adds, the dialog or an ancestor of it.
document.addEventListener("htmx:load", (event) => {
  const element = event.target;
  const dialogs = element.matches("dialog[data-modal]")
    ? [element]
    : element.querySelectorAll("dialog[data-modal]");
  dialogs.forEach(openModal);
});

// Cancel / Done: close in place instead of following the link.
document.addEventListener("click", (event) => {
  const control = event.target.closest ? event.target.closest("[data-dialog-close]") : null;
  if (!control) return;
  const dialog = control.closest("dialog");
  if (!isModal(dialog)) return;
  event.preventDefault();
  dialog.close();
});

function closeModals() {
  document.querySelectorAll("dialog[open]").forEach((dialog) => {
    if (isModal(dialog)) dialog.close();
  });
}

// The server's answer to a successful action (webapp.dialogs.close_dialog).
document.addEventListener("closeDialog", closeModals);

// An error page replaces the page's main content (webapp.errors): show it, not
// a dialog over it.
document.addEventListener("htmx:afterSwap", (event) => {
  if (event.detail.target && event.detail.target.id === "main") closeModals();
});

// Keep Tab and Shift+Tab inside the open modal, wrapping at either end.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Tab") return;
  const dialog = Array.from(document.querySelectorAll("dialog[open]")).find(isModal);
  if (!dialog) return;
  const items = focusables(dialog);
  if (!items.length) return;
  const first = items[0];
  const last = items[items.length - 1];
  const inside = dialog.contains(document.activeElement);
  if (event.shiftKey && (!inside || document.activeElement === first || document.activeElement === dialog.querySelector(".dialog-title"))) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && (!inside || document.activeElement === last)) {
    event.preventDefault();
    first.focus();
  }
});

// --- Focus after a swap -------------------------------------------------------
// A swap replaces what had focus; put focus where a page load would (the field
// to fill in), or on what changed, so keyboard users are not sent to the top.
document.addEventListener("htmx:afterSettle", (event) => {
  const target = event.detail.elt;
  if (!target || !target.querySelector || !target.isConnected) return;
  if (focusFirst(target, null)) return;
  const dialog = target.closest("dialog");
  if (dialog && !dialog.contains(document.activeElement)) {
    dialog.querySelector(".dialog-title").focus();
  }
});

// The focused control's element replaced by a swap (a row's "Send reminder",
// its row updated out of band): focus the control in the same place of the new one.
let swapOrigin = null;
document.addEventListener("htmx:beforeRequest", () => {
  const element = document.activeElement;
  // Dialogs return focus their own way (restoreFocus).
  const plain = element && element !== document.body && !element.closest("dialog");
  swapOrigin = plain ? { element, ...locate(element) } : null;
});
document.addEventListener("htmx:afterSettle", () => {
  if (!swapOrigin || swapOrigin.element.isConnected) return;
  if (document.querySelector("dialog:modal")) return;
  // Someone already went on (typing in the search box right after a sort):
  // focus is theirs, not to be pulled back.
  const current = document.activeElement;
  if (current && current !== document.body && current.isConnected) {
    swapOrigin = null;
    return;
  }
  const target = relocate(swapOrigin);
  swapOrigin = null;
  if (target && target !== document.body) target.focus({ preventScroll: true });
});

// --- Copy buttons ------------------------------------------------------------
// data-copy names the element whose text goes to the clipboard (one line per
// list item, so recovery codes paste one per line).
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
