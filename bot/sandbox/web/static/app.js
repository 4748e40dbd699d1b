// triage-bot sandbox: the page's behaviour. The server renders every region; this script swaps them in when
// the workspace changes (long polling /api/changes), and turns clicks, choices, forms and the composer into
// POSTs that the server sends to the bot as Slack would (signed slash commands, block_actions, view_submission).
"use strict";

(() => {
  const boot = JSON.parse(document.getElementById("boot").textContent);
  const state = {
    user: boot.user,
    place: boot.place,
    thread: boot.thread,
    version: -1,
    modalKey: null,
    zone: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC",
    requested: 0,
    applied: 0,
    scrollToEnd: true,
  };
  const rendered = new Map();
  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const pad = (n) => String(n).padStart(2, "0");

  // ------------------------------------------------------------------ talking to the server

  async function post(path, body) {
    let data;
    try {
      const response = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ user: state.user, ...body }),
      });
      data = await response.json();
    } catch (error) {
      data = { ok: false, message: `The sandbox did not answer (${error.message}).` };
    }
    if (!data.ok && data.message) toast(data.message);
    return data;
  }

  function stateUrl() {
    const query = new URLSearchParams({ user: state.user, c: state.place, tz: state.zone });
    if (state.thread) query.set("thread", state.thread);
    return `/api/state?${query}`;
  }

  async function refresh() {
    const ticket = ++state.requested;
    const response = await fetch(stateUrl());
    if (!response.ok) return;
    const data = await response.json();
    if (ticket < state.applied) return; // an answer to a newer request is already shown
    state.applied = ticket;
    apply(data);
  }

  async function watch() {
    for (;;) {
      try {
        // Answers on a change, or after 20 s without one: refresh either way, so the clock keeps up too.
        await fetch(`/api/changes?since=${state.version}`);
        await refresh();
      } catch (error) {
        await sleep(1000);
      }
    }
  }

  // ------------------------------------------------------------------ applying state

  function setHTML(selector, html) {
    if (rendered.get(selector) === html) return false;
    rendered.set(selector, html);
    $(selector).innerHTML = html;
    return true;
  }

  function setScrolledHTML(selector, html) {
    const pane = $(selector);
    const atEnd = pane.scrollHeight - pane.scrollTop - pane.clientHeight < 60;
    if (setHTML(selector, html)) {
      initPickers(pane);
      if (atEnd || state.scrollToEnd) pane.scrollTop = pane.scrollHeight;
    }
  }

  function apply(data) {
    state.version = data.version;
    $("#clock-label").textContent = data.clock;
    setHTML("#sidebar", data.sidebar);
    setHTML("#main-header", data.header);
    setScrolledHTML("#main-body", data.body);
    const composer = $("#composer");
    composer.hidden = data.composer === null;
    if (data.composer !== null) $("#composer-text").placeholder = data.composer;
    showThread(data.thread);
    showModal(data.modal);
    state.scrollToEnd = false;
    syncUrl();
  }

  function showThread(html) {
    const pane = $("#thread-pane");
    if (html === null) {
      if (state.thread && !pane.hidden) state.thread = null;
      pane.hidden = true;
      rendered.delete("#thread-body");
      return;
    }
    const opening = pane.hidden;
    pane.hidden = false;
    setScrolledHTML("#thread-body", html);
    if (opening) $("#thread-body").scrollTop = $("#thread-body").scrollHeight;
  }

  function syncUrl() {
    const query = new URLSearchParams({ user: state.user, c: state.place });
    if (state.thread) query.set("thread", state.thread);
    history.replaceState(null, "", `?${query}`);
  }

  // ------------------------------------------------------------------ modals

  function showModal(modal) {
    const root = $("#modal-root");
    if (!modal) {
      root.innerHTML = "";
      state.modalKey = null;
      return;
    }
    if (modal.key !== state.modalKey) {
      const sameView = state.modalKey && state.modalKey.split(":")[0] === modal.view_id;
      const kept = sameView ? rawValues(root) : null;
      root.innerHTML = modal.html;
      initPickers(root);
      if (kept) restoreRawValues(root, kept);
      else focusFirst(root);
      state.modalKey = modal.key;
    }
    showErrors(modal.errors || {});
  }

  function focusFirst(root) {
    const first = $(".bk-input input, .bk-input textarea, .bk-input select", root);
    if (first) first.focus();
  }

  function showErrors(errors) {
    for (const wrapper of $$("#modal-root .bk-input")) {
      const message = errors[wrapper.dataset.blockId] || "";
      $(".bk-error", wrapper).textContent = message;
      wrapper.classList.toggle("has-error", Boolean(message));
    }
  }

  // Slack keeps what was typed into an input when the bot updates the view and the input keeps its ids.
  function rawValues(root) {
    const kept = new Map();
    for (const wrapper of $$(".bk-input", root)) {
      const key = `${wrapper.dataset.blockId}\u0000${wrapper.dataset.actionId}`;
      kept.set(key, $$("input, textarea, select", wrapper).map(controlState));
    }
    return kept;
  }

  function controlState(control) {
    if (control.type === "checkbox" || control.type === "radio") return control.checked;
    if (control.multiple) return [...control.selectedOptions].map((option) => option.value);
    return control.value;
  }

  function restoreRawValues(root, kept) {
    for (const wrapper of $$(".bk-input", root)) {
      const values = kept.get(`${wrapper.dataset.blockId}\u0000${wrapper.dataset.actionId}`);
      const controls = $$("input, textarea, select", wrapper);
      if (!values || values.length !== controls.length) continue;
      controls.forEach((control, index) => {
        const value = values[index];
        if (control.type === "checkbox" || control.type === "radio") control.checked = value;
        else if (control.multiple) [...control.options].forEach((o) => (o.selected = value.includes(o.value)));
        else control.value = value;
      });
    }
  }

  function initPickers(root) {
    for (const input of $$("input[type=datetime-local][data-epoch]", root)) {
      const moment = new Date(Number(input.dataset.epoch) * 1000);
      input.value =
        `${moment.getFullYear()}-${pad(moment.getMonth() + 1)}-${pad(moment.getDate())}` +
        `T${pad(moment.getHours())}:${pad(moment.getMinutes())}`;
      input.removeAttribute("data-epoch");
    }
  }

  function fieldValue(wrapper) {
    const type = wrapper.dataset.type;
    if (type === "checkboxes") return $$("input:checked", wrapper).map((input) => input.value);
    if (type === "radio_buttons") {
      const chosen = $("input:checked", wrapper);
      return chosen ? chosen.value : null;
    }
    const control = $(".bk-control", wrapper);
    if (!control) return null;
    if (control.multiple) return [...control.selectedOptions].map((option) => option.value);
    if (type === "datetimepicker") return control.value ? Math.floor(new Date(control.value).getTime() / 1000) : null;
    return control.value;
  }

  async function submitModal(form) {
    const fields = $$(".bk-input", form).map((wrapper) => ({
      block_id: wrapper.dataset.blockId,
      action_id: wrapper.dataset.actionId,
      type: wrapper.dataset.type,
      value: fieldValue(wrapper),
    }));
    const button = $("button[type=submit]", form);
    if (button) button.disabled = true;
    const result = await post("/api/submit", { view_id: form.dataset.viewId, fields });
    if (button) button.disabled = false;
    if (result.errors && Object.keys(result.errors).length) showErrors(result.errors);
    await refresh();
  }

  async function closeModal(everything) {
    const form = $("#modal-root form");
    if (!form) return;
    await post("/api/close", { view_id: form.dataset.viewId, all: everything });
    await refresh();
  }

  // ------------------------------------------------------------------ block actions

  async function sendAction(element, selected) {
    const action = element.closest("[data-action-id]");
    const container = element.closest("[data-container]");
    if (!action || !container) return;
    const body = { action_id: action.dataset.actionId, selected };
    if (container.dataset.container === "view") body.view_id = container.dataset.viewId;
    else Object.assign(body, { channel: container.dataset.channel, ts: container.dataset.ts });
    if (container.dataset.container === "ephemeral") body.ephemeral = true;
    await post("/api/action", body);
    await refresh();
  }

  function chosenValue(action, control) {
    const type = action.dataset.type;
    if (type === "checkboxes") return $$("input:checked", action).map((input) => input.value);
    if (type === "radio_buttons") return control.value;
    if (control.multiple) return [...control.selectedOptions].map((option) => option.value);
    if (type === "datetimepicker") return control.value ? Math.floor(new Date(control.value).getTime() / 1000) : "";
    return control.value;
  }

  // ------------------------------------------------------------------ navigation and composer

  async function navigate(place) {
    state.place = place;
    state.thread = null;
    state.scrollToEnd = true;
    if (place === "app-home") await post("/api/home", {});
    await refresh();
  }

  // A link to a message (a permalink) opens its channel with the thread, here, never at another host.
  async function openMessage(link) {
    state.place = link.dataset.channel;
    state.thread = link.dataset.thread;
    await refresh();
    const selector = `.msg[data-ts="${CSS.escape(link.dataset.ts)}"]`;
    const target = $(`#thread-body ${selector}`) || $(`#main-body ${selector}`);
    if (!target) return;
    target.scrollIntoView({ block: "center" });
    target.classList.add("msg-linked");
    setTimeout(() => target.classList.remove("msg-linked"), 2000);
  }

  async function send(textarea, threadTs) {
    const text = textarea.value;
    if (!text.trim()) return;
    textarea.value = "";
    const result = await post("/api/compose", { channel: state.place, text, thread_ts: threadTs });
    if (!result.ok) textarea.value = text;
    state.scrollToEnd = true;
    await refresh();
  }

  function toast(message) {
    const box = $("#toast");
    box.textContent = message;
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => (box.hidden = true), 5000);
  }

  function closeMenus(except) {
    for (const menu of $$(".bk-overflow-menu")) if (menu !== except) menu.hidden = true;
  }

  const clicks = [
    ["a.message-link[data-channel]", (el) => openMessage(el)],
    ["[data-place]", (el) => navigate(el.dataset.place)],
    [".channel-mention[data-channel]", (el) => navigate(el.dataset.channel)],
    ["[data-open-thread]", (el) => {
      state.thread = el.dataset.openThread;
      return refresh();
    }],
    ["[data-close-thread]", () => {
      state.thread = null;
      return refresh();
    }],
    ["[data-forward]", async (el) => {
      await post("/api/clock", { minutes: Number(el.dataset.forward) });
      await refresh();
    }],
    ["[data-message-shortcut]", async (el) => {
      const message = el.closest("[data-container]");
      await post("/api/shortcut", {
        callback_id: el.dataset.messageShortcut, channel: message.dataset.channel, ts: message.dataset.ts,
      });
      await refresh();
    }],
    ["[data-modal-cancel]", () => closeModal(false)],
    ["[data-modal-close-all]", () => closeModal(true)],
    [".bk-overflow-toggle", (el) => {
      const menu = el.nextElementSibling;
      closeMenus(menu);
      menu.hidden = !menu.hidden;
    }],
    [".bk-overflow-item", (el) => {
      closeMenus(null);
      return sendAction(el, el.dataset.value);
    }],
    ["button.bk-button[data-action-id]", async (el) => {
      if (el.dataset.confirm && !window.confirm(el.dataset.confirm)) return;
      if (el.dataset.url) window.open(el.dataset.url, "_blank", "noopener");
      el.disabled = true;
      try {
        await sendAction(el, null);
      } finally {
        el.disabled = false;
      }
    }],
  ];

  document.addEventListener("click", (event) => {
    for (const [selector, handler] of clicks) {
      const element = event.target.closest(selector);
      if (element) {
        event.preventDefault();
        handler(element);
        return;
      }
    }
    if (!event.target.closest(".bk-overflow")) closeMenus(null);
  });

  document.addEventListener("change", (event) => {
    if (event.target.id === "act-as") {
      state.user = event.target.value;
      state.scrollToEnd = true;
      if (state.place === "app-home") navigate("app-home");
      else refresh();
      return;
    }
    const action = event.target.closest(".bk-action");
    if (!action) return;
    const selected = chosenValue(action, event.target);
    if (selected !== "" && selected !== null) sendAction(action, selected);
  });

  document.addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    if (form.matches("#modal-root form")) submitModal(form);
    else if (form.id === "composer") send($("#composer-text"), null);
    else if (form.id === "thread-composer") send($("#thread-text"), state.thread);
  });

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && $("#modal-root form")) {
      closeModal(false);
    } else if (event.key === "Enter" && !event.shiftKey && event.target.matches(".composer textarea")) {
      event.preventDefault();
      event.target.form.requestSubmit();
    }
  });

  // ------------------------------------------------------------------ start

  (async () => {
    apply(boot.state);
    if (state.place === "app-home") await post("/api/home", {});
    await refresh();
    watch();
  })();
})();
