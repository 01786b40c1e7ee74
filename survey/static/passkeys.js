// Passkeys (WebAuthn): adding one on the sign-in security page, and the second sign-in step
// with one. The server (survey/staff/passkeys.py) makes and checks every challenge; this file
// only carries bytes between it and the browser's authenticator. A button names its endpoints
// in data-options and data-url; messages go to the element named by data-status (aria-live).
(function () {
  "use strict";

  function fromBase64url(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
  }

  function toBase64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    bytes.forEach((b) => { binary += String.fromCharCode(b); });
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function csrfToken() {
    const field = document.querySelector("input[name=csrf_token]");
    return field ? field.value : "";
  }

  async function post(url, body) {
    const answer = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await answer.json(); } catch (e) { data = {}; }
    return { ok: answer.ok, data: data };
  }

  function credentialJSON(credential) {
    const r = credential.response;
    const out = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: { clientDataJSON: toBase64url(r.clientDataJSON) },
      clientExtensionResults: credential.getClientExtensionResults(),
    };
    if (r.attestationObject) {
      out.response.attestationObject = toBase64url(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    }
    if (r.authenticatorData) {
      out.response.authenticatorData = toBase64url(r.authenticatorData);
      out.response.signature = toBase64url(r.signature);
      out.response.userHandle = r.userHandle ? toBase64url(r.userHandle) : null;
    }
    return out;
  }

  function descriptors(list) {
    return (list || []).map((d) => Object.assign({}, d, { id: fromBase64url(d.id) }));
  }

  async function addPasskey(button, say) {
    const options = await post(button.dataset.options);
    if (!options.ok) { say(options.data.error); return; }
    const o = options.data;
    o.challenge = fromBase64url(o.challenge);
    o.user.id = fromBase64url(o.user.id);
    o.excludeCredentials = descriptors(o.excludeCredentials);
    const credential = await navigator.credentials.create({ publicKey: o });
    const name = document.getElementById(button.dataset.name);
    const saved = await post(button.dataset.url, {
      name: name ? name.value : "",
      credential: credentialJSON(credential),
    });
    if (saved.ok) { window.location.assign(saved.data.next); } else { say(saved.data.error); }
  }

  async function signIn(button, say) {
    const options = await post(button.dataset.options);
    if (!options.ok) { say(options.data.error); return; }
    const o = options.data;
    o.challenge = fromBase64url(o.challenge);
    o.allowCredentials = descriptors(o.allowCredentials);
    const credential = await navigator.credentials.get({ publicKey: o });
    const checked = await post(button.dataset.url, credentialJSON(credential));
    if (checked.ok) { window.location.assign(checked.data.next); } else { say(checked.data.error); }
  }

  document.querySelectorAll("button[data-passkey]").forEach((button) => {
    const status = document.getElementById(button.dataset.status);
    const say = (text) => { if (status) { status.textContent = text || button.dataset.failed; } };
    if (!window.PublicKeyCredential) {
      button.disabled = true;
      say(button.dataset.unsupported);
      return;
    }
    button.addEventListener("click", () => {
      say("");
      const ceremony = button.dataset.passkey === "add" ? addPasskey : signIn;
      ceremony(button, say).catch(() => say(button.dataset.failed));
    });
  });
})();
