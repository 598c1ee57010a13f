/*
 * Guichet: the citizens' chat widget.
 *
 * Embed it in any page with one script tag:
 *   <script src="https://guichet.example.fr/widget.js" defer
 *           data-language="fr" data-primary-color="#000091"></script>
 *
 * Options, as data- attributes of the script tag (or as keys of GuichetWidget.init({...}) when the tag has
 * data-auto-init="false"):
 *   data-api-url        the Guichet API (default: where widget.js comes from)      apiUrl
 *   data-language       "fr" or "en" (default: the page's <html lang>, else fr)    language
 *   data-primary-color  header, launcher and your messages (default #000091)      colors.primary
 *   data-accent-color   focus ring and links (default #0063cb)                     colors.accent
 *   data-title          the panel's title (default: "Assistant de la mairie")       title
 *   data-privacy-url    a page of the commune's privacy policy, linked from the notice   privacyUrl
 *
 * No framework, no dependency. Every text from the server is set as text (textContent), never as HTML; links
 * are made only to http(s) addresses. The conversation is kept in sessionStorage: it survives a reload in the
 * same tab, and the live connection catches up on what it missed after a drop (each message is kept once, by
 * its number).
 */
(() => {
  "use strict";

  const CSS = "__GUICHET_WIDGET_CSS__";
  const SCRIPT = document.currentScript;
  const LANGUAGES = ["fr", "en"];
  const HUMAN_PAYLOAD = "/request_human";
  const MAX_LENGTH = 2000;
  const PING_EVERY_MS = 25000;
  const PONG_WITHIN_MS = 10000;
  const RECONNECT_MAX_MS = 15000;

  const TEXTS = {
    fr: {
      launcher: "Une question ?",
      unread: (n) => (n === 1 ? "1 nouveau message" : `${n} nouveaux messages`),
      title: "Assistant de la mairie",
      subtitle: "Réponses automatiques, à toute heure",
      close: "Fermer l'assistant",
      otherLanguage: "English",
      switchLanguage: "Switch to English",
      human: "Parler à une personne",
      privacyTitle: "Vos données",
      privacy: (days) =>
        "Vos messages sont enregistrés par la mairie pour vous répondre et pour améliorer l'assistant. " +
        `Ils sont effacés après ${days} jours sans activité. Si vous demandez à parler à une personne, ` +
        "un agent de la mairie lit la conversation. N'écrivez pas d'informations sensibles " +
        "(santé, numéro de sécurité sociale, coordonnées bancaires).",
      privacyLink: "Politique de confidentialité",
      welcome:
        "Bonjour ! Je réponds à vos questions sur les démarches : papiers d'identité, état civil, " +
        "élections, déchets, urbanisme… Posez votre question ou choisissez un sujet.",
      suggestions: [
        "Comment renouveler mon passeport ?",
        "Quand passe le ramassage des poubelles ?",
        "Comment m'inscrire sur les listes électorales ?",
      ],
      suggestionsLabel: "Questions fréquentes",
      quickRepliesLabel: "Réponses proposées",
      messagesLabel: "Conversation",
      inputLabel: "Votre message",
      placeholder: "Écrivez votre question…",
      send: "Envoyer",
      typing: "L'assistant écrit…",
      you: "Vous",
      bot: "Assistant",
      agent: "Agent de la mairie",
      system: "Information",
      said: (who) => `${who} :`,
      sending: "Envoi…",
      notSent: "Non envoyé.",
      retry: "Réessayer",
      sourceLink: (title) => `Démarche en ligne : ${title}`,
      newTab: "(nouvel onglet)",
      waiting: "En attente d'un agent de la mairie.",
      position: (n) => `Vous êtes n° ${n} dans la file d'attente.`,
      withAgent: "Vous échangez avec un agent de la mairie.",
      withBot: "Vous échangez de nouveau avec l'assistant automatique.",
      offline: "Connexion perdue, nouvelle tentative en cours…",
      online: "Connexion rétablie.",
      unavailable: "L'assistant est momentanément indisponible ; votre message est bien enregistré.",
      tooMany: "Trop de messages en peu de temps : patientez un instant, puis réessayez.",
      failed: "Le message n'a pas pu être envoyé. Vérifiez votre connexion, puis réessayez.",
      tooLong: `Votre message dépasse ${MAX_LENGTH} caractères : raccourcissez-le.`,
    },
    en: {
      launcher: "Any questions?",
      unread: (n) => (n === 1 ? "1 new message" : `${n} new messages`),
      title: "Town hall assistant",
      subtitle: "Automatic answers, at any hour",
      close: "Close the assistant",
      otherLanguage: "Français",
      switchLanguage: "Passer en français",
      human: "Talk to a person",
      privacyTitle: "Your data",
      privacy: (days) =>
        "The town hall stores your messages to answer you and to improve the assistant. " +
        `They are deleted after ${days} days without activity. If you ask to talk to a person, ` +
        "a town hall agent reads the conversation. Do not write sensitive information " +
        "(health, social security number, bank details).",
      privacyLink: "Privacy policy",
      welcome:
        "Hello! I answer your questions about procedures: identity documents, civil status, elections, " +
        "waste, planning… Ask your question or pick a topic.",
      suggestions: [
        "How do I renew my passport?",
        "When are the bins collected?",
        "How do I register to vote?",
      ],
      suggestionsLabel: "Frequent questions",
      quickRepliesLabel: "Suggested replies",
      messagesLabel: "Conversation",
      inputLabel: "Your message",
      placeholder: "Type your question…",
      send: "Send",
      typing: "The assistant is typing…",
      you: "You",
      bot: "Assistant",
      agent: "Town hall agent",
      system: "Information",
      said: (who) => `${who}:`,
      sending: "Sending…",
      notSent: "Not sent.",
      retry: "Retry",
      sourceLink: (title) => `Online procedure: ${title}`,
      newTab: "(opens in a new tab)",
      waiting: "Waiting for a town hall agent.",
      position: (n) => `You are number ${n} in the queue.`,
      withAgent: "You are talking with a town hall agent.",
      withBot: "You are talking with the automatic assistant again.",
      offline: "Connection lost, reconnecting…",
      online: "Connection restored.",
      unavailable: "The assistant is temporarily unavailable; your message was saved.",
      tooMany: "Too many messages in a short time: wait a moment, then try again.",
      failed: "The message could not be sent. Check your connection, then try again.",
      tooLong: `Your message is longer than ${MAX_LENGTH} characters: please shorten it.`,
    },
  };

  // --- small helpers -------------------------------------------------------------------------------

  /** Create an element with attributes and children (strings become text nodes, never HTML). */
  function h(tag, attributes, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === false || value === null || value === undefined) continue;
      if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
      else element.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined && child !== false) {
        element.append(typeof child === "string" ? document.createTextNode(child) : child);
      }
    }
    return element;
  }

  /** The address if it is an absolute http(s) URL, else null: no javascript:, data: or relative links. */
  function safeUrl(address) {
    try {
      const url = new URL(address);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch {
      return null;
    }
  }

  function link(address, label, texts) {
    const href = safeUrl(address);
    if (href === null) return document.createTextNode(label);
    return h(
      "a",
      { href, target: "_blank", rel: "noopener noreferrer" },
      label,
      h("span", { class: "sr-only" }, ` ${texts.newTab}`),
    );
  }

  const INLINE = /\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)\s]+)\)|(https?:\/\/[^\s<>"]+)/g;

  /** Text with **bold**, [label](url) and bare URLs, as nodes. */
  function inline(text, texts) {
    const nodes = [];
    let last = 0;
    for (const match of text.matchAll(INLINE)) {
      if (match.index > last) nodes.push(text.slice(last, match.index));
      if (match[1] !== undefined) {
        nodes.push(h("strong", {}, match[1]));
      } else if (match[2] !== undefined) {
        nodes.push(link(match[3], match[2], texts));
      } else {
        // A bare URL ends before the punctuation that closes its sentence.
        const address = match[4].replace(/[.,;:!?)»]+$/, "");
        nodes.push(link(address, address, texts));
        if (address.length < match[4].length) nodes.push(match[4].slice(address.length));
      }
      last = match.index + match[0].length;
    }
    if (last < text.length) nodes.push(text.slice(last));
    return nodes;
  }

  const ORDERED = /^\s*\d+[.)]\s+/;
  const BULLET = /^\s*[-*•]\s+/;

  /** The bot's and agents' Markdown-like text as paragraphs and lists, built node by node. */
  function richText(text, texts) {
    const fragment = document.createDocumentFragment();
    let list = null;
    let paragraph = null;
    for (const line of text.split("\n")) {
      const kind = ORDERED.test(line) ? "ol" : BULLET.test(line) ? "ul" : null;
      if (kind !== null) {
        paragraph = null;
        if (list === null || list.tagName.toLowerCase() !== kind) {
          list = h(kind, {});
          fragment.append(list);
        }
        list.append(h("li", {}, inline(line.replace(kind === "ol" ? ORDERED : BULLET, ""), texts)));
      } else if (line.trim() === "") {
        list = null;
        paragraph = null;
      } else {
        list = null;
        if (paragraph === null) {
          paragraph = h("p", {});
          fragment.append(paragraph);
        } else {
          paragraph.append(h("br", {}));
        }
        paragraph.append(...inline(line.trim(), texts));
      }
    }
    return fragment;
  }

  /** Relative luminance of a #rgb / #rrggbb colour (WCAG 2.1), or null if it is not one. */
  function luminance(colour) {
    const match = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(colour.trim());
    if (!match) return null;
    const hex = match[1].length === 3 ? [...match[1]].map((c) => c + c).join("") : match[1];
    const [r, g, b] = [0, 2, 4].map((i) => {
      const c = parseInt(hex.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }

  function contrast(a, b) {
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  }

  /** The text colour (white or near-black) that reads best on a background colour. */
  function readableOn(colour) {
    const lum = luminance(colour);
    if (lum === null) return "#ffffff";
    return contrast(lum, 1) >= contrast(lum, luminance("#161616")) ? "#ffffff" : "#161616";
  }

  /** A speech bubble, drawn as SVG nodes (no markup parsed). */
  function chatIcon() {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "icon");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
    svg.append(path);
    return svg;
  }

  function formatTime(iso, language) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return "";
    return date.toLocaleTimeString(language === "en" ? "en-GB" : "fr-FR", { hour: "2-digit", minute: "2-digit" });
  }

  class HttpError extends Error {
    constructor(status, detail) {
      super(detail || `HTTP ${status}`);
      this.status = status;
    }
  }

  // --- the widget ----------------------------------------------------------------------------------

  class Widget {
    constructor(options) {
      this.api = options.apiUrl.replace(/\/+$/, "");
      this.options = options;
      this.storageKey = `guichet-widget:${this.api}`;
      this.state = this.load() || { id: null, token: null, language: options.language, open: false };
      if (!LANGUAGES.includes(this.state.language)) this.state.language = options.language;
      this.messages = new Map(); // seq -> <li>
      this.pending = []; // {text, shown, element, status}
      this.payloadTitles = new Map([[HUMAN_PAYLOAD, () => this.t.human]]);
      this.mode = "bot";
      this.queuePosition = null;
      this.socket = null;
      this.retries = 0;
      this.reconnectTimer = null;
      this.pingTimer = null;
      this.pongTimer = null;
      this.connection = "idle";
      this.config = null;
      this.sending = Promise.resolve();
      this.build();
      this.applyLanguage();
      if (this.state.id) this.connect();
      if (this.state.open) this.open({ focus: false });
      this.host.dataset.ready = "true";
      document.dispatchEvent(new CustomEvent("guichet:ready"));
    }

    get t() {
      return TEXTS[this.language];
    }

    // The interface's language and the unread count are kept with the conversation, in ``state``.
    get language() {
      return this.state.language;
    }

    set language(value) {
      this.state.language = value;
    }

    get unread() {
      return this.state.unread || 0;
    }

    set unread(value) {
      this.state.unread = value;
    }

    // --- persistence (this tab only) ---

    load() {
      try {
        const saved = JSON.parse(window.sessionStorage.getItem(this.storageKey) || "null");
        return saved && typeof saved === "object" ? saved : null;
      } catch {
        return null;
      }
    }

    save() {
      try {
        window.sessionStorage.setItem(this.storageKey, JSON.stringify(this.state));
      } catch {
        // Private browsing may refuse storage: the conversation then lasts as long as the page.
      }
    }

    // --- the DOM ---

    build() {
      this.host = h("div", { id: "guichet-widget" });
      const root = this.host.attachShadow({ mode: "open" });
      if ("adoptedStyleSheets" in root && typeof CSSStyleSheet === "function" && "replaceSync" in CSSStyleSheet.prototype) {
        const sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS);
        root.adoptedStyleSheets = [sheet];
      } else {
        root.append(h("style", {}, CSS));
      }
      const colors = this.options.colors;
      this.host.style.setProperty("--gw-primary", colors.primary);
      this.host.style.setProperty("--gw-on-primary", readableOn(colors.primary));
      this.host.style.setProperty("--gw-accent", colors.accent);

      this.launcherText = h("span", { class: "launcher-text" });
      this.badge = h("span", { class: "badge", hidden: true, "aria-hidden": "true", "data-testid": "unread" });
      this.badgeText = h("span", { class: "sr-only" });
      this.launcher = h(
        "button",
        {
          type: "button",
          class: "launcher",
          "aria-expanded": "false",
          "aria-controls": "gw-panel",
          "data-testid": "launcher",
          onclick: () => (this.isOpen() ? this.close() : this.open({ focus: true })),
        },
        chatIcon(),
        this.launcherText,
        this.badge,
        this.badgeText,
      );

      this.titleEl = h("h2", { id: "gw-title", class: "title" });
      this.subtitleEl = h("p", { class: "subtitle", "data-testid": "status" });
      this.languageButton = h("button", {
        type: "button",
        class: "header-button language",
        "data-testid": "language-switch",
        onclick: () => this.switchLanguage(),
      });
      this.closeButton = h("button", {
        type: "button",
        class: "header-button close",
        "data-testid": "close",
        onclick: () => this.close(),
      });
      this.humanButton = h("button", {
        type: "button",
        class: "human",
        "data-testid": "talk-to-person",
        onclick: () => this.send(HUMAN_PAYLOAD, this.t.human),
      });

      this.privacyTitle = h("h3", { class: "privacy-title" });
      this.privacyText = h("p", {});
      this.privacy = h("section", { class: "privacy", "data-testid": "privacy-notice", "aria-labelledby": "gw-privacy-title" }, this.privacyTitle, this.privacyText);
      this.privacyTitle.id = "gw-privacy-title";
      this.welcome = h("div", { class: "welcome" });

      this.list = h("ol", { class: "messages", "data-testid": "messages" });
      this.typing = h(
        "div",
        { class: "typing", hidden: true, "data-testid": "typing" },
        h("span", { class: "dots", "aria-hidden": "true" }, h("span", {}), h("span", {}), h("span", {})),
        h("span", { class: "typing-text" }),
      );
      this.notice = h("p", { class: "notice", hidden: true, "data-testid": "notice" });
      this.log = h(
        "div",
        { class: "log", tabindex: "0", role: "region", "aria-labelledby": "gw-log-label", "data-testid": "log" },
        h("h3", { id: "gw-log-label", class: "sr-only" }),
        this.privacy,
        this.welcome,
        this.list,
        this.typing,
      );

      this.input = h("textarea", {
        id: "gw-input",
        rows: "1",
        maxlength: String(MAX_LENGTH),
        autocomplete: "off",
        "data-testid": "input",
        onkeydown: (event) => {
          if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
            event.preventDefault();
            this.submit();
          }
        },
        oninput: () => this.fitInput(),
      });
      this.inputLabel = h("label", { for: "gw-input", class: "sr-only" });
      this.sendButton = h("button", { type: "submit", class: "send", "data-testid": "send" });
      this.form = h(
        "form",
        {
          class: "composer",
          onsubmit: (event) => {
            event.preventDefault();
            this.submit();
          },
        },
        this.inputLabel,
        this.input,
        this.sendButton,
      );

      this.announcer = h("div", { class: "sr-only", "aria-live": "polite", "data-testid": "announcer" });

      this.panel = h(
        "section",
        {
          id: "gw-panel",
          class: "panel",
          role: "dialog",
          "aria-modal": "false",
          "aria-labelledby": "gw-title",
          hidden: true,
          "data-testid": "panel",
          onkeydown: (event) => {
            if (event.key === "Escape") {
              event.preventDefault();
              this.close();
            }
          },
        },
        h(
          "header",
          { class: "header" },
          h("div", { class: "heading" }, this.titleEl, this.subtitleEl),
          this.languageButton,
          this.closeButton,
        ),
        this.log,
        this.notice,
        h("div", { class: "actions" }, this.humanButton),
        this.form,
      );
      root.append(this.panel, this.launcher, this.announcer);
      document.body.append(this.host);
    }

    /** Every text of the interface, in the current language. */
    applyLanguage() {
      const t = this.t;
      this.panel.setAttribute("lang", this.language);
      this.launcher.setAttribute("lang", this.language);
      this.launcherText.textContent = t.launcher;
      this.titleEl.textContent = this.options.title || t.title;
      this.languageButton.textContent = t.otherLanguage;
      this.languageButton.setAttribute("lang", this.language === "fr" ? "en" : "fr");
      this.languageButton.setAttribute("aria-label", t.switchLanguage);
      this.closeButton.setAttribute("aria-label", t.close);
      this.closeButton.textContent = "×";
      this.humanButton.textContent = t.human;
      this.inputLabel.textContent = t.inputLabel;
      this.input.placeholder = t.placeholder;
      this.sendButton.textContent = t.send;
      this.typing.querySelector(".typing-text").textContent = t.typing;
      this.log.querySelector("#gw-log-label").textContent = t.messagesLabel;
      this.privacyTitle.textContent = t.privacyTitle;
      this.renderPrivacy();
      this.renderWelcome();
      this.renderStatus();
      this.renderBadge();
      for (const element of this.messages.values()) this.relabel(element);
      for (const item of this.pending) this.relabel(item.element);
    }

    renderPrivacy() {
      const days = this.config ? this.config.retention_days : null;
      this.privacyText.replaceChildren(days === null ? "" : this.t.privacy(days));
      if (this.options.privacyUrl && safeUrl(this.options.privacyUrl)) {
        this.privacyText.append(" ", link(this.options.privacyUrl, this.t.privacyLink, this.t));
      }
    }

    renderWelcome() {
      const t = this.t;
      const started = this.messages.size > 0 || this.pending.length > 0;
      this.welcome.replaceChildren(h("p", { class: "bubble" }, t.welcome));
      if (!started) {
        this.welcome.append(
          h(
            "div",
            { class: "quick-replies", role: "group", "aria-label": t.suggestionsLabel, "data-testid": "suggestions" },
            t.suggestions.map((question) =>
              h("button", { type: "button", class: "quick-reply", onclick: () => this.choose(question) }, question),
            ),
          ),
        );
      }
    }

    renderStatus() {
      const t = this.t;
      let text = t.subtitle;
      if (this.mode === "waiting") text = this.queuePosition ? `${t.waiting} ${t.position(this.queuePosition)}` : t.waiting;
      else if (this.mode === "agent") text = t.withAgent;
      this.subtitleEl.textContent = text;
      this.subtitleEl.dataset.mode = this.mode;
      this.humanButton.hidden = this.mode !== "bot";
    }

    renderBadge() {
      this.save();
      this.badge.hidden = this.unread === 0;
      this.badge.textContent = this.unread === 0 ? "" : String(this.unread);
      this.badgeText.textContent = this.unread === 0 ? "" : ` (${this.t.unread(this.unread)})`;
    }

    fitInput() {
      this.input.style.height = "auto";
      this.input.style.height = `${Math.min(this.input.scrollHeight, 140)}px`;
    }

    isOpen() {
      return !this.panel.hidden;
    }

    open({ focus }) {
      this.panel.hidden = false;
      this.launcher.setAttribute("aria-expanded", "true");
      this.host.dataset.open = "true";
      this.state.open = true;
      this.save();
      this.unread = 0;
      this.renderBadge();
      this.loadConfig();
      this.scrollToEnd();
      if (focus) this.input.focus();
    }

    close() {
      this.panel.hidden = true;
      this.launcher.setAttribute("aria-expanded", "false");
      delete this.host.dataset.open;
      this.state.open = false;
      this.save();
      this.launcher.focus();
    }

    announce(text) {
      const line = h("p", {}, text);
      this.announcer.append(line);
      while (this.announcer.childElementCount > 5) this.announcer.firstElementChild.remove();
    }

    showNotice(text) {
      this.notice.textContent = text || "";
      this.notice.hidden = !text;
      if (text) this.announce(text);
    }

    scrollToEnd() {
      this.log.scrollTop = this.log.scrollHeight;
    }

    // --- the server ---

    async request(method, path, body) {
      const headers = { Accept: "application/json" };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      if (this.state.token) headers.Authorization = `Bearer ${this.state.token}`;
      const response = await fetch(this.api + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        mode: "cors",
      });
      if (!response.ok) {
        let detail = "";
        try {
          detail = (await response.json()).detail;
        } catch {
          // not JSON: the status says enough
        }
        throw new HttpError(response.status, typeof detail === "string" ? detail : "");
      }
      return response.status === 204 ? null : response.json();
    }

    async loadConfig() {
      if (this.config) return;
      try {
        this.config = await this.request("GET", "/api/widget/config");
        this.renderPrivacy();
      } catch (error) {
        console.warn("Guichet: could not read the widget's settings", error);
      }
    }

    async ensureConversation() {
      if (this.state.id) return;
      const created = await this.request("POST", "/api/conversations", { language: this.language });
      this.state.id = created.id;
      this.state.token = created.token;
      this.save();
      this.connect();
    }

    forget() {
      this.disconnect();
      this.state = { id: null, token: null, language: this.language, open: this.isOpen() };
      this.save();
      for (const element of this.messages.values()) element.remove();
      this.messages.clear();
      this.setMode("bot", null, false);
      this.renderWelcome();
    }

    // --- sending ---

    submit() {
      const text = this.input.value.trim();
      if (!text) return;
      if (text.length > MAX_LENGTH) {
        this.showNotice(this.t.tooLong);
        return;
      }
      this.input.value = "";
      this.fitInput();
      this.send(text);
    }

    /** Send a message (typed text, or a button's payload shown as its title), one at a time, in order. */
    send(text, shown) {
      const item = { text, shown: shown || text, element: null, status: "sending" };
      item.element = this.renderPending(item);
      this.pending.push(item);
      this.renderWelcome();
      this.showNotice("");
      this.scrollToEnd();
      this.sending = this.sending.then(() => this.deliver(item));
      return this.sending;
    }

    /** A quick reply: its buttons go away once answered, so the focus goes back to the message box. */
    choose(payload, title) {
      this.send(payload, title);
      this.input.focus();
    }

    async deliver(item) {
      item.status = "sending";
      this.updatePending(item);
      const botTurn = this.mode === "bot";
      if (botTurn) this.setTyping(true);
      try {
        await this.ensureConversation();
        const turn = await this.request("POST", `/api/conversations/${encodeURIComponent(this.state.id)}/messages`, {
          text: item.text,
        });
        item.status = "sent";
        this.updatePending(item);
        if (turn.language && turn.language !== this.language) {
          // The bot answered in the other language: the interface follows the citizen.
          this.language = turn.language;
          this.save();
          this.applyLanguage();
        }
        for (const message of turn.messages) this.receive({ author: "bot", ...message });
        this.setMode(turn.mode, this.queuePosition, true);
        // Not awaited: the next message need not wait for this one's stored copy.
        this.confirmSoon(item);
      } catch (error) {
        this.failed(item, error);
      } finally {
        if (botTurn) this.setTyping(false);
      }
    }

    /** The socket brings the stored citizen message; if it is down, read the messages to find it. */
    async confirmSoon(item) {
      if (!this.pending.includes(item)) return;
      await new Promise((resolve) => setTimeout(resolve, 1500));
      if (this.pending.includes(item)) await this.catchUp();
    }

    failed(item, error) {
      const status = error instanceof HttpError ? error.status : 0;
      if (status === 503) {
        // Stored, but the bot could not answer: the socket (or catching up) brings the stored message.
        item.status = "sent";
        this.updatePending(item);
        this.showNotice(this.t.unavailable);
        this.confirmSoon(item);
        return;
      }
      if (status === 401 || status === 404) {
        // The conversation is gone (deleted after the retention period): start a new one, resend.
        this.forget();
        this.retry(item);
        return;
      }
      item.status = "failed";
      this.updatePending(item);
      this.showNotice(status === 429 ? this.t.tooMany : this.t.failed);
      if (status === 0 && this.state.id) {
        // The request may have reached the server before the network failed: check before resending.
        item.uncertain = true;
        this.catchUp();
      }
    }

    retry(item) {
      item.uncertain = false;
      this.sending = this.sending.then(() => this.deliver(item));
    }

    renderPending(item) {
      const retry = h("button", { type: "button", class: "retry", hidden: true, onclick: () => this.retry(item) });
      const state = h("span", { class: "state" });
      const element = h(
        "li",
        { class: "message citizen pending", "data-author": "citizen", "data-state": "sending" },
        h("span", { class: "sr-only who" }),
        h("p", { class: "bubble" }, item.shown),
        h("p", { class: "meta" }, state, retry),
      );
      this.list.append(element);
      return element;
    }

    updatePending(item) {
      const element = item.element;
      element.dataset.state = item.status;
      const t = this.t;
      element.querySelector(".state").textContent =
        item.status === "sending" ? t.sending : item.status === "failed" ? t.notSent : "";
      const retry = element.querySelector(".retry");
      retry.hidden = item.status !== "failed";
      retry.textContent = t.retry;
      this.relabel(element);
    }

    /** The highest seq up to which every message is shown: where catching up starts. */
    contiguousSeq() {
      let seq = 0;
      while (this.messages.has(seq + 1)) seq += 1;
      return seq;
    }

    async catchUp() {
      if (!this.state.id) return;
      try {
        const after = this.contiguousSeq();
        const messages = await this.request(
          "GET",
          `/api/conversations/${encodeURIComponent(this.state.id)}/messages?after=${after}`,
        );
        for (const message of messages) this.receive(message);
      } catch (error) {
        if (error instanceof HttpError && (error.status === 401 || error.status === 404)) this.forget();
        return;
      }
      // What is still uncertain after reading the server never reached it: send it again.
      for (const item of [...this.pending]) {
        if (item.uncertain) this.retry(item);
      }
    }

    // --- receiving ---

    /**
     * Show a stored message once, in its place; a message seen before (same seq) is ignored. Only a message
     * this tab has never shown is announced and counted as unread: not the history shown again after a reload.
     */
    receive(message) {
      if (typeof message.seq !== "number" || this.messages.has(message.seq)) return;
      const fresh = message.seq > (this.state.shown || 0);
      if (fresh) {
        this.state.shown = message.seq;
        this.save();
      }
      if (message.author === "citizen") {
        const index = this.pending.findIndex((item) => item.text.trim() === message.text.trim());
        if (index >= 0) {
          const [item] = this.pending.splice(index, 1);
          item.element.remove();
          if (item.status === "failed") this.showNotice("");
        }
      }
      for (const button of message.buttons || []) {
        this.payloadTitles.set(button.payload, () => button.title);
      }
      const element = this.renderMessage(message);
      this.messages.set(message.seq, element);
      let before = null;
      for (const [seq, other] of this.messages) {
        if (seq > message.seq && (before === null || Number(before.dataset.seq) > seq)) before = other;
      }
      this.list.insertBefore(element, before || this.list.querySelector(".pending"));
      if (message.author === "citizen") this.retireQuickReplies(message.seq);
      this.renderWelcome();
      if (fresh && message.author !== "citizen") {
        this.announce(`${this.t.said(this.authorName(message.author))} ${message.text}`);
        if (!this.isOpen()) {
          this.unread += 1;
          this.renderBadge();
        }
      }
      this.scrollToEnd();
    }

    authorName(author) {
      return { citizen: this.t.you, bot: this.t.bot, agent: this.t.agent }[author] || this.t.system;
    }

    relabel(element) {
      const who = element.querySelector(".who");
      if (who) who.textContent = this.t.said(this.authorName(element.dataset.author)) + " ";
      const label = element.querySelector(".author-label");
      if (label) label.textContent = this.authorName(element.dataset.author);
      const group = element.querySelector(".quick-replies");
      if (group) group.setAttribute("aria-label", this.t.quickRepliesLabel);
    }

    renderMessage(message) {
      const t = this.t;
      const author = ["citizen", "bot", "agent", "system"].includes(message.author) ? message.author : "system";
      let shown = message.text;
      if (author === "citizen" && this.payloadTitles.has(message.text)) shown = this.payloadTitles.get(message.text)();
      const body =
        author === "citizen" || author === "system"
          ? h("p", { class: "bubble" }, shown)
          : h("div", { class: "bubble" }, richText(shown, t));
      const element = h(
        "li",
        {
          class: `message ${author}`,
          "data-seq": String(message.seq),
          "data-author": author,
          lang: LANGUAGES.includes(message.language) ? message.language : null,
          "data-testid": `message-${author}`,
        },
        h("span", { class: "sr-only who" }),
        author === "agent" ? h("p", { class: "author-label", "aria-hidden": "true" }) : null,
        body,
      );
      const source = message.source;
      if (author === "bot" && source && source.url && safeUrl(source.url)) {
        element.append(h("p", { class: "source" }, link(source.url, t.sourceLink(source.title), t)));
      }
      if (author === "bot" && (message.buttons || []).length > 0) {
        element.append(
          h(
            "div",
            { class: "quick-replies", role: "group", "data-testid": "quick-replies" },
            message.buttons.map((button) =>
              h(
                "button",
                { type: "button", class: "quick-reply", onclick: () => this.choose(button.payload, button.title) },
                button.title,
              ),
            ),
          ),
        );
      }
      if (message.created_at) {
        element.append(h("p", { class: "meta" }, h("time", { datetime: message.created_at }, formatTime(message.created_at, this.language))));
      }
      this.relabel(element);
      return element;
    }

    /** Quick replies of messages the citizen has answered since are not offered any more. */
    retireQuickReplies(citizenSeq) {
      for (const [seq, element] of this.messages) {
        if (seq < citizenSeq) for (const group of element.querySelectorAll(".quick-replies")) group.remove();
      }
    }

    setTyping(on) {
      this.typing.hidden = !on;
      if (on) this.scrollToEnd();
    }

    setMode(mode, position, announce) {
      if (!["bot", "waiting", "agent"].includes(mode)) return;
      const changed = mode !== this.mode || (mode === "waiting" && position !== this.queuePosition);
      const previous = this.mode;
      this.mode = mode;
      this.queuePosition = mode === "waiting" ? position : null;
      this.renderStatus();
      this.host.dataset.mode = mode;
      if (!changed || !announce) return;
      if (mode === "waiting") this.announce(this.subtitleEl.textContent);
      else if (mode === "agent") this.announce(this.t.withAgent);
      else if (previous !== "bot") this.announce(this.t.withBot);
    }

    // --- the live connection ---

    connect() {
      if (!this.state.id || this.socket) return;
      clearTimeout(this.reconnectTimer);
      const base = new URL(this.api, window.location.href);
      base.protocol = base.protocol === "https:" ? "wss:" : "ws:";
      const path = `${base.href.replace(/\/+$/, "")}/api/conversations/${encodeURIComponent(this.state.id)}/ws`;
      const query = `?token=${encodeURIComponent(this.state.token)}&after=${this.contiguousSeq()}`;
      let socket;
      try {
        socket = new WebSocket(path + query);
      } catch {
        this.scheduleReconnect();
        return;
      }
      this.socket = socket;
      let first = true;
      socket.addEventListener("message", (event) => {
        let data;
        try {
          data = JSON.parse(event.data);
        } catch {
          return;
        }
        if (data.type === "status") {
          this.setMode(data.mode, data.queue_position, !first);
          first = false;
          if (this.connection !== "live") {
            if (this.connection === "offline") {
              this.showNotice(this.t.online);
              // Back online: messages that failed on the way are checked for, then sent again if missing.
              if (this.pending.some((item) => item.uncertain)) this.catchUp();
            }
            this.setConnection("live");
            this.retries = 0;
          }
        } else if (data.type === "message" && data.message) {
          this.receive(data.message);
          if (data.message.author !== "citizen") this.setTyping(false);
        } else if (data.type === "pong") {
          clearTimeout(this.pongTimer);
        }
      });
      socket.addEventListener("open", () => this.startPings(socket));
      socket.addEventListener("close", (event) => {
        if (this.socket !== socket) return;
        this.socket = null;
        this.stopPings();
        if (event.code === 4401) {
          this.forget();
          return;
        }
        if (this.state.id) {
          if (this.connection === "live") this.showNotice(this.t.offline);
          this.setConnection("offline");
          this.scheduleReconnect();
        }
      });
    }

    disconnect() {
      clearTimeout(this.reconnectTimer);
      this.stopPings();
      const socket = this.socket;
      this.socket = null;
      if (socket) socket.close(1000);
      this.setConnection("idle");
    }

    setConnection(state) {
      this.connection = state;
      this.host.dataset.connection = state;
    }

    scheduleReconnect() {
      clearTimeout(this.reconnectTimer);
      const delay = Math.min(RECONNECT_MAX_MS, 500 * 2 ** this.retries) * (0.8 + Math.random() * 0.4);
      this.retries += 1;
      this.reconnectTimer = setTimeout(() => this.connect(), delay);
    }

    reconnectNow() {
      if (this.state.id && !this.socket) {
        this.retries = 0;
        this.connect();
      }
    }

    startPings(socket) {
      this.stopPings();
      this.pingTimer = setInterval(() => {
        if (socket.readyState !== WebSocket.OPEN) return;
        socket.send(JSON.stringify({ type: "ping" }));
        clearTimeout(this.pongTimer);
        // No answer: the connection is dead without having closed (a sleeping laptop, a lost network).
        this.pongTimer = setTimeout(() => socket.close(4000, "no pong"), PONG_WITHIN_MS);
      }, PING_EVERY_MS);
    }

    stopPings() {
      clearInterval(this.pingTimer);
      clearTimeout(this.pongTimer);
    }

    // --- the language ---

    async switchLanguage() {
      this.language = this.language === "fr" ? "en" : "fr";
      this.save();
      this.applyLanguage();
      this.languageButton.focus();
      this.announce(this.t.title);
      if (this.state.id) {
        try {
          await this.request("PATCH", `/api/conversations/${encodeURIComponent(this.state.id)}`, { language: this.language });
        } catch (error) {
          console.warn("Guichet: the conversation's language was not changed", error);
        }
      }
    }
  }

  // --- options and start ---------------------------------------------------------------------------

  function optionsFrom(source, scriptElement) {
    const data = (scriptElement && scriptElement.dataset) || {};
    const pageLanguage = (document.documentElement.lang || "").slice(0, 2).toLowerCase();
    const wanted = (source.language || data.language || pageLanguage || "fr").slice(0, 2).toLowerCase();
    const colors = source.colors || {};
    const colour = (value, fallback) => (luminance(value || "") === null ? fallback : value);
    let apiUrl = source.apiUrl || data.apiUrl;
    if (!apiUrl && scriptElement && scriptElement.src) apiUrl = new URL(scriptElement.src).origin;
    return {
      apiUrl: apiUrl || window.location.origin,
      language: LANGUAGES.includes(wanted) ? wanted : "fr",
      colors: {
        primary: colour(colors.primary || data.primaryColor, "#000091"),
        accent: colour(colors.accent || data.accentColor, "#0063cb"),
      },
      title: source.title || data.title || null,
      privacyUrl: source.privacyUrl || data.privacyUrl || null,
    };
  }

  const api = {
    instance: null,
    /** Start the widget (once per page). */
    init(options) {
      if (api.instance) return api.instance;
      api.instance = new Widget(optionsFrom(options || {}, SCRIPT));
      window.addEventListener("online", () => api.instance.reconnectNow());
      return api.instance;
    },
    open() {
      if (api.instance) api.instance.open({ focus: true });
    },
    close() {
      if (api.instance) api.instance.close();
    },
  };
  window.GuichetWidget = api;

  if (!SCRIPT || SCRIPT.dataset.autoInit !== "false") {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => api.init());
    else api.init();
  }
})();
