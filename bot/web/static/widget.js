/*
 * Walletbot chat bubble. Embed with one tag, no build step, no external resources:
 *
 *   <script src="https://support.example.com/widget.js" data-brand="kdou" defer></script>
 *
 * data-brand  brand key from config.yml (default: the server's default brand)
 * data-api    base URL of the Walletbot server ("" = this page's origin; default: where
 *             widget.js was loaded from)
 *
 * Safety: every text from the user, the bot or an agent is put in the page with textContent
 * (never innerHTML), so HTML or Markdown in a message is shown, never executed. Only bot and
 * agent messages get links, only http(s), built as <a> elements. The widget lives in a shadow
 * root, so the host page's CSS and the widget's CSS do not touch each other.
 *
 * Privacy: the server stores what the user typed with phone numbers, codes etc. masked. What the
 * user typed in this tab is kept in sessionStorage (gone when the tab closes), so that after a
 * reload they see their own words, not the masked copy.
 */
(function () {
  "use strict";

  var script = document.currentScript ||
    document.querySelector('script[src$="/widget.js"], script[src="widget.js"]');
  if (!script) return;

  var scriptUrl = new URL(script.src, document.baseURI);
  var apiAttr = script.getAttribute("data-api");
  var api = (apiAttr === null ? scriptUrl.origin : apiAttr).replace(/\/+$/, "");
  var brandAttr = (script.getAttribute("data-brand") || "").trim();
  var STORAGE_PREFIX = "walletbot.v1.";
  var TYPED_KEY = "walletbot.v2.typed";
  var TYPED_KEEP = 500; // typed texts kept per tab
  var ACTIVE_STATUSES = ["open", "in_progress", "waiting_on_user"];
  // How close to the bottom (px) still counts as "reading the latest message".
  var PINNED_SLACK = 24;
  var REQUEST_TIMEOUT_MS = 20000;
  var HUMAN_PAYLOAD = "/human";
  var FEEDBACK_LABELS = { "/helpful": "helpful", "/not_helpful": "not_helpful" };

  // One bubble per brand, even if the tag is included twice.
  var registry = (window.__walletbotWidgets = window.__walletbotWidgets || {});
  if (registry[brandAttr || "(default)"]) return;
  registry[brandAttr || "(default)"] = true;

  // ------------------------------------------------------------------ small helpers

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function fill(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (whole, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : whole;
    });
  }

  // Text with http(s) links made clickable; everything else stays a text node.
  var URL_PATTERN = /https?:\/\/[^\s<>"'，。！？；、）)\]]+/g;

  function appendLinkified(parent, text) {
    var last = 0;
    String(text).replace(URL_PATTERN, function (match, offset) {
      var href = null;
      try {
        var url = new URL(match);
        if (url.protocol === "http:" || url.protocol === "https:") href = url.href;
      } catch (e) { /* not a URL: keep as text */ }
      if (href === null) return match;
      parent.appendChild(document.createTextNode(text.slice(last, offset)));
      var a = el("a", "wb-link", match);
      a.href = href;
      a.target = "_blank";
      a.rel = "noopener noreferrer nofollow";
      parent.appendChild(a);
      last = offset + match.length;
      return match;
    });
    parent.appendChild(document.createTextNode(String(text).slice(last)));
  }

  // Readable text on the brand colour: whichever of white or near-black contrasts more.
  function textColorOn(hex) {
    var m = /^#([0-9a-f]{6})$/i.exec(hex) || /^#([0-9a-f]{3})$/i.exec(hex);
    if (!m) return "#ffffff";
    var h = m[1].length === 3 ? m[1].replace(/(.)/g, "$1$1") : m[1];
    var lum = [0, 2, 4].map(function (i) {
      var c = parseInt(h.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    var l = 0.2126 * lum[0] + 0.7152 * lum[1] + 0.0722 * lum[2];
    return 1.05 / (l + 0.05) >= (l + 0.05) / 0.0615 ? "#ffffff" : "#111827";
  }

  function storageGet(key) {
    try {
      var raw = window.localStorage.getItem(key);
      return raw ? JSON.parse(raw) : null;
    } catch (e) {
      return null; // storage disabled (private mode, sandboxed frame): the chat still works
    }
  }

  function storageSet(key, value) {
    try {
      if (value === null) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, JSON.stringify(value));
    } catch (e) { /* see storageGet */ }
  }

  // What the user typed in this tab, by message_id (see the header). Written before the message
  // is sent, so a reload at any moment finds it; the oldest entries go past TYPED_KEEP.
  function typedGet() {
    try {
      var raw = window.sessionStorage.getItem(TYPED_KEY);
      var map = raw ? JSON.parse(raw) : {};
      return map && typeof map === "object" ? map : {};
    } catch (e) {
      return {};
    }
  }

  function typedRemember(messageId, text) {
    var map = typedGet();
    map[messageId] = text;
    var ids = Object.keys(map);
    for (var i = 0; i < ids.length - TYPED_KEEP; i++) delete map[ids[i]];
    try {
      window.sessionStorage.setItem(TYPED_KEY, JSON.stringify(map));
    } catch (e) { /* storage disabled: the masked copy is shown after a reload */ }
  }

  function pad2(n) {
    return (n < 10 ? "0" : "") + n;
  }

  // "14:05" in the user's local time; the full date and time go in the title (on hover).
  function clock(date) {
    return pad2(date.getHours()) + ":" + pad2(date.getMinutes());
  }

  // Stored times are UTC; a value without a zone is read as UTC too.
  function parseStamp(value) {
    if (!value) return null;
    var text = /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : value + "Z";
    var date = new Date(text);
    return isNaN(date.getTime()) ? null : date;
  }

  function newMessageId() {
    return "m-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
  }

  function request(method, path, body, token) {
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS) : null;
    var headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers["X-Conversation-Token"] = token;
    return fetch(api + path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller ? controller.signal : undefined,
      credentials: "omit",
      cache: "no-store"
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, data: data, headers: response.headers };
      });
    }).finally(function () {
      if (timer) clearTimeout(timer);
    });
  }

  // ------------------------------------------------------------------ the widget

  function Widget(config) {
    this.config = config;
    this.strings = config.strings;
    this.storageKey = STORAGE_PREFIX + config.brand;
    var saved = storageGet(this.storageKey) || {};
    this.conversation = typeof saved.conversation === "string" ? saved.conversation : null;
    this.token = typeof saved.token === "string" ? saved.token : null;
    this.ticket = typeof saved.ticket === "string" ? saved.ticket : null;
    this.wasOpen = saved.open === true;
    this.ticketStatus = typeof saved.ticket_status === "string" ? saved.ticket_status : null;
    this.lastSeq = 0;
    this.unread = 0;
    this.pageTitle = null; // the host page's title while ours shows the unread count
    this.lastStamp = null; // the clock time last shown in the log (one per minute and author)
    this.failed = null; // the message whose send failed, for the retry button
    this.pinned = true; // the log shows its last message
    this.quietSync = false; // after a POST: history holds what we already showed
    this.generation = 0; // counts POSTs, so that a stale history answer is recognised
    this.busy = false;
    this.restored = false;
    this.pollTimer = null;
    this.build();
  }

  Widget.prototype.save = function () {
    if (!this.conversation) {
      storageSet(this.storageKey, this.isOpen() ? { open: true } : null);
      return;
    }
    storageSet(this.storageKey, {
      conversation: this.conversation,
      token: this.token,
      ticket: this.ticket,
      ticket_status: this.ticketStatus,
      open: this.isOpen()
    });
  };

  Widget.prototype.build = function () {
    var s = this.strings;
    var self = this;
    this.host = el("div");
    this.host.setAttribute("data-walletbot", this.config.brand);
    var shadow = this.host.attachShadow ? this.host.attachShadow({ mode: "open" }) : this.host;

    var css = el("link");
    css.rel = "stylesheet";
    css.href = new URL("widget.css", scriptUrl).href;
    shadow.appendChild(css);

    var root = (this.root = el("div", "wb"));
    root.hidden = true; // until the stylesheet is in, to avoid a flash of unstyled content
    css.addEventListener("load", function () { root.hidden = false; });
    css.addEventListener("error", function () { root.hidden = false; });
    root.style.setProperty("--wb-color", /^#[0-9a-f]{3,8}$/i.test(this.config.color) ? this.config.color : "#2563eb");
    root.style.setProperty("--wb-on-color", textColorOn(this.config.color));
    shadow.appendChild(root);

    var launcher = (this.launcher = el("button", "wb-launcher"));
    launcher.type = "button";
    launcher.setAttribute("aria-label", s.open);
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-controls", "wb-panel");
    launcher.appendChild(el("span", "wb-launcher-icon"));
    var badge = (this.badge = el("span", "wb-badge"));
    badge.hidden = true;
    badge.setAttribute("aria-hidden", "true"); // the launcher's name says the count
    launcher.appendChild(badge);
    launcher.addEventListener("click", function () { self.open(); });
    root.appendChild(launcher);

    var panel = (this.panel = el("section", "wb-panel"));
    panel.id = "wb-panel";
    panel.hidden = true;
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-labelledby", "wb-title");
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        event.preventDefault();
        self.close();
      }
    });

    var header = el("header", "wb-header");
    var heading = el("div", "wb-heading");
    var title = el("h2", "wb-title", s.title);
    title.id = "wb-title";
    heading.appendChild(title);
    heading.appendChild(el("p", "wb-subtitle", s.subtitle));
    header.appendChild(heading);
    var human = (this.humanButton = el("button", "wb-human", s.human));
    human.type = "button";
    human.addEventListener("click", function () { self.sendPayload(HUMAN_PAYLOAD, s.human, null); });
    header.appendChild(human);
    var close = el("button", "wb-close");
    close.type = "button";
    close.setAttribute("aria-label", s.close);
    close.appendChild(el("span", "wb-close-icon"));
    close.addEventListener("click", function () { self.close(); });
    header.appendChild(close);
    panel.appendChild(header);

    var banner = (this.banner = el("div", "wb-ticket"));
    banner.setAttribute("role", "status");
    banner.hidden = true;
    this.bannerText = el("span", "wb-ticket-text", s.ticket_banner);
    this.bannerNumber = el("strong", "wb-ticket-number");
    this.bannerNumber.setAttribute("aria-label", s.ticket);
    banner.appendChild(this.bannerText);
    banner.appendChild(document.createTextNode(" "));
    banner.appendChild(this.bannerNumber);
    panel.appendChild(banner);

    var log = (this.log = el("div", "wb-log"));
    log.setAttribute("role", "log");
    log.setAttribute("aria-live", "polite");
    log.setAttribute("aria-label", s.messages_label);
    log.tabIndex = 0; // scrollable by keyboard
    log.addEventListener("scroll", function () {
      self.pinned = log.scrollTop + log.clientHeight >= log.scrollHeight - PINNED_SLACK;
    });
    // The log shrinks when the ticket banner, the typing line, an error or a taller input
    // appears: keep its last message in view if the user was reading it.
    if (typeof ResizeObserver === "function") {
      new ResizeObserver(function () { if (self.pinned) self.scrollDown(); }).observe(log);
    }
    panel.appendChild(log);

    var typing = (this.typing = el("div", "wb-typing"));
    typing.setAttribute("role", "status");
    typing.hidden = true;
    typing.appendChild(el("span", "wb-dots"));
    typing.appendChild(el("span", "wb-typing-text", s.typing));
    panel.appendChild(typing);

    var error = (this.error = el("div", "wb-error"));
    error.hidden = true;
    this.errorText = el("span", "wb-error-text");
    this.errorText.setAttribute("role", "alert");
    error.appendChild(this.errorText);
    var retry = (this.retryButton = el("button", "wb-retry", s.retry));
    retry.type = "button";
    retry.hidden = true;
    retry.addEventListener("click", function () { self.retryFailed(); });
    error.appendChild(retry);
    panel.appendChild(error);

    var form = el("form", "wb-form");
    var input = (this.input = el("textarea", "wb-input"));
    input.rows = 1;
    input.placeholder = s.placeholder;
    input.setAttribute("aria-label", s.input_label);
    input.addEventListener("keydown", function (event) {
      // Enter sends, Shift+Enter is a new line; not while an IME is composing Chinese.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        self.sendText();
      }
    });
    input.addEventListener("input", function () { self.fitInput(); });
    form.appendChild(input);
    var send = (this.sendButton = el("button", "wb-send", s.send));
    send.type = "submit";
    form.appendChild(send);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.sendText();
    });
    panel.appendChild(form);
    root.appendChild(panel);

    this.addNotice(s.greeting, "wb-greeting");
    if (this.ticket) this.showTicket(this.ticket);
    document.body.appendChild(this.host);
    if (this.wasOpen) this.open({ focus: false });
    else this.updatePolling();
  };

  // The input grows with its text up to its CSS max-height, then scrolls.
  Widget.prototype.fitInput = function () {
    var input = this.input;
    input.style.height = "auto";
    input.style.height = input.scrollHeight + 2 + "px"; // + the borders (box-sizing: border-box)
  };

  // ------------------------------------------------------------------ open / close

  Widget.prototype.isOpen = function () {
    return !this.panel.hidden;
  };

  Widget.prototype.open = function (options) {
    this.panel.hidden = false;
    this.launcher.hidden = true;
    this.launcher.setAttribute("aria-expanded", "true");
    if (!options || options.focus !== false) this.input.focus();
    this.save();
    if (!this.restored) {
      this.restored = true;
      if (this.conversation) this.restore();
    }
    this.setUnread(0);
    this.updatePolling();
    this.scrollDown();
  };

  Widget.prototype.close = function () {
    this.panel.hidden = true;
    this.launcher.hidden = false;
    this.launcher.setAttribute("aria-expanded", "false");
    this.updatePolling();
    this.save();
    this.launcher.focus();
  };

  // Replies an agent sent while the panel was closed: a badge on the launcher and a count in
  // the page's title, until the panel opens.
  Widget.prototype.setUnread = function (count) {
    var s = this.strings;
    this.unread = count;
    this.badge.hidden = count === 0;
    this.badge.textContent = count ? String(count) : "";
    this.launcher.setAttribute("aria-label", count ? s.open + " · " + fill(s.unread, { count: count }) : s.open);
    if (count) {
      if (this.pageTitle === null) this.pageTitle = document.title;
      document.title = fill(s.unread_title, { count: count, title: this.pageTitle });
    } else if (this.pageTitle !== null) {
      document.title = this.pageTitle;
      this.pageTitle = null;
    }
  };

  // ------------------------------------------------------------------ rendering

  Widget.prototype.scrollDown = function () {
    this.log.scrollTop = this.log.scrollHeight;
    this.pinned = true;
  };

  Widget.prototype.addNotice = function (text, extraClass) {
    var node = el("div", "wb-notice" + (extraClass ? " " + extraClass : ""), text);
    this.log.appendChild(node);
    this.scrollDown();
    return node;
  };

  Widget.prototype.addMessage = function (role, text, buttons, options) {
    var s = this.strings;
    var row = el("div", "wb-msg wb-msg-" + role);
    var at = (options && options.at) || new Date();
    var who = role === "user" ? s.you : role === "agent" ? s.agent : s.bot;
    // Said to screen readers before each message; agents are also named on screen.
    row.appendChild(el("span", role === "agent" ? "wb-author" : "wb-sr", who + "："));
    var bubble = el("div", "wb-bubble");
    if (role === "user") bubble.textContent = text;
    else appendLinkified(bubble, text);
    row.appendChild(bubble);
    if (buttons && buttons.length) {
      row.appendChild(this.replyGroup(buttons, options && options.disabled));
    }
    // One time per author and minute: a group of messages shows it once, under its first.
    var stamp = role + " " + clock(at) + " " + at.toDateString();
    if (stamp !== this.lastStamp) {
      this.lastStamp = stamp;
      var time = el("time", "wb-time", clock(at));
      time.dateTime = at.toISOString();
      time.title = at.toLocaleString();
      row.appendChild(time);
    }
    this.log.appendChild(row);
    this.scrollDown();
    return row;
  };

  Widget.prototype.replyGroup = function (buttons, disabled) {
    var self = this;
    var group = el("div", "wb-replies");
    group.setAttribute("role", "group");
    buttons.forEach(function (b) {
      var button = el("button", "wb-reply", b.title);
      button.type = "button";
      button.setAttribute("data-payload", b.payload);
      // The "was this helpful" thumbs are ordinary replies; name them plainly for screen readers.
      var feedback = FEEDBACK_LABELS[b.payload];
      if (feedback) {
        button.className += " wb-reply-feedback";
        button.setAttribute("aria-label", self.strings[feedback]);
      }
      button.disabled = !!disabled;
      button.addEventListener("click", function () {
        self.sendPayload(b.payload, b.title, button);
      });
      group.appendChild(button);
    });
    return group;
  };

  // Quick replies are answers to one question: once anything else is said they are spent.
  // Returns a function that enables again the ones that were enabled (when the send fails).
  Widget.prototype.disableReplies = function () {
    var buttons = this.log.querySelectorAll(".wb-reply");
    var enabled = [];
    for (var i = 0; i < buttons.length; i++) {
      if (!buttons[i].disabled) enabled.push(buttons[i]);
      buttons[i].disabled = true;
    }
    return function () {
      for (var j = 0; j < enabled.length; j++) enabled[j].disabled = false;
    };
  };

  Widget.prototype.showTicket = function (number) {
    var done = this.ticketStatus !== null && ACTIVE_STATUSES.indexOf(this.ticketStatus) < 0;
    this.ticket = number;
    this.bannerNumber.textContent = number;
    this.bannerText.textContent = done ? this.strings.ticket_banner_done : this.strings.ticket_banner;
    this.banner.classList.toggle("wb-ticket-done", done);
    this.banner.hidden = false;
    this.scrollDown();
    this.updatePolling();
  };

  // `retryable`: the message was not delivered and the retry button sends it again.
  Widget.prototype.showError = function (text, retryable) {
    this.errorText.textContent = text;
    this.error.hidden = !text;
    this.retryButton.hidden = !(text && retryable);
    if (text) this.scrollDown();
  };

  Widget.prototype.setBusy = function (busy) {
    this.busy = busy;
    this.typing.hidden = !busy;
    this.sendButton.disabled = busy;
    this.humanButton.disabled = busy;
    this.retryButton.disabled = busy;
    if (busy) this.scrollDown();
  };

  Widget.prototype.applyState = function (state) {
    if (state && typeof state.ticket === "string" && state.ticket) {
      this.showTicket(state.ticket);
      this.save();
    }
  };

  // An agent moved the ticket: say so once in the log (not for the status it had when this
  // browser last looked), and the banner stops promising a reply on a finished ticket.
  Widget.prototype.applyTicketStatus = function (status) {
    if (typeof status !== "string" || !this.ticket || status === this.ticketStatus) return;
    var before = this.ticketStatus;
    this.ticketStatus = status;
    var wasActive = before === null || ACTIVE_STATUSES.indexOf(before) >= 0;
    var isActive = ACTIVE_STATUSES.indexOf(status) >= 0;
    var key = null;
    if (!isActive) key = "ticket_status_" + status;
    else if (!wasActive) key = "ticket_status_reopened";
    if (key && before !== null && this.strings[key]) {
      this.addNotice(fill(this.strings[key], { ticket: this.ticket }), "wb-status-line");
    }
    this.showTicket(this.ticket);
    this.save();
  };

  // ------------------------------------------------------------------ history

  // Render stored turns; user button presses are shown with the title of the button pressed.
  // `roles` limits which turns are drawn (all of them are read, to know the button titles).
  Widget.prototype.renderHistory = function (entries, roles) {
    var self = this;
    var typed = typedGet();
    var titles = {};
    var lastGroup = null;
    var lastUser = -1;
    entries.forEach(function (e, i) { if (e.role === "user") lastUser = i; });
    entries.forEach(function (entry, i) {
      var role = entry.role;
      var buttons = entry.buttons || [];
      if (role === "bot" && buttons.length) {
        titles = {};
        buttons.forEach(function (b) { titles[b.payload] = b.title; });
      }
      if (roles && roles.indexOf(role) < 0) return;
      var at = parseStamp(entry.created_at) || undefined;
      if (role === "user") {
        var own = entry.message_id && Object.prototype.hasOwnProperty.call(typed, entry.message_id);
        var text = own ? typed[entry.message_id] : entry.text;
        if (entry.payload) {
          // A button press: the server stores its title; fall back to our own labels.
          text = text || titles[entry.payload] ||
            (entry.payload === HUMAN_PAYLOAD ? self.strings.human : entry.payload);
          self.markChosen(lastGroup, entry.payload);
        }
        self.disableReplies();
        self.addMessage("user", text, [], { at: at });
        lastGroup = null;
      } else if (role === "bot" || role === "agent") {
        // Only the replies after the user's last turn can still be answered.
        var row = self.addMessage(role, entry.text, buttons, { disabled: i < lastUser, at: at });
        lastGroup = row.querySelector(".wb-replies") || lastGroup;
      } else {
        self.addNotice(entry.text);
      }
    });
  };

  Widget.prototype.markChosen = function (group, payload) {
    if (!group) return;
    var buttons = group.querySelectorAll(".wb-reply");
    for (var i = 0; i < buttons.length; i++) {
      if (buttons[i].getAttribute("data-payload") === payload) buttons[i].classList.add("wb-chosen");
    }
  };

  Widget.prototype.fetchHistory = function () {
    return request("GET", "/api/conversations/" + encodeURIComponent(this.conversation), undefined, this.token);
  };

  Widget.prototype.restore = function () {
    var self = this;
    var conversation = this.conversation;
    this.setBusy(true);
    return this.fetchHistory().then(function (res) {
      if (conversation !== self.conversation) return;
      if (res.status === 200) {
        var entries = res.data.messages || [];
        self.renderHistory(entries, null);
        self.lastSeq = entries.length ? entries[entries.length - 1].seq : 0;
        self.applyState(res.data.state);
        self.applyTicketStatus(res.data.ticket_status);
      } else if (res.status === 403 || res.status === 404) {
        self.forget();
        self.addNotice(self.strings.error_expired);
      } else {
        self.restored = false;
        self.showError(self.strings.error_unreachable);
      }
    }, function () {
      self.restored = false; // try again on the next open
      self.showError(self.strings.error_unreachable);
    }).finally(function () {
      self.setBusy(false);
    });
  };

  Widget.prototype.forget = function () {
    this.conversation = null;
    this.token = null;
    this.ticket = null;
    this.lastSeq = 0;
    this.ticketStatus = null;
    this.banner.hidden = true;
    this.save();
    this.updatePolling();
  };

  // Agents answer asynchronously: ask for new turns now and then while the panel is open, and
  // also while it is closed once a ticket is open (to count the agent's unread replies).
  Widget.prototype.updatePolling = function () {
    var self = this;
    var wanted = this.isOpen() || (!!this.conversation && !!this.ticket);
    if (wanted && !this.pollTimer) {
      this.pollTimer = setInterval(function () { self.poll(); }, Math.max(1, this.config.poll_seconds) * 1000);
    } else if (!wanted && this.pollTimer) {
      clearInterval(this.pollTimer);
      this.pollTimer = null;
    }
  };

  Widget.prototype.poll = function () {
    if (!this.conversation || this.busy || document.hidden) return;
    if (!this.restored) {
      // Closed since the page loaded: draw the history once, then only what is new is unread.
      this.restored = true;
      this.restore();
      return;
    }
    this.sync();
  };

  // Show turns newer than lastSeq. Right after our own message, only the ones we did not
  // show from the chat reply (an agent's, or a system notice) are new to the user. An answer
  // that was requested before our last message is dropped: it cannot tell the two apart.
  Widget.prototype.sync = function () {
    var self = this;
    var conversation = this.conversation;
    var generation = this.generation;
    return this.fetchHistory().then(function (res) {
      if (res.status !== 200 || conversation !== self.conversation) return;
      if (self.busy || generation !== self.generation) return;
      var fresh = (res.data.messages || []).filter(function (e) { return e.seq > self.lastSeq; });
      if (fresh.length) {
        self.renderHistory(fresh, self.quietSync ? ["agent", "system"] : null);
        self.lastSeq = fresh[fresh.length - 1].seq;
        if (!self.isOpen()) {
          var replies = fresh.filter(function (e) { return e.role === "agent"; }).length;
          if (replies) self.setUnread(self.unread + replies);
        }
      }
      self.quietSync = false;
      self.applyState(res.data.state);
      self.applyTicketStatus(res.data.ticket_status);
    }, function () { /* offline for a moment: the next poll tries again */ });
  };

  // ------------------------------------------------------------------ sending

  Widget.prototype.sendText = function () {
    if (this.busy) return;
    var text = this.input.value;
    if (!text.trim()) return;
    if (text.length > this.config.max_message_chars) {
      this.showError(fill(this.strings.error_too_long, { max: this.config.max_message_chars }));
      return;
    }
    this.input.value = "";
    this.fitInput();
    var undo = this.disableReplies();
    var row = this.addMessage("user", text, []);
    this.post({ text: text }, row, undo, text);
  };

  // Send again the message whose send failed, with the same message_id (see post).
  Widget.prototype.retryFailed = function () {
    var failed = this.failed;
    if (!failed || this.busy) return;
    this.failed = null;
    if (failed.message.text !== undefined) {
      if (this.input.value === failed.typed) {
        this.input.value = "";
        this.fitInput();
      }
      var undo = this.disableReplies();
      var row = this.addMessage("user", failed.typed, []);
      this.post(failed.message, row, undo, failed.typed);
    } else {
      this.sendPayload(failed.message.payload, failed.title, failed.button);
    }
  };

  Widget.prototype.sendPayload = function (payload, title, button) {
    if (this.busy) return;
    if (button) button.classList.add("wb-chosen");
    var enable = this.disableReplies();
    var row = this.addMessage("user", title, []);
    var self = this;
    this.post({ payload: payload }, row, function () {
      if (button) button.classList.remove("wb-chosen");
      enable();
    }, null, { title: title, button: button });
    // The clicked button is disabled now: keep keyboard focus in the panel.
    self.input.focus();
  };

  // POST one message. On failure the optimistic user bubble is removed, the typed text goes
  // back into the input, `undo` re-enables the quick replies, and when the server could not
  // be reached or failed, the retry button sends the same message again.
  Widget.prototype.post = function (message, row, undo, typed, pressed) {
    var self = this;
    // One id per message. Sending again what failed on the network keeps its id: the server may
    // have applied it before the connection broke, and then answers with the stored reply
    // instead of applying it twice.
    var key = message.text !== undefined && message.text !== null ? "t:" + message.text : "p:" + message.payload;
    var id = this.retry && this.retry.key === key ? this.retry.id : newMessageId();
    var body = { text: message.text, payload: message.payload, message_id: id };
    if (typed !== null && typed !== undefined) typedRemember(id, typed);
    if (this.conversation) {
      body.conversation = this.conversation;
      body.token = this.token;
    } else if (this.config.brand) {
      body.brand = this.config.brand;
    }
    this.showError("");
    this.setBusy(true);
    this.generation += 1;
    return request("POST", "/api/chat", body).then(function (res) {
      self.setBusy(false);
      self.retry = null;
      if (res.status === 200) {
        self.receive(res.data);
        return;
      }
      if ((res.status === 403 || res.status === 404) && body.conversation) {
        // The stored conversation is gone (database reset, token lost): start afresh. Typed
        // text is sent again; a button of the old conversation means nothing in the new one.
        self.forget();
        self.addNotice(self.strings.error_expired);
        if (typed !== null) return self.post(message, row, undo, typed);
        self.fail(row, null, typed, "");
        return;
      }
      var stale = res.data && res.data.error && res.data.error.code === "unknown_payload";
      if (res.status >= 500) {
        // Not applied (or applied and its reply lost): the retry keeps the message_id.
        self.retry = { key: key, id: id };
        self.failed = { message: message, typed: typed, title: pressed && pressed.title, button: pressed && pressed.button };
        self.fail(row, undo, typed, self.strings.error_network, true);
        return;
      }
      self.fail(row, stale ? null : undo, typed, self.errorText(res));
    }, function () {
      self.setBusy(false);
      self.retry = { key: key, id: id };
      self.failed = { message: message, typed: typed, title: pressed && pressed.title, button: pressed && pressed.button };
      self.fail(row, undo, typed, self.strings.error_network, true);
    });
  };

  Widget.prototype.fail = function (row, undo, typed, text, retryable) {
    if (row && row.parentNode) row.parentNode.removeChild(row);
    if (typed !== null && !this.input.value) {
      this.input.value = typed;
      this.fitInput();
    }
    if (undo) undo(); // not for a button that can no longer be answered
    this.showError(text, retryable);
  };

  Widget.prototype.errorText = function (res) {
    var s = this.strings;
    var code = res.data && res.data.error ? res.data.error.code : "";
    if (res.status === 413) return fill(s.error_too_long, { max: this.config.max_message_chars });
    if (res.status === 429) return s.error_rate_limited;
    if (code === "unknown_payload") return s.error_stale;
    if (res.status >= 500) return s.error_network;
    return s.error_server;
  };

  Widget.prototype.receive = function (data) {
    var isNew = this.conversation !== data.conversation;
    this.conversation = data.conversation;
    if (data.token) this.token = data.token;
    if (isNew) this.lastSeq = 0;
    this.quietSync = true;
    this.generation += 1;
    var self = this;
    (data.messages || []).forEach(function (m) {
      self.addMessage("bot", m.text, m.buttons || []);
    });
    this.applyState(data.state);
    this.save();
    // Pick up the seq numbers of what we just showed (and any agent reply) right away.
    this.sync();
  };

  // ------------------------------------------------------------------ start-up

  function start(attempt) {
    var query = brandAttr ? "?brand=" + encodeURIComponent(brandAttr) : "";
    request("GET", "/api/widget-config" + query).then(function (res) {
      if (res.status !== 200) {
        if (window.console) console.warn("walletbot: widget configuration refused", res.status, res.data);
        return;
      }
      var widget = new Widget(res.data);
      registry[brandAttr || "(default)"] = widget;
    }, function () {
      // Offline or the server is restarting: try a few more times, then stay out of the way.
      if (attempt < 4) setTimeout(function () { start(attempt + 1); }, 2000 * Math.pow(2, attempt));
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { start(0); });
  } else {
    start(0);
  }
})();
