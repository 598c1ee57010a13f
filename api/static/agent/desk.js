/*
 * Guichet — the agents' desk.
 *
 * A plain script (no framework, no build step) for the town-hall agents who take over conversations from the
 * assistant: sign in, watch the queue, claim a conversation, answer the citizen, hand it back, search the history.
 * Live updates come from the WebSocket /api/agent/ws; the REST API is the source of truth (the desk re-fetches
 * after every reconnection).
 *
 * Security: everything that comes from the server (citizens' messages, contacts, notes, names) is rendered with
 * textContent / text nodes. Nothing in this file assigns innerHTML.
 */
(function () {
  "use strict";

  var LANG_KEY = "guichet.agent.lang";
  var PING_INTERVAL_MS = 25000;
  var RECONNECT_MAX_MS = 30000;
  var PREVIEW_MESSAGES = 3;
  var PREVIEW_CHARS = 160;
  var LIST_MESSAGES = 20;
  var LIST_LIMIT = 200;
  var STAFF_ROLES = ["agent", "admin"];

  // ------------------------------------------------------------------------------------------------------------
  // Interface texts
  // ------------------------------------------------------------------------------------------------------------

  var STRINGS = {
    fr: {
      pageTitle: "Guichet — Bureau des agents",
      skip: "Aller au contenu principal",
      subtitle: "Bureau des agents",
      deskTitle: "Bureau des agents",
      switchTo: "English",
      switchToLabel: "Switch the interface to English",
      signedInAs: "Connecté·e : {name}",
      signOut: "Se déconnecter",
      signOutOther: "Changer de compte",
      dismiss: "Fermer",
      loginTitle: "Connexion des agents",
      loginIntro: "Identifiez-vous avec le compte que la mairie vous a attribué.",
      username: "Identifiant",
      password: "Mot de passe",
      signIn: "Se connecter",
      signingIn: "Connexion…",
      loginMissing: "Saisissez votre identifiant et votre mot de passe.",
      err401: "Identifiant ou mot de passe incorrect.",
      err403: "Ce compte n'a pas accès au bureau des agents.",
      err429: "Trop de tentatives : patientez un moment avant de réessayer.",
      errNetwork: "Le serveur ne répond pas. Vérifiez la connexion et réessayez.",
      errGeneric: "Erreur inattendue du serveur ({status}).",
      deniedTitle: "Accès refusé",
      deniedRole: "Le compte « {name} » (rôle : {role}) n'a pas accès au bureau des agents. Il faut un compte d'agent.",
      sessionExpired: "Votre session a expiré : reconnectez-vous.",
      connLive: "En direct",
      connConnecting: "Connexion au direct…",
      connReconnecting: "Direct interrompu, reconnexion…",
      tabQueue: "File d'attente",
      tabActive: "En cours",
      tabHistory: "Historique",
      queueTitle: "Conversations en attente",
      queueEmpty: "Personne n'attend pour le moment.",
      mineTitle: "Mes conversations",
      mineEmpty: "Aucune conversation en cours.",
      othersTitle: "Prises par d'autres agents",
      othersEmpty: "Aucune.",
      historyTitle: "Conversations fermées",
      historySearchLabel: "Rechercher dans l'historique",
      historyPlaceholder: "un mot des échanges, un contact, une référence…",
      search: "Rechercher",
      searching: "Recherche…",
      historyNone: "Aucune conversation fermée ne correspond.",
      historyCount1: "1 conversation fermée.",
      historyCountN: "{n} conversations fermées.",
      reason_requested: "a demandé une personne",
      reason_misunderstood: "incompréhensions répétées",
      reason_not_helpful: "la réponse n'a pas aidé",
      reason_frustration: "frustration",
      lang_fr: "français",
      lang_en: "anglais",
      ticket: "Ticket",
      ticketHelp: "Message laissé quand aucun agent n'était disponible",
      contact: "Contact : {contact}",
      noContact: "Aucun contact laissé",
      note: "Note : {note}",
      reference: "Réf. {ref}",
      waitingFor: "attend depuis {d}",
      claimedAt: "prise en charge à {time}",
      closedAt: "fermée le {date}",
      withAgent: "avec {name}",
      claim: "Prendre en charge",
      view: "Voir",
      open: "Ouvrir",
      unread: "Nouveau message",
      taken: "Un autre agent a pris cette conversation.",
      alreadyClosed: "Cette conversation est déjà fermée.",
      notYours: "Cette conversation n'est plus à vous : elle a été reprise ou fermée.",
      noMessages: "Aucun message.",
      noneOpen: "Choisissez une conversation dans la file d'attente ou dans vos conversations en cours.",
      hidePanel: "Fermer le panneau",
      conversationTitle: "Conversation {ref}",
      transcriptLabel: "Échanges",
      author_citizen: "Citoyen·ne",
      author_bot: "Assistant",
      author_agent: "Agent",
      author_system: "Système",
      stateMine: "Vous traitez cette conversation.",
      stateOther: "Prise en charge par {name} — lecture seule.",
      stateWaiting: "En attente — prenez-la en charge pour répondre.",
      stateClosed: "Conversation fermée — lecture seule.",
      replyLabel: "Votre réponse (en {lang})",
      replyHint: "Entrée pour envoyer, Maj+Entrée pour aller à la ligne.",
      send: "Envoyer",
      sendFailed: "Le message n'a pas été envoyé : {detail}",
      cannedSummary: "Réponses types (en {lang})",
      cannedNone: "Aucune réponse type dans cette langue.",
      release: "Remettre dans la file",
      resumeBot: "Rendre la main à l'assistant",
      close: "Clore la conversation",
      closedDone: "Conversation close.",
      closedDoneBot: "Conversation close : l'assistant a repris la main.",
      releasedDone: "Conversation remise dans la file d'attente.",
      announceWaiting: "Nouvelle conversation en attente ({lang}) : {reason}.",
      announceReleased: "Une conversation est revenue dans la file d'attente.",
      announceMessage: "Nouveau message du citoyen dans une de vos conversations.",
      announceOpened: "Conversation ouverte.",
      durationS: "{s} s",
      durationM: "{m} min {s} s",
      durationH: "{h} h {m} min",
      colon: " : "
    },
    en: {
      pageTitle: "Guichet — Agents' desk",
      skip: "Skip to main content",
      subtitle: "Agents' desk",
      deskTitle: "Agents' desk",
      switchTo: "Français",
      switchToLabel: "Passer l'interface en français",
      signedInAs: "Signed in: {name}",
      signOut: "Sign out",
      signOutOther: "Use another account",
      dismiss: "Dismiss",
      loginTitle: "Agents' sign-in",
      loginIntro: "Sign in with the account the town hall gave you.",
      username: "Username",
      password: "Password",
      signIn: "Sign in",
      signingIn: "Signing in…",
      loginMissing: "Enter your username and your password.",
      err401: "Wrong username or password.",
      err403: "This account has no access to the agents' desk.",
      err429: "Too many attempts: wait a moment before trying again.",
      errNetwork: "The server does not answer. Check the connection and try again.",
      errGeneric: "Unexpected server error ({status}).",
      deniedTitle: "Access denied",
      deniedRole: "The account “{name}” (role: {role}) has no access to the agents' desk. An agent account is needed.",
      sessionExpired: "Your session has expired: please sign in again.",
      connLive: "Live",
      connConnecting: "Connecting…",
      connReconnecting: "Live updates lost, reconnecting…",
      tabQueue: "Queue",
      tabActive: "Active",
      tabHistory: "History",
      queueTitle: "Waiting conversations",
      queueEmpty: "Nobody is waiting right now.",
      mineTitle: "My conversations",
      mineEmpty: "No active conversation.",
      othersTitle: "Taken by other agents",
      othersEmpty: "None.",
      historyTitle: "Closed conversations",
      historySearchLabel: "Search the history",
      historyPlaceholder: "a word of the exchange, a contact, a reference…",
      search: "Search",
      searching: "Searching…",
      historyNone: "No closed conversation matches.",
      historyCount1: "1 closed conversation.",
      historyCountN: "{n} closed conversations.",
      reason_requested: "asked for a person",
      reason_misunderstood: "repeated misunderstanding",
      reason_not_helpful: "answer did not help",
      reason_frustration: "frustration",
      lang_fr: "French",
      lang_en: "English",
      ticket: "Ticket",
      ticketHelp: "Message left while no agent was available",
      contact: "Contact: {contact}",
      noContact: "No contact left",
      note: "Note: {note}",
      reference: "Ref. {ref}",
      waitingFor: "waiting for {d}",
      claimedAt: "claimed at {time}",
      closedAt: "closed on {date}",
      withAgent: "with {name}",
      claim: "Claim",
      view: "View",
      open: "Open",
      unread: "New message",
      taken: "Another agent has taken this conversation.",
      alreadyClosed: "This conversation is already closed.",
      notYours: "This conversation is no longer yours: it was taken over or closed.",
      noMessages: "No messages.",
      noneOpen: "Pick a conversation from the queue or from your active conversations.",
      hidePanel: "Close the panel",
      conversationTitle: "Conversation {ref}",
      transcriptLabel: "Exchange",
      author_citizen: "Citizen",
      author_bot: "Assistant",
      author_agent: "Agent",
      author_system: "System",
      stateMine: "You are handling this conversation.",
      stateOther: "Handled by {name} — read only.",
      stateWaiting: "Waiting — claim it to answer.",
      stateClosed: "Closed conversation — read only.",
      replyLabel: "Your reply (in {lang})",
      replyHint: "Enter sends, Shift+Enter starts a new line.",
      send: "Send",
      sendFailed: "The message was not sent: {detail}",
      cannedSummary: "Canned responses (in {lang})",
      cannedNone: "No canned response in this language.",
      release: "Back to the queue",
      resumeBot: "Hand back to the assistant",
      close: "Close the conversation",
      closedDone: "Conversation closed.",
      closedDoneBot: "Conversation closed: the assistant has taken it back.",
      releasedDone: "Conversation put back in the queue.",
      announceWaiting: "New waiting conversation ({lang}): {reason}.",
      announceReleased: "A conversation came back to the queue.",
      announceMessage: "New message from a citizen in one of your conversations.",
      announceOpened: "Conversation opened.",
      durationS: "{s} s",
      durationM: "{m} min {s} s",
      durationH: "{h} h {m} min",
      colon: ": "
    }
  };

  function storedLanguage() {
    try {
      var stored = window.localStorage.getItem(LANG_KEY);
      return stored === "en" || stored === "fr" ? stored : "fr";
    } catch (error) {
      return "fr";
    }
  }

  var uiLang = storedLanguage();

  /** The interface text `key` in the interface language, with `{name}` placeholders filled from `vars`. */
  function t(key, vars) {
    var table = STRINGS[uiLang];
    var text = Object.prototype.hasOwnProperty.call(table, key) ? table[key] : STRINGS.fr[key];
    if (text === undefined) {
      return key;
    }
    if (vars) {
      text = text.replace(/\{(\w+)\}/g, function (whole, name) {
        return Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : whole;
      });
    }
    return text;
  }

  function reasonLabel(reason) {
    var key = "reason_" + reason;
    return Object.prototype.hasOwnProperty.call(STRINGS.fr, key) ? t(key) : String(reason || "");
  }

  function languageName(code) {
    var key = "lang_" + code;
    return Object.prototype.hasOwnProperty.call(STRINGS.fr, key) ? t(key) : String(code || "");
  }

  function authorLabel(author) {
    var key = "author_" + author;
    return Object.prototype.hasOwnProperty.call(STRINGS.fr, key) ? t(key) : String(author || "");
  }

  function locale() {
    return uiLang === "fr" ? "fr-FR" : "en-GB";
  }

  function formatTime(iso) {
    var date = new Date(iso);
    if (isNaN(date.getTime())) {
      return "";
    }
    return new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit" }).format(date);
  }

  function formatDateTime(iso) {
    var date = new Date(iso);
    if (isNaN(date.getTime())) {
      return "";
    }
    return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short" }).format(date);
  }

  function pad2(number) {
    return number < 10 ? "0" + number : String(number);
  }

  function formatDuration(seconds) {
    var total = Math.max(0, Math.floor(seconds));
    if (total < 60) {
      return t("durationS", { s: total });
    }
    if (total < 3600) {
      return t("durationM", { m: Math.floor(total / 60), s: pad2(total % 60) });
    }
    return t("durationH", { h: Math.floor(total / 3600), m: pad2(Math.floor((total % 3600) / 60)) });
  }

  function truncate(text, length) {
    var value = String(text == null ? "" : text);
    return value.length > length ? value.slice(0, length - 1) + "…" : value;
  }

  // ------------------------------------------------------------------------------------------------------------
  // DOM helpers (text only: never innerHTML)
  // ------------------------------------------------------------------------------------------------------------

  function $(id) {
    return document.getElementById(id);
  }

  /**
   * Create an element. `props`: "class", "text" (textContent), "dataset" (object), "on<event>" (listener), any
   * other key becomes an attribute (true → empty attribute; null/false/undefined → skipped). Children: nodes or
   * strings (appended as text nodes).
   */
  function el(tag, props) {
    var node = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (key) {
        var value = props[key];
        if (value === null || value === undefined || value === false) {
          return;
        }
        if (key === "class") {
          node.className = value;
        } else if (key === "text") {
          node.textContent = String(value);
        } else if (key === "dataset") {
          Object.keys(value).forEach(function (name) {
            node.dataset[name] = String(value[name]);
          });
        } else if (key.indexOf("on") === 0 && typeof value === "function") {
          node.addEventListener(key.slice(2), value);
        } else {
          node.setAttribute(key, value === true ? "" : String(value));
        }
      });
    }
    for (var index = 2; index < arguments.length; index += 1) {
      appendChildren(node, arguments[index]);
    }
    return node;
  }

  function appendChildren(node, child) {
    if (child === null || child === undefined || child === false) {
      return;
    }
    if (Array.isArray(child)) {
      child.forEach(function (item) {
        appendChildren(node, item);
      });
    } else if (typeof child === "string" || typeof child === "number") {
      node.appendChild(document.createTextNode(String(child)));
    } else {
      node.appendChild(child);
    }
  }

  function cssEscape(value) {
    return window.CSS && window.CSS.escape ? window.CSS.escape(value) : String(value).replace(/["\\]/g, "\\$&");
  }

  /** Re-render a list without losing the keyboard focus of a button inside one of its items. */
  function withFocusKept(container, render) {
    var active = document.activeElement;
    var key = null;
    if (active && container.contains(active)) {
      var item = active.closest("[data-handoff-id]");
      if (item && active.dataset.action) {
        key = { id: item.dataset.handoffId, action: active.dataset.action };
      }
    }
    render();
    if (key) {
      var again = container.querySelector(
        '[data-handoff-id="' + cssEscape(key.id) + '"] [data-action="' + cssEscape(key.action) + '"]'
      );
      if (again) {
        again.focus();
      }
    }
  }

  // ------------------------------------------------------------------------------------------------------------
  // API
  // ------------------------------------------------------------------------------------------------------------

  function ApiError(status, detail) {
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
    this.message = detail || "HTTP " + status;
  }
  ApiError.prototype = Object.create(Error.prototype);

  function api(method, path, body) {
    var init = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(
      function (response) {
        return response.text().then(function (text) {
          var data = null;
          if (text) {
            try {
              data = JSON.parse(text);
            } catch (error) {
              data = null;
            }
          }
          if (!response.ok) {
            var detail = data && typeof data.detail === "string" ? data.detail : null;
            throw new ApiError(response.status, detail);
          }
          return data;
        });
      },
      function () {
        throw new ApiError(0, null);
      }
    );
  }

  /** A staff call: a 401 ends the session on the desk, a 403 shows that the account may not use it. */
  function staff(method, path, body) {
    return api(method, path, body).catch(function (error) {
      if (error instanceof ApiError && state.me) {
        if (error.status === 401) {
          sessionExpired();
        } else if (error.status === 403) {
          showRoleDenied(state.me);
        }
      }
      throw error;
    });
  }

  function errorText(error) {
    if (!(error instanceof ApiError)) {
      return t("errGeneric", { status: "?" });
    }
    if (error.status === 0) {
      return t("errNetwork");
    }
    if (error.detail) {
      return error.detail;
    }
    return t("errGeneric", { status: error.status });
  }

  function handoffPath(id, action) {
    return "/api/handoffs/" + encodeURIComponent(id) + (action ? "/" + action : "");
  }

  // ------------------------------------------------------------------------------------------------------------
  // State
  // ------------------------------------------------------------------------------------------------------------

  var state = {
    me: null,
    waiting: new Map(),
    active: new Map(),
    history: [],
    historyLoaded: false,
    historyQuery: "",
    historyRequest: 0,
    canned: { fr: [], en: [] },
    unread: new Set(),
    drafts: new Map(),
    open: null, // {id, handoff, seqs: Set, lastSeq, list: li[]}
    openRequest: 0,
    tab: "queue",
    refreshing: null,
    refreshAgain: false,
    sending: false
  };

  var socketState = {
    socket: null,
    wanted: false,
    attempts: 0,
    timer: null,
    ping: null
  };

  var clockTimer = null;

  function isMine(handoff) {
    return Boolean(state.me && handoff && handoff.status === "active" && handoff.assignee === state.me.username);
  }

  function stamp(handoff) {
    handoff._receivedAt = Date.now();
    return handoff;
  }

  /** Put a handoff in the list of its status (waiting, active) and out of the others. */
  function upsert(handoff) {
    stamp(handoff);
    var previous = state.waiting.get(handoff.id) || state.active.get(handoff.id);
    if (previous && (!handoff.transcript || !handoff.transcript.length) && previous.transcript) {
      handoff.transcript = previous.transcript;
    }
    state.waiting.delete(handoff.id);
    state.active.delete(handoff.id);
    if (handoff.status === "waiting") {
      state.waiting.set(handoff.id, handoff);
    } else if (handoff.status === "active") {
      state.active.set(handoff.id, handoff);
    } else {
      state.unread.delete(handoff.id);
    }
    if (state.open && state.open.id === handoff.id) {
      var transcript = handoff.transcript;
      state.open.handoff = handoff;
      renderConversationHeader();
      mergeTranscript(transcript);
    }
  }

  function mergeMessages(list, message) {
    var messages = (list || []).filter(function (item) {
      return item.seq !== message.seq;
    });
    messages.push(message);
    messages.sort(function (a, b) {
      return a.seq - b.seq;
    });
    return messages.slice(-LIST_MESSAGES);
  }

  function byCreated(a, b) {
    return String(a.created_at).localeCompare(String(b.created_at));
  }

  function waitedSeconds(handoff) {
    var base = Number(handoff.waited_seconds) || 0;
    if (handoff.status !== "waiting") {
      return base;
    }
    return base + (Date.now() - (handoff._receivedAt || Date.now())) / 1000;
  }

  // ------------------------------------------------------------------------------------------------------------
  // Static texts, language switch, title, announcements, notices
  // ------------------------------------------------------------------------------------------------------------

  function applyStaticTexts() {
    document.documentElement.lang = uiLang;
    document.querySelectorAll("[data-i18n]").forEach(function (node) {
      node.textContent = t(node.dataset.i18n);
    });
    document.querySelectorAll("[data-i18n-placeholder]").forEach(function (node) {
      node.setAttribute("placeholder", t(node.dataset.i18nPlaceholder));
    });
    var switcher = $("lang-switch");
    switcher.textContent = t("switchTo");
    switcher.setAttribute("lang", uiLang === "fr" ? "en" : "fr");
    switcher.setAttribute("aria-label", t("switchToLabel"));
    if (state.me) {
      $("whoami").textContent = t("signedInAs", { name: state.me.display_name || state.me.username });
    }
    updateConnectionText();
    updateTitle();
  }

  function setLanguage(language) {
    uiLang = language === "en" ? "en" : "fr";
    try {
      window.localStorage.setItem(LANG_KEY, uiLang);
    } catch (error) {
      // Private mode: the choice lasts for this page only.
    }
    applyStaticTexts();
    renderAll();
    if (state.open) {
      renderConversationHeader();
      renderTranscriptLabels();
    }
  }

  function updateTitle() {
    var count = state.me ? state.waiting.size : 0;
    document.title = (count > 0 ? "(" + count + ") " : "") + t("pageTitle");
  }

  var announceTimer = null;

  function announce(text) {
    var region = $("announcer");
    region.textContent = "";
    window.clearTimeout(announceTimer);
    // A short delay makes screen readers announce a text identical to the previous one.
    announceTimer = window.setTimeout(function () {
      region.textContent = text;
    }, 50);
  }

  function showNotice(text, kind) {
    var notice = $("notice");
    notice.dataset.kind = kind || "warning";
    $("notice-text").textContent = text;
    notice.hidden = false;
  }

  function hideNotice() {
    $("notice").hidden = true;
    $("notice-text").textContent = "";
  }

  // ------------------------------------------------------------------------------------------------------------
  // Sign-in, sign-out
  // ------------------------------------------------------------------------------------------------------------

  function showLogin(message) {
    $("desk-view").hidden = true;
    $("login-view").hidden = false;
    $("login-form").hidden = false;
    $("role-denied").hidden = true;
    $("whoami").hidden = true;
    $("logout-button").hidden = true;
    $("connection-status").hidden = true;
    var error = $("login-error");
    error.textContent = message || "";
    error.hidden = !message;
    updateTitle();
    $("login-username").focus();
  }

  function showRoleDenied(me) {
    stopLive();
    resetDesk();
    $("desk-view").hidden = true;
    $("login-view").hidden = false;
    $("login-form").hidden = true;
    $("role-denied").hidden = false;
    $("role-denied-text").textContent = t("deniedRole", {
      name: me.display_name || me.username,
      role: me.role
    });
    $("whoami").hidden = true;
    $("logout-button").hidden = true;
    $("connection-status").hidden = true;
    $("role-denied-logout").focus();
  }

  function signedIn(me) {
    if (STAFF_ROLES.indexOf(me.role) < 0) {
      showRoleDenied(me);
      return;
    }
    state.me = { username: me.username, display_name: me.display_name, role: me.role };
    hideNotice();
    $("login-view").hidden = true;
    $("desk-view").hidden = false;
    $("whoami").hidden = false;
    $("logout-button").hidden = false;
    $("login-password").value = "";
    applyStaticTexts();
    renderAll();
    showConversationPlaceholder();
    selectTab("queue", false);
    refreshAll();
    loadCanned();
    startLive();
    startClock();
    $("tab-queue").focus();
  }

  function sessionExpired() {
    stopLive();
    resetDesk();
    showLogin(t("sessionExpired"));
  }

  function resetDesk() {
    state.me = null;
    state.waiting.clear();
    state.active.clear();
    state.history = [];
    state.historyLoaded = false;
    state.historyQuery = "";
    state.unread.clear();
    state.drafts.clear();
    state.open = null;
    stopClock();
    $("history-search").value = "";
    $("queue-list").replaceChildren();
    $("mine-list").replaceChildren();
    $("others-list").replaceChildren();
    $("history-list").replaceChildren();
    showConversationPlaceholder();
    hideNotice();
    updateTitle();
  }

  function onLoginSubmit(event) {
    event.preventDefault();
    var username = $("login-username").value.trim();
    var password = $("login-password").value;
    var error = $("login-error");
    if (!username || !password) {
      error.textContent = t("loginMissing");
      error.hidden = false;
      (username ? $("login-password") : $("login-username")).focus();
      return;
    }
    var submit = $("login-submit");
    submit.disabled = true;
    submit.textContent = t("signingIn");
    error.hidden = true;
    api("POST", "/api/auth/login", { username: username, password: password })
      .then(function (session) {
        signedIn({ username: session.username, display_name: session.display_name, role: session.role });
      })
      .catch(function (failure) {
        var status = failure instanceof ApiError ? failure.status : -1;
        var text;
        if (status === 401) {
          text = t("err401");
        } else if (status === 403) {
          text = t("err403");
        } else if (status === 429) {
          text = t("err429");
        } else if (status === 422) {
          text = t("loginMissing");
        } else {
          text = errorText(failure);
        }
        error.textContent = text;
        error.hidden = false;
        $("login-password").value = "";
        $("login-password").focus();
      })
      .then(function () {
        submit.disabled = false;
        submit.textContent = t("signIn");
      });
  }

  function logout() {
    stopLive();
    api("POST", "/api/auth/logout")
      .catch(function () {
        return null;
      })
      .then(function () {
        resetDesk();
        showLogin(null);
      });
  }

  // ------------------------------------------------------------------------------------------------------------
  // Loading
  // ------------------------------------------------------------------------------------------------------------

  /** Re-fetch the queue, the active conversations, the open transcript (and the history when shown). */
  function refreshAll() {
    if (state.refreshing) {
      state.refreshAgain = true;
      return state.refreshing;
    }
    state.refreshing = Promise.all([
      staff("GET", "/api/handoffs?status=waiting&limit=" + LIST_LIMIT),
      staff("GET", "/api/handoffs?status=active&limit=" + LIST_LIMIT)
    ])
      .then(function (lists) {
        if (!state.me) {
          return null;
        }
        state.waiting.clear();
        state.active.clear();
        (lists[0] || []).forEach(upsert);
        (lists[1] || []).forEach(upsert);
        state.unread.forEach(function (id) {
          if (!state.active.has(id)) {
            state.unread.delete(id);
          }
        });
        renderAll();
        if (state.open) {
          return catchUpOpen();
        }
        return null;
      })
      .then(function () {
        if (state.me && state.tab === "history") {
          loadHistory(state.historyQuery);
        }
      })
      .catch(function (error) {
        if (state.me && !(error instanceof ApiError && (error.status === 401 || error.status === 403))) {
          showNotice(errorText(error));
        }
      })
      .then(function () {
        state.refreshing = null;
        if (state.refreshAgain) {
          state.refreshAgain = false;
          refreshAll();
        }
      });
    return state.refreshing;
  }

  function loadCanned() {
    staff("GET", "/api/canned-responses")
      .then(function (canned) {
        state.canned = {
          fr: (canned && Array.isArray(canned.fr)) ? canned.fr : [],
          en: (canned && Array.isArray(canned.en)) ? canned.en : []
        };
        if (state.open) {
          renderCanned();
        }
      })
      .catch(function () {
        // Canned responses are a convenience: the desk works without them.
      });
  }

  function loadHistory(query) {
    state.historyQuery = query;
    var request = (state.historyRequest += 1);
    var status = $("history-status");
    status.textContent = t("searching");
    var params = new URLSearchParams({ status: "closed" });
    if (query) {
      params.set("q", query);
    }
    return staff("GET", "/api/handoffs?" + params.toString())
      .then(function (items) {
        if (request !== state.historyRequest || !state.me) {
          return;
        }
        state.history = items || [];
        state.historyLoaded = true;
        renderHistory();
      })
      .catch(function (error) {
        if (request === state.historyRequest) {
          status.textContent = errorText(error);
        }
      });
  }

  // ------------------------------------------------------------------------------------------------------------
  // Lists
  // ------------------------------------------------------------------------------------------------------------

  function renderAll() {
    renderQueue();
    renderActive();
    if (state.historyLoaded) {
      renderHistory();
    }
  }

  function handoffBadges(handoff) {
    var badges = [
      el(
        "span",
        { class: "badge badge-lang", title: languageName(handoff.language), "aria-label": languageName(handoff.language) },
        String(handoff.language || "?").toUpperCase()
      )
    ];
    if (handoff.kind === "ticket") {
      badges.push(
        el("span", { class: "badge badge-ticket", title: t("ticketHelp"), "data-testid": "ticket-badge" }, t("ticket"))
      );
    }
    return badges;
  }

  function contactLine(handoff) {
    if (handoff.kind === "ticket" || handoff.contact) {
      return el(
        "p",
        { class: "contact", "data-testid": "contact" },
        handoff.contact ? t("contact", { contact: handoff.contact }) : t("noContact")
      );
    }
    return null;
  }

  function preview(handoff, count) {
    var messages = (handoff.transcript || []).slice(-count);
    if (!messages.length) {
      return el("p", { class: "preview-empty muted" }, t("noMessages"));
    }
    return el(
      "ol",
      { class: "preview", "data-testid": "preview" },
      messages.map(function (message) {
        return el(
          "li",
          { class: "preview-line author-" + message.author, "data-author": message.author },
          el("span", { class: "preview-author" }, authorLabel(message.author) + t("colon")),
          el("span", { class: "preview-text", lang: handoff.language }, truncate(message.text, PREVIEW_CHARS))
        );
      })
    );
  }

  function cardHeading(handoff, prefix) {
    return el(
      "h3",
      { class: "card-title", id: prefix + "-" + handoff.id },
      handoffBadges(handoff),
      el("span", { class: "reason" }, reasonLabel(handoff.reason))
    );
  }

  function queueItem(handoff) {
    var titleId = "queue-" + handoff.id;
    return el(
      "li",
      {
        class: "card" + (state.open && state.open.id === handoff.id ? " is-open" : ""),
        "data-testid": "queue-item",
        "data-handoff-id": handoff.id,
        "data-language": handoff.language,
        "data-kind": handoff.kind
      },
      el(
        "div",
        { class: "card-head" },
        cardHeading(handoff, "queue"),
        el("span", {
          class: "wait",
          "data-testid": "waiting-time",
          "data-wait-id": handoff.id
        }, t("waitingFor", { d: formatDuration(waitedSeconds(handoff)) }))
      ),
      contactLine(handoff),
      handoff.note ? el("p", { class: "note" }, t("note", { note: handoff.note })) : null,
      preview(handoff, PREVIEW_MESSAGES),
      el(
        "div",
        { class: "card-actions" },
        el(
          "button",
          {
            type: "button",
            class: "button button-primary",
            "data-testid": "claim-button",
            "data-action": "claim",
            "aria-describedby": titleId,
            onclick: function () {
              claim(handoff.id);
            }
          },
          t("claim")
        ),
        el(
          "button",
          {
            type: "button",
            class: "button button-quiet",
            "data-testid": "view-button",
            "data-action": "view",
            "aria-describedby": titleId,
            onclick: function () {
              openConversation(handoff.id);
            }
          },
          t("view")
        )
      )
    );
  }

  function renderQueue() {
    var list = $("queue-list");
    var items = Array.from(state.waiting.values()).sort(byCreated);
    withFocusKept(list, function () {
      list.replaceChildren.apply(list, items.map(queueItem));
    });
    $("queue-empty").hidden = items.length > 0;
    $("queue-count").textContent = String(items.length);
    updateTitle();
  }

  function activeItem(handoff, mine) {
    var titleId = (mine ? "mine-" : "other-") + handoff.id;
    var unread = mine && state.unread.has(handoff.id);
    return el(
      "li",
      {
        class: "card" + (unread ? " has-unread" : "") + (state.open && state.open.id === handoff.id ? " is-open" : ""),
        "data-testid": mine ? "active-item" : "other-item",
        "data-handoff-id": handoff.id,
        "data-unread": unread ? "true" : "false"
      },
      el(
        "div",
        { class: "card-head" },
        cardHeading(handoff, mine ? "mine" : "other"),
        unread ? el("span", { class: "badge badge-unread", "data-testid": "unread-badge" }, t("unread")) : null
      ),
      el(
        "p",
        { class: "muted small" },
        mine
          ? t("claimedAt", { time: formatTime(handoff.claimed_at) })
          : t("withAgent", { name: handoff.assignee_name || handoff.assignee || "?" })
      ),
      contactLine(handoff),
      preview(handoff, 1),
      el(
        "div",
        { class: "card-actions" },
        el(
          "button",
          {
            type: "button",
            class: "button" + (mine ? " button-primary" : " button-quiet"),
            "data-testid": "open-button",
            "data-action": "open",
            "aria-describedby": titleId,
            onclick: function () {
              openConversation(handoff.id);
            }
          },
          mine ? t("open") : t("view")
        )
      )
    );
  }

  function renderActive() {
    var all = Array.from(state.active.values()).sort(byCreated);
    var mine = all.filter(isMine);
    var others = all.filter(function (handoff) {
      return !isMine(handoff);
    });
    var mineList = $("mine-list");
    var othersList = $("others-list");
    withFocusKept(mineList, function () {
      mineList.replaceChildren.apply(
        mineList,
        mine.map(function (handoff) {
          return activeItem(handoff, true);
        })
      );
    });
    withFocusKept(othersList, function () {
      othersList.replaceChildren.apply(
        othersList,
        others.map(function (handoff) {
          return activeItem(handoff, false);
        })
      );
    });
    $("mine-empty").hidden = mine.length > 0;
    $("others-empty").hidden = others.length > 0;
    var unread = mine.filter(function (handoff) {
      return state.unread.has(handoff.id);
    }).length;
    var count = $("mine-count");
    count.textContent = String(mine.length);
    count.classList.toggle("count-alert", unread > 0);
    $("others-count").textContent = String(others.length);
  }

  function historyItem(handoff) {
    var titleId = "history-" + handoff.id;
    return el(
      "li",
      {
        class: "card" + (state.open && state.open.id === handoff.id ? " is-open" : ""),
        "data-testid": "history-item",
        "data-handoff-id": handoff.id
      },
      el("div", { class: "card-head" }, cardHeading(handoff, "history")),
      el(
        "p",
        { class: "muted small" },
        t("closedAt", { date: formatDateTime(handoff.closed_at || handoff.created_at) }) +
          (handoff.assignee_name || handoff.assignee
            ? " · " + t("withAgent", { name: handoff.assignee_name || handoff.assignee })
            : "")
      ),
      contactLine(handoff),
      preview(handoff, 2),
      el(
        "div",
        { class: "card-actions" },
        el(
          "button",
          {
            type: "button",
            class: "button button-quiet",
            "data-testid": "open-button",
            "data-action": "open",
            "aria-describedby": titleId,
            onclick: function () {
              openConversation(handoff.id);
            }
          },
          t("view")
        )
      )
    );
  }

  function renderHistory() {
    var list = $("history-list");
    withFocusKept(list, function () {
      list.replaceChildren.apply(list, state.history.map(historyItem));
    });
    var count = state.history.length;
    $("history-status").textContent =
      count === 0 ? t("historyNone") : count === 1 ? t("historyCount1") : t("historyCountN", { n: count });
  }

  function tickClock() {
    document.querySelectorAll("[data-wait-id]").forEach(function (node) {
      var handoff = state.waiting.get(node.dataset.waitId);
      if (handoff) {
        node.textContent = t("waitingFor", { d: formatDuration(waitedSeconds(handoff)) });
      }
    });
  }

  function startClock() {
    stopClock();
    clockTimer = window.setInterval(tickClock, 1000);
  }

  function stopClock() {
    if (clockTimer !== null) {
      window.clearInterval(clockTimer);
      clockTimer = null;
    }
  }

  // ------------------------------------------------------------------------------------------------------------
  // Tabs
  // ------------------------------------------------------------------------------------------------------------

  var TABS = ["queue", "active", "history"];

  function selectTab(name, focus) {
    state.tab = name;
    TABS.forEach(function (tab) {
      var button = $("tab-" + tab);
      var selected = tab === name;
      button.setAttribute("aria-selected", selected ? "true" : "false");
      button.tabIndex = selected ? 0 : -1;
      $("panel-" + tab).hidden = !selected;
    });
    if (focus) {
      $("tab-" + name).focus();
    }
    if (name === "history" && state.me && !state.historyLoaded) {
      loadHistory($("history-search").value.trim());
    }
  }

  function onTabKeydown(event) {
    var index = TABS.indexOf(state.tab);
    var next = null;
    if (event.key === "ArrowRight" || event.key === "ArrowDown") {
      next = TABS[(index + 1) % TABS.length];
    } else if (event.key === "ArrowLeft" || event.key === "ArrowUp") {
      next = TABS[(index + TABS.length - 1) % TABS.length];
    } else if (event.key === "Home") {
      next = TABS[0];
    } else if (event.key === "End") {
      next = TABS[TABS.length - 1];
    }
    if (next) {
      event.preventDefault();
      selectTab(next, true);
    }
  }

  // ------------------------------------------------------------------------------------------------------------
  // Conversation view
  // ------------------------------------------------------------------------------------------------------------

  function showConversationPlaceholder() {
    if (state.open) {
      saveDraft();
    }
    state.open = null;
    $("conversation-body").hidden = true;
    $("conversation-placeholder").hidden = false;
    $("transcript").replaceChildren();
  }

  function saveDraft() {
    var input = $("reply-input");
    if (state.open && isMine(state.open.handoff)) {
      if (input.value) {
        state.drafts.set(state.open.id, input.value);
      } else {
        state.drafts.delete(state.open.id);
      }
    }
  }

  /** Open a conversation: show what the lists know at once, then its whole transcript. */
  function openConversation(id) {
    var request = (state.openRequest += 1);
    var known =
      state.waiting.get(id) ||
      state.active.get(id) ||
      state.history.find(function (handoff) {
        return handoff.id === id;
      });
    if (!state.open || state.open.id !== id) {
      if (state.open) {
        saveDraft();
      }
      state.open = { id: id, handoff: known || null, seqs: new Set(), lastSeq: 0 };
      $("transcript").replaceChildren();
      // A whole transcript arriving is not news: keep the live region quiet until it is in place.
      $("transcript").setAttribute("aria-busy", "true");
      $("reply-input").value = state.drafts.get(id) || "";
      $("reply-error").hidden = true;
      $("resume-bot").checked = true;
    }
    state.unread.delete(id);
    $("conversation-placeholder").hidden = true;
    $("conversation-body").hidden = false;
    if (known) {
      renderConversationHeader();
      mergeTranscript(known.transcript);
    }
    renderAll();
    return staff("GET", handoffPath(id))
      .then(function (handoff) {
        if (request !== state.openRequest || !state.open || state.open.id !== id) {
          return;
        }
        state.open.handoff = stamp(handoff);
        renderConversationHeader();
        mergeTranscript(handoff.transcript);
        scrollTranscript(true);
        focusConversation();
      })
      .catch(function (error) {
        if (request === state.openRequest) {
          showNotice(errorText(error));
        }
      })
      .then(function () {
        if (request === state.openRequest) {
          $("transcript").setAttribute("aria-busy", "false");
        }
      });
  }

  function focusConversation() {
    if (state.open && isMine(state.open.handoff)) {
      $("reply-input").focus();
    } else {
      $("conversation-title").focus();
    }
  }

  /** Fetch the open conversation again and add what was missed (after a reconnection or a gap in `seq`). */
  function catchUpOpen() {
    if (!state.open) {
      return Promise.resolve();
    }
    var id = state.open.id;
    return staff("GET", handoffPath(id))
      .then(function (handoff) {
        if (!state.open || state.open.id !== id) {
          return;
        }
        var wasMine = isMine(state.open.handoff);
        state.open.handoff = stamp(handoff);
        renderConversationHeader();
        mergeTranscript(handoff.transcript);
        if (wasMine && !isMine(handoff) && handoff.status !== "closed") {
          showNotice(t("notYours"));
        }
      })
      .catch(function () {
        return null;
      });
  }

  var catchUpTimer = null;

  function scheduleCatchUp() {
    window.clearTimeout(catchUpTimer);
    catchUpTimer = window.setTimeout(catchUpOpen, 300);
  }

  function renderConversationHeader() {
    var open = state.open;
    if (!open || !open.handoff) {
      return;
    }
    var handoff = open.handoff;
    var ref = String(handoff.conversation_id || handoff.id).slice(0, 8);
    $("conversation-title").textContent = t("conversationTitle", { ref: ref });
    var meta = $("conversation-meta");
    var parts = [
      el("span", { class: "badge badge-lang" }, String(handoff.language || "?").toUpperCase()),
      el("span", null, languageName(handoff.language)),
      el("span", { class: "sep", "aria-hidden": "true" }, "·"),
      el("span", { class: "reason" }, reasonLabel(handoff.reason))
    ];
    if (handoff.kind === "ticket") {
      parts.push(el("span", { class: "badge badge-ticket", title: t("ticketHelp") }, t("ticket")));
    }
    if (handoff.kind === "ticket" || handoff.contact) {
      parts.push(
        el(
          "span",
          { class: "contact", "data-testid": "conversation-contact" },
          handoff.contact ? t("contact", { contact: handoff.contact }) : t("noContact")
        )
      );
    }
    if (handoff.note) {
      parts.push(el("span", { class: "note" }, t("note", { note: handoff.note })));
    }
    parts.push(el("span", { class: "muted" }, t("reference", { ref: handoff.conversation_id || handoff.id })));
    meta.replaceChildren.apply(meta, parts);

    var stateLine = $("conversation-state");
    var mine = isMine(handoff);
    var text;
    if (handoff.status === "closed") {
      text = t("stateClosed") + (handoff.closed_at ? " " + t("closedAt", { date: formatDateTime(handoff.closed_at) }) + "." : "");
    } else if (handoff.status === "waiting") {
      text = t("stateWaiting");
    } else if (mine) {
      text = t("stateMine");
    } else {
      text = t("stateOther", { name: handoff.assignee_name || handoff.assignee || "?" });
    }
    stateLine.textContent = text;
    stateLine.dataset.status = handoff.status;
    $("conversation").dataset.status = handoff.status;
    $("conversation").dataset.handoffId = handoff.id;
    $("conversation").dataset.mine = mine ? "true" : "false";

    var canClose = handoff.status === "active" && (mine || (state.me && state.me.role === "admin"));
    var wasShown = !$("reply-form").hidden;
    $("reply-form").hidden = !mine;
    $("conversation-actions").hidden = !canClose;
    $("release-button").hidden = !mine;
    $("conversation-claim").hidden = handoff.status !== "waiting";
    if (wasShown && !mine) {
      $("reply-input").value = "";
    }

    var transcript = $("transcript");
    transcript.setAttribute("lang", handoff.language || "fr");
    var input = $("reply-input");
    input.setAttribute("lang", handoff.language || "fr");
    $("reply-label").textContent = t("replyLabel", { lang: languageName(handoff.language) });
    $("reply-hint").textContent = t("replyHint");
    renderCanned();
  }

  function renderCanned() {
    if (!state.open || !state.open.handoff) {
      return;
    }
    var language = state.open.handoff.language === "en" ? "en" : "fr";
    $("canned-summary").textContent = t("cannedSummary", { lang: languageName(language) });
    var list = $("canned-list");
    var responses = state.canned[language] || [];
    if (!responses.length) {
      list.replaceChildren(el("li", { class: "muted" }, t("cannedNone")));
      return;
    }
    list.replaceChildren.apply(
      list,
      responses.map(function (response) {
        return el(
          "li",
          null,
          el(
            "button",
            {
              type: "button",
              class: "canned-item",
              "data-testid": "canned-response",
              lang: language,
              onclick: function () {
                insertIntoReply(String(response.text || ""));
              }
            },
            el("span", { class: "canned-title" }, String(response.title || "")),
            el("span", { class: "canned-text" }, truncate(response.text, 140))
          )
        );
      })
    );
  }

  function insertIntoReply(text) {
    var input = $("reply-input");
    var start = input.selectionStart == null ? input.value.length : input.selectionStart;
    var end = input.selectionEnd == null ? input.value.length : input.selectionEnd;
    input.setRangeText(text, start, end, "end");
    $("canned").open = false;
    input.focus();
  }

  function messageNode(message) {
    return el(
      "li",
      {
        class: "message message-" + message.author,
        "data-testid": "message",
        "data-author": message.author,
        "data-seq": message.seq
      },
      el(
        "div",
        { class: "message-meta" },
        el("span", { class: "message-author", lang: uiLang }, authorLabel(message.author)),
        el("time", { datetime: message.created_at, lang: uiLang }, formatTime(message.created_at))
      ),
      el("p", { class: "message-text", "data-testid": "message-text" }, String(message.text == null ? "" : message.text))
    );
  }

  function renderTranscriptLabels() {
    document.querySelectorAll("#transcript [data-testid='message']").forEach(function (node) {
      var author = node.dataset.author;
      var label = node.querySelector(".message-author");
      if (label) {
        label.textContent = authorLabel(author);
        label.setAttribute("lang", uiLang);
      }
      var time = node.querySelector("time");
      if (time) {
        time.textContent = formatTime(time.getAttribute("datetime"));
        time.setAttribute("lang", uiLang);
      }
    });
  }

  function nearBottom(node) {
    return node.scrollHeight - node.scrollTop - node.clientHeight < 80;
  }

  function scrollTranscript(force) {
    var transcript = $("transcript");
    if (force || nearBottom(transcript)) {
      transcript.scrollTop = transcript.scrollHeight;
    }
  }

  /** Add one message to the open transcript, in `seq` order, once. Returns whether it was new. */
  function appendMessage(message) {
    var open = state.open;
    if (!open || !message || typeof message.seq !== "number" || open.seqs.has(message.seq)) {
      return false;
    }
    var transcript = $("transcript");
    var stick = nearBottom(transcript);
    open.seqs.add(message.seq);
    var node = messageNode(message);
    var after = null;
    var children = transcript.children;
    for (var index = 0; index < children.length; index += 1) {
      if (Number(children[index].dataset.seq) > message.seq) {
        after = children[index];
        break;
      }
    }
    transcript.insertBefore(node, after);
    open.lastSeq = Math.max(open.lastSeq, message.seq);
    if (stick || message.author === "agent") {
      transcript.scrollTop = transcript.scrollHeight;
    }
    return true;
  }

  function mergeTranscript(messages) {
    (messages || []).forEach(appendMessage);
  }

  function onReplyKeydown(event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !event.altKey && !event.ctrlKey) {
      event.preventDefault();
      sendReply();
    }
  }

  function sendReply() {
    var open = state.open;
    var input = $("reply-input");
    var text = input.value.trim();
    if (!open || !text || state.sending || !isMine(open.handoff)) {
      return;
    }
    var id = open.id;
    var button = $("send-button");
    var error = $("reply-error");
    state.sending = true;
    button.disabled = true;
    input.readOnly = true;
    error.hidden = true;
    staff("POST", handoffPath(id, "messages"), { text: text })
      .then(function (message) {
        if (state.open && state.open.id === id) {
          appendMessage(message);
          input.value = "";
          state.drafts.delete(id);
        }
        var handoff = state.active.get(id);
        if (handoff) {
          handoff.transcript = mergeMessages(handoff.transcript, message);
          renderActive();
        }
      })
      .catch(function (failure) {
        error.textContent = t("sendFailed", {
          detail: failure instanceof ApiError && failure.status === 409 ? t("notYours") : errorText(failure)
        });
        error.hidden = false;
        if (failure instanceof ApiError && failure.status === 409) {
          catchUpOpen();
          refreshAll();
        }
      })
      .then(function () {
        state.sending = false;
        button.disabled = false;
        input.readOnly = false;
        if (state.open && state.open.id === id && isMine(state.open.handoff)) {
          input.focus();
        }
      });
  }

  // ------------------------------------------------------------------------------------------------------------
  // Actions: claim, release, close
  // ------------------------------------------------------------------------------------------------------------

  function claim(id) {
    hideNotice();
    return staff("POST", handoffPath(id, "claim"))
      .then(function (handoff) {
        upsert(handoff);
        renderAll();
        selectTab("active", false);
        return openConversation(handoff.id);
      })
      .catch(function (error) {
        if (!(error instanceof ApiError) || error.status !== 409) {
          if (!(error instanceof ApiError && (error.status === 401 || error.status === 403))) {
            showNotice(errorText(error));
          }
          return;
        }
        // Another agent was faster (or the conversation was closed meanwhile): say which, then refresh.
        staff("GET", handoffPath(id))
          .then(function (handoff) {
            showNotice(handoff && handoff.status === "closed" ? t("alreadyClosed") : t("taken"));
            if (handoff) {
              upsert(handoff);
              renderAll();
            }
          })
          .catch(function () {
            showNotice(t("taken"));
          })
          .then(refreshAll);
      });
  }

  function release() {
    var open = state.open;
    if (!open) {
      return;
    }
    var id = open.id;
    saveDraft();
    staff("POST", handoffPath(id, "release"))
      .then(function (handoff) {
        upsert(handoff);
        showConversationPlaceholder();
        renderAll();
        selectTab("queue", true);
        showNotice(t("releasedDone"), "info");
      })
      .catch(function (error) {
        showNotice(error instanceof ApiError && error.status === 409 ? t("notYours") : errorText(error));
        catchUpOpen();
        refreshAll();
      });
  }

  function closeConversation() {
    var open = state.open;
    if (!open) {
      return;
    }
    var id = open.id;
    var resumeBot = $("resume-bot").checked;
    var button = $("close-button");
    button.disabled = true;
    staff("POST", handoffPath(id, "close"), { resume_bot: resumeBot })
      .then(function (handoff) {
        upsert(handoff);
        state.drafts.delete(id);
        state.unread.delete(id);
        state.historyLoaded = false;
        showConversationPlaceholder();
        renderAll();
        selectTab("active", true);
        showNotice(resumeBot ? t("closedDoneBot") : t("closedDone"), "info");
      })
      .catch(function (error) {
        showNotice(error instanceof ApiError && error.status === 409 ? t("notYours") : errorText(error));
        catchUpOpen();
        refreshAll();
      })
      .then(function () {
        button.disabled = false;
      });
  }

  // ------------------------------------------------------------------------------------------------------------
  // Live updates
  // ------------------------------------------------------------------------------------------------------------

  function setConnection(status) {
    var node = $("connection-status");
    node.dataset.state = status;
    node.hidden = !state.me;
    updateConnectionText();
  }

  function updateConnectionText() {
    var node = $("connection-status");
    var status = node.dataset.state;
    node.textContent =
      status === "live" ? t("connLive") : status === "connecting" ? t("connConnecting") : t("connReconnecting");
  }

  function startLive() {
    socketState.wanted = true;
    socketState.attempts = 0;
    connect();
  }

  function stopLive() {
    socketState.wanted = false;
    window.clearTimeout(socketState.timer);
    stopPing();
    var socket = socketState.socket;
    socketState.socket = null;
    if (socket) {
      try {
        socket.close(1000);
      } catch (error) {
        // Already closed.
      }
    }
  }

  function connect() {
    window.clearTimeout(socketState.timer);
    if (!socketState.wanted || socketState.socket) {
      return;
    }
    var url = (window.location.protocol === "https:" ? "wss:" : "ws:") + "//" + window.location.host + "/api/agent/ws";
    var socket;
    try {
      socket = new WebSocket(url);
    } catch (error) {
      scheduleReconnect();
      return;
    }
    socketState.socket = socket;
    setConnection(socketState.attempts === 0 ? "connecting" : "reconnecting");
    socket.addEventListener("open", function () {
      if (socketState.socket !== socket) {
        return;
      }
      setConnection("live");
      startPing();
      // Whatever happened while the socket was down is in the database: fetch it again.
      refreshAll();
    });
    socket.addEventListener("message", function (event) {
      if (socketState.socket === socket) {
        onSocketMessage(event.data);
      }
    });
    socket.addEventListener("close", function (event) {
      if (socketState.socket !== socket) {
        return;
      }
      socketState.socket = null;
      stopPing();
      if (!socketState.wanted) {
        return;
      }
      if (event.code === 4401) {
        sessionExpired();
        return;
      }
      if (event.code === 4403 && state.me) {
        showRoleDenied(state.me);
        return;
      }
      setConnection("reconnecting");
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    window.clearTimeout(socketState.timer);
    var ceiling = Math.min(RECONNECT_MAX_MS, 1000 * Math.pow(2, socketState.attempts));
    socketState.attempts += 1;
    var delay = ceiling / 2 + Math.random() * (ceiling / 2);
    socketState.timer = window.setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (socketState.wanted && !socketState.socket) {
      socketState.attempts = 0;
      connect();
    }
  }

  function startPing() {
    stopPing();
    socketState.ping = window.setInterval(function () {
      var socket = socketState.socket;
      if (socket && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ type: "ping" }));
      }
    }, PING_INTERVAL_MS);
  }

  function stopPing() {
    if (socketState.ping !== null) {
      window.clearInterval(socketState.ping);
      socketState.ping = null;
    }
  }

  function onSocketMessage(data) {
    var event;
    try {
      event = JSON.parse(data);
    } catch (error) {
      return;
    }
    if (!event || typeof event !== "object" || !state.me) {
      return;
    }
    if (event.type === "hello") {
      socketState.attempts = 0;
      if (event.agent && event.agent.username === state.me.username) {
        state.me.display_name = event.agent.display_name;
        $("whoami").textContent = t("signedInAs", { name: state.me.display_name || state.me.username });
      }
    } else if (event.type === "handoff" && event.handoff) {
      onHandoffEvent(event.event, event.handoff);
    } else if (event.type === "message" && event.message) {
      onMessageEvent(event);
    } else if (event.type === "error" && event.detail) {
      showNotice(String(event.detail));
    }
  }

  function onHandoffEvent(kind, handoff) {
    var wasWaiting = state.waiting.has(handoff.id);
    var wasOpenMine = state.open && state.open.id === handoff.id && isMine(state.open.handoff);
    upsert(handoff);
    if (handoff.status === "waiting" && !wasWaiting) {
      if (kind === "released") {
        announce(t("announceReleased"));
      } else {
        announce(t("announceWaiting", { lang: languageName(handoff.language), reason: reasonLabel(handoff.reason) }));
      }
    }
    if (handoff.status === "closed") {
      if (state.historyLoaded && !state.historyQuery) {
        state.history = [handoff].concat(
          state.history.filter(function (item) {
            return item.id !== handoff.id;
          })
        );
      } else {
        state.historyLoaded = false;
      }
      if (state.tab === "history" && !state.historyLoaded) {
        loadHistory(state.historyQuery);
      }
    }
    if (wasOpenMine && !isMine(handoff) && handoff.status !== "closed") {
      showNotice(t("notYours"));
    }
    renderAll();
  }

  function onMessageEvent(event) {
    var message = event.message;
    var id = event.handoff_id;
    var handoff = state.waiting.get(id) || state.active.get(id);
    if (handoff) {
      handoff.transcript = mergeMessages(handoff.transcript, message);
    }
    if (state.open && state.open.id === id) {
      var gap = state.open.lastSeq > 0 && message.seq > state.open.lastSeq + 1;
      appendMessage(message);
      if (gap) {
        scheduleCatchUp();
      }
    } else if (handoff && isMine(handoff) && message.author === "citizen") {
      state.unread.add(id);
      announce(t("announceMessage"));
    }
    renderAll();
  }

  // ------------------------------------------------------------------------------------------------------------
  // Start
  // ------------------------------------------------------------------------------------------------------------

  function bind() {
    $("login-form").addEventListener("submit", onLoginSubmit);
    $("logout-button").addEventListener("click", logout);
    $("role-denied-logout").addEventListener("click", logout);
    $("lang-switch").addEventListener("click", function () {
      setLanguage(uiLang === "fr" ? "en" : "fr");
    });
    $("notice-dismiss").addEventListener("click", hideNotice);
    TABS.forEach(function (tab) {
      var button = $("tab-" + tab);
      button.addEventListener("click", function () {
        selectTab(tab, false);
      });
      button.addEventListener("keydown", onTabKeydown);
    });
    var historyDebounce = null;
    $("history-form").addEventListener("submit", function (event) {
      event.preventDefault();
      window.clearTimeout(historyDebounce);
      loadHistory($("history-search").value.trim());
    });
    $("history-search").addEventListener("input", function () {
      window.clearTimeout(historyDebounce);
      historyDebounce = window.setTimeout(function () {
        loadHistory($("history-search").value.trim());
      }, 350);
    });
    $("reply-form").addEventListener("submit", function (event) {
      event.preventDefault();
      sendReply();
    });
    $("reply-input").addEventListener("keydown", onReplyKeydown);
    $("canned").addEventListener("toggle", function () {
      // The panel takes room from the transcript: keep the latest messages in sight.
      scrollTranscript(true);
    });
    $("release-button").addEventListener("click", release);
    $("close-button").addEventListener("click", closeConversation);
    $("conversation-claim-button").addEventListener("click", function () {
      if (state.open) {
        claim(state.open.id);
      }
    });
    $("conversation-hide").addEventListener("click", function () {
      showConversationPlaceholder();
      renderAll();
      $("tab-" + state.tab).focus();
    });
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) {
        reconnectNow();
      }
    });
    window.addEventListener("online", reconnectNow);
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && !$("notice").hidden) {
        hideNotice();
      }
    });
  }

  function boot() {
    bind();
    applyStaticTexts();
    api("GET", "/api/auth/me")
      .then(signedIn)
      .catch(function (error) {
        var silent = error instanceof ApiError && error.status === 401;
        showLogin(silent ? null : errorText(error));
      });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", boot);
  } else {
    boot();
  }
})();
