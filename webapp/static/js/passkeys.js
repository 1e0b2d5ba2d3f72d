// Passkeys: the browser half of the WebAuthn ceremonies (the server half is
// webapp/passkeys). A [data-passkey-options] button fetches the options from
// its URL, asks the browser to create or use a passkey, puts the answer (JSON,
// binary fields as base64url) in its form's field (`credential`, or the one
// its data-passkey-field names: "Confirm it's you" has `passkey_assertion`,
// disabled until then) and submits the form (htmx takes over where the form
// has hx-post). Elements marked data-passkey stay hidden unless this browser
// has WebAuthn. No inline script (CSP).
"use strict";

(() => {
  const supported = Boolean(window.PublicKeyCredential && navigator.credentials && window.isSecureContext);

  // A form marked data-passkey-platform (the sign-in page's passwordless
  // button) shows only where this device can check a passkey itself: a screen
  // lock or biometrics (isUserVerifyingPlatformAuthenticatorAvailable). Elsewhere
  // people sign in with their password and meet "Use a passkey" at the next step,
  // and the sign-in page keeps one "Sign in" button.
  const platform = supported && PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable
    ? PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable().catch(() => false)
    : Promise.resolve(false);

  function reveal(root) {
    if (!supported || !root.querySelectorAll) return;
    root.querySelectorAll("[data-passkey][hidden]").forEach((element) => {
      if (element.hasAttribute("data-passkey-platform")) {
        platform.then((available) => { element.hidden = !available; });
      } else {
        element.hidden = false;
      }
    });
  }

  function fromBase64url(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
    return Uint8Array.from(binary, (ch) => ch.charCodeAt(0)).buffer;
  }

  function toBase64url(buffer) {
    const binary = String.fromCharCode(...new Uint8Array(buffer));
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map((item) => ({ ...item, id: fromBase64url(item.id) }));
  }

  function creationOptions(json) {
    return {
      ...json,
      challenge: fromBase64url(json.challenge),
      user: { ...json.user, id: fromBase64url(json.user.id) },
      excludeCredentials: descriptors(json.excludeCredentials),
    };
  }

  function requestOptions(json) {
    return { ...json, challenge: fromBase64url(json.challenge), allowCredentials: descriptors(json.allowCredentials) };
  }

  // The JSON py_webauthn parses (the shape of PublicKeyCredential.toJSON()).
  function serialize(credential) {
    const response = credential.response;
    const json = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toBase64url(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      json.response.attestationObject = toBase64url(response.attestationObject);
      if (response.getTransports) json.response.transports = response.getTransports();
    } else {
      json.response.authenticatorData = toBase64url(response.authenticatorData);
      json.response.signature = toBase64url(response.signature);
      if (response.userHandle) json.response.userHandle = toBase64url(response.userHandle);
    }
    return json;
  }

  function problem(error) {
    if (error && error.name === "NotAllowedError") {
      return "The passkey request was cancelled or timed out. Try again when you are ready.";
    }
    if (error && error.name === "InvalidStateError") return "This passkey is already added.";
    return (error && error.userMessage) || "Something went wrong with the passkey. Try again.";
  }

  async function options(url, form) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": form.elements.csrf_token.value, Accept: "application/json" },
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(`options: ${response.status}`);
      error.userMessage = body.error;
      throw error;
    }
    return body;
  }

  async function ceremony(button) {
    const form = button.form;
    const status = form.querySelector("[data-passkey-status]");
    status.textContent = "";
    button.disabled = true;
    try {
      const json = await options(button.dataset.passkeyOptions, form);
      const credential = button.dataset.passkeyCeremony === "create"
        ? await navigator.credentials.create({ publicKey: creationOptions(json) })
        : await navigator.credentials.get({ publicKey: requestOptions(json) });
      const field = form.elements[button.dataset.passkeyField || "credential"];
      field.value = JSON.stringify(serialize(credential));
      field.disabled = false;
      form.requestSubmit();
    } catch (error) {
      status.textContent = problem(error);
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest ? event.target.closest("[data-passkey-options]") : null;
    if (!button || !button.form) return;
    event.preventDefault();
    ceremony(button);
  });

  reveal(document);
  document.addEventListener("htmx:load", (event) => reveal(event.target));
})();
