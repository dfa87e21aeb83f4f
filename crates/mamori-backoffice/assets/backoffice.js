// mamori back office: the only script of every back-office page, served from the back office
// itself under a content-hashed name and loaded with the page's CSP nonce. No inline script, no
// third party. It does three things:
//   1. stops a form from being sent twice by a double click;
//   2. runs the WebAuthn ceremonies (passkey registration and sign-in) for buttons marked
//      data-webauthn="register" | "authenticate", posting JSON with base64url fields;
//   3. uploads a product image chosen in an input marked data-upload (raw bytes, CSRF header).
(function () {
  "use strict";

  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (f.dataset.sent) { e.preventDefault(); return; }
    f.dataset.sent = "1";
  });

  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }

  function b64urlToBuf(s) {
    var b64 = s.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }

  function bufToB64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) { bin += String.fromCharCode(bytes[i]); }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().catch(function () { return { ok: false }; }).then(function (j) {
        if (!r.ok && j.ok === undefined) { j.ok = false; }
        return j;
      });
    });
  }

  function show(btn, text) {
    var out = document.getElementById(btn.dataset.status || "webauthn-status");
    if (out) { out.textContent = text; out.hidden = false; }
  }

  function creationOptions(o) {
    var pk = o.publicKey;
    pk.challenge = b64urlToBuf(pk.challenge);
    pk.user.id = b64urlToBuf(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
    return { publicKey: pk };
  }

  function requestOptions(o) {
    var pk = o.publicKey;
    pk.challenge = b64urlToBuf(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
    return { publicKey: pk };
  }

  function registration(cred) {
    return {
      id: cred.id,
      rawId: bufToB64url(cred.rawId),
      type: cred.type,
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: {
        attestationObject: bufToB64url(cred.response.attestationObject),
        clientDataJSON: bufToB64url(cred.response.clientDataJSON)
      }
    };
  }

  function assertion(cred) {
    var r = cred.response;
    return {
      id: cred.id,
      rawId: bufToB64url(cred.rawId),
      type: cred.type,
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: {
        authenticatorData: bufToB64url(r.authenticatorData),
        clientDataJSON: bufToB64url(r.clientDataJSON),
        signature: bufToB64url(r.signature),
        userHandle: r.userHandle ? bufToB64url(r.userHandle) : null
      }
    };
  }

  function ceremony(btn) {
    var kind = btn.dataset.webauthn;
    var label = document.getElementById("passkey-label");
    var begin = label ? { label: label.value } : {};
    btn.disabled = true;
    show(btn, btn.dataset.working || "…");
    post(btn.dataset.begin, begin).then(function (ch) {
      if (!ch.ok) { throw new Error(ch.message || "begin"); }
      if (kind === "register") {
        return navigator.credentials.create(creationOptions(ch.options)).then(registration);
      }
      return navigator.credentials.get(requestOptions(ch.options)).then(assertion);
    }).then(function (cred) {
      return post(btn.dataset.finish, cred);
    }).then(function (res) {
      if (!res.ok) { throw new Error(res.message || "finish"); }
      window.location.assign(res.redirect || "/");
    }).catch(function (err) {
      btn.disabled = false;
      show(btn, (err && err.message && err.message.length > 12) ? err.message : (btn.dataset.failed || "Failed"));
    });
  }

  document.querySelectorAll("[data-webauthn]").forEach(function (btn) {
    if (!window.PublicKeyCredential) {
      btn.disabled = true;
      show(btn, btn.dataset.unsupported || "WebAuthn unavailable");
      return;
    }
    btn.addEventListener("click", function (e) { e.preventDefault(); ceremony(btn); });
  });

  document.querySelectorAll("[data-upload]").forEach(function (btn) {
    btn.addEventListener("click", function (e) {
      e.preventDefault();
      var input = document.getElementById(btn.dataset.input);
      if (!input || !input.files || !input.files[0]) { return; }
      var file = input.files[0];
      btn.disabled = true;
      fetch(btn.dataset.upload, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": file.type || "application/octet-stream", "X-CSRF-Token": csrf() },
        body: file
      }).then(function (r) {
        window.location.assign(r.redirected ? r.url : window.location.pathname + (r.ok ? "?uploaded=1" : "?upload_failed=1"));
      });
    });
  });
})();
