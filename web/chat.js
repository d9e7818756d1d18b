/* Demo chat page: socket.io client of Rasa's AuthenticatedSocketIOInput.
 *
 * The user token comes from the page URL (?token=...). It is sent with the connection
 * (auth.token) and in every message's metadata (metadata.auth_token); the server verifies
 * it. Without a (valid) token the user is anonymous and gets general answers only.
 * All bot text is inserted with textContent, never innerHTML.
 */
(function () {
  "use strict";

  function meta(name, fallback) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return (el && el.getAttribute("content")) || fallback;
  }

  var RASA_URL = meta("rasa-url", "http://127.0.0.1:5005");
  var SOCKETIO_PATH = meta("rasa-socketio-path", "/socket.io");
  var TOKEN = (new URLSearchParams(window.location.search).get("token") || "").trim();

  var messagesEl = document.getElementById("messages");
  var form = document.getElementById("composer");
  var input = document.getElementById("text");
  var sendButton = document.getElementById("send");
  var identityEl = document.getElementById("identity");
  var connectionEl = document.getElementById("connection");

  var sessionId = null;

  // ---- identity banner (display only: the server is the one that verifies) ----

  function unverifiedEmail(token) {
    try {
      var part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      while (part.length % 4) part += "=";
      var bytes = Uint8Array.from(atob(part), function (c) { return c.charCodeAt(0); });
      var claims = JSON.parse(new TextDecoder().decode(bytes));
      return typeof claims.sub === "string" ? claims.sub : null;
    } catch (e) {
      return null;
    }
  }

  if (TOKEN) {
    var email = unverifiedEmail(TOKEN);
    identityEl.textContent = email
      ? "Accesso come " + email + " (il token viene verificato dal server)."
      : "Token presente (viene verificato dal server).";
  } else {
    identityEl.textContent = "Non hai effettuato l'accesso: ricevi solo risposte generali";
    identityEl.classList.add("anonymous");
  }

  // ---- session id kept across reloads (one per token, so another user starts afresh) ----

  function storageKey() {
    var h = 0;
    for (var i = 0; i < TOKEN.length; i++) h = (h * 31 + TOKEN.charCodeAt(i)) | 0;
    return "billing-chat-session:" + (h >>> 0).toString(16);
  }

  function loadSession() {
    try { return window.sessionStorage.getItem(storageKey()); } catch (e) { return null; }
  }

  function saveSession(id) {
    try { window.sessionStorage.setItem(storageKey(), id); } catch (e) { /* private mode */ }
  }

  // ---- rendering ----

  function scrollDown() {
    messagesEl.scrollTop = messagesEl.scrollHeight;
  }

  function addMessage(kind, text) {
    var li = document.createElement("li");
    li.className = "msg msg--" + kind;
    var p = document.createElement("div");
    p.className = "msg__text";
    p.textContent = text;
    li.appendChild(p);
    messagesEl.appendChild(li);
    scrollDown();
    return li;
  }

  function addButtons(li, buttons) {
    var box = document.createElement("div");
    box.className = "msg__buttons";
    buttons.forEach(function (b) {
      if (!b || typeof b.payload !== "string") return;
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = typeof b.title === "string" ? b.title : b.payload;
      button.addEventListener("click", function () {
        if (!sessionId) return;
        Array.prototype.forEach.call(box.querySelectorAll("button"), function (x) {
          x.disabled = true;
        });
        send(b.payload, button.textContent);
      });
      box.appendChild(button);
    });
    li.appendChild(box);
    scrollDown();
  }

  function renderBot(data) {
    if (!data || typeof data !== "object") return;
    var buttons = data.quick_replies || data.buttons || [];
    var text = typeof data.text === "string" ? data.text : "";
    if (!text && data.attachment && data.attachment.payload && data.attachment.payload.src) {
      text = "Allegato: " + data.attachment.payload.src;
    }
    if (!text && !buttons.length) return;
    var li = addMessage("bot", text);
    if (Array.isArray(buttons) && buttons.length) addButtons(li, buttons);
  }

  // ---- socket.io ----

  function setReady(ready) {
    input.disabled = !ready;
    sendButton.disabled = !ready;
    if (ready) input.focus();
  }

  var socket = io(RASA_URL, {
    path: SOCKETIO_PATH,
    auth: TOKEN ? { token: TOKEN } : {},
    transports: ["websocket", "polling"],
  });

  socket.on("connect", function () {
    connectionEl.textContent = "Connesso.";
    // On every (re)connection: join the conversation's room again.
    socket.emit("session_request", { session_id: sessionId || loadSession() });
  });

  socket.on("session_confirm", function (id) {
    sessionId = typeof id === "string" ? id : (id && id.session_id) || null;
    if (sessionId) saveSession(sessionId);
    setReady(!!sessionId);
  });

  socket.on("bot_uttered", renderBot);

  socket.on("disconnect", function () {
    connectionEl.textContent = "Disconnesso: riconnessione in corso…";
    setReady(false);
  });

  socket.on("connect_error", function () {
    connectionEl.textContent = "Server dell'assistente non raggiungibile: nuovo tentativo in corso…";
    setReady(false);
  });

  function send(payload, shownText) {
    var metadata = TOKEN ? { auth_token: TOKEN } : {};
    addMessage("user", shownText);
    socket.emit("user_uttered", { message: payload, session_id: sessionId, metadata: metadata });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text || !sessionId) return;
    input.value = "";
    send(text, text);
  });
})();
