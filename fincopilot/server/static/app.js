// FinCopilot web chat: plain JS, no build step. Talks to /api (JSON + SSE) with a bearer API key.
"use strict";

const KEY_STORAGE = "fincopilot.apiKey";
const THREADS_REFRESH_MS = 10000;  // the sidebar follows threads that finish elsewhere (a review, another tab)
const $ = (sel, root = document) => root.querySelector(sel);
const state = { me: null, threadId: null, busy: false };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
}

function apiKey() { return localStorage.getItem(KEY_STORAGE) || ""; }

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${apiKey()}`, ...(options.headers || {}) };
  if (options.body && typeof options.body !== "string") {
    headers["Content-Type"] = "application/json";
    options = { ...options, body: JSON.stringify(options.body) };
  }
  const resp = await fetch(path, { ...options, headers });
  if (resp.status === 401) { askForKey("Your API key was refused (missing, wrong or revoked)."); throw new Error("unauthorized"); }
  return resp;
}

async function errorMessage(resp) {
  try { return (await resp.json()).error.message; } catch { return `HTTP ${resp.status}`; }
}

// Reads a text/event-stream body; calls onEvent(name, data) per event.
async function readSSE(resp, onEvent) {
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (data) onEvent(name, JSON.parse(data));
    }
  }
}

// ---- sign-in -------------------------------------------------------------------------------------------
function askForKey(message = "") {
  $("#key-error").textContent = message;
  $("#api-key").value = "";
  if (!$("#key-dialog").open) $("#key-dialog").showModal();
}

async function signIn() {
  if (!apiKey()) { askForKey(); return; }
  const resp = await api("/api/me");
  if (!resp.ok) return;
  state.me = await resp.json();
  $("#who").replaceChildren(document.createTextNode(`${state.me.name} `),
    el("span", { class: "role", text: state.me.role.replace("_", " ") }));
  await loadThreads();
}

// ---- threads ------------------------------------------------------------------------------------------
async function loadThreads() {
  const resp = await api("/api/threads");
  if (!resp.ok) return;
  const { threads } = await resp.json();
  const list = $("#threads");
  list.replaceChildren();
  for (const t of threads) {
    const item = el("li", { class: "thread-item" + (t.thread_id === state.threadId ? " active" : ""),
                            "data-thread": t.thread_id, title: t.title, onclick: () => openThread(t.thread_id) },
      el("span", { class: "t", text: t.title }), el("span", { class: `badge ${t.status}`, text: t.status }));
    list.append(item);
  }
}

async function openThread(threadId) {
  const resp = await api(`/api/threads/${encodeURIComponent(threadId)}`);
  if (!resp.ok) { showError(await errorMessage(resp)); return; }
  const view = await resp.json();
  state.threadId = threadId;
  $("#thread-title").textContent = `${view.title || threadId} · ${threadId} · asked by ${view.owner.name}`;
  const box = $("#messages");
  box.replaceChildren();
  for (const turn of view.turns) {
    if (turn.role === "user") { addUser(turn.content); continue; }
    const run = new RunCard();
    run.plan({ steps: turn.plan || [], source: "history" }, true);
    if (turn.status === "answered") run.answer({ text: turn.content, citations: turn.citations || [] });
    else run.note(turn.content);
  }
  if (view.status === "held") {
    const run = new RunCard();
    run.heldBox(view.held || {}, view.can_review, threadId);
  }
  document.querySelectorAll(".thread-item").forEach(
    (n) => n.classList.toggle("active", n.dataset.thread === threadId));
  box.scrollTop = box.scrollHeight;
}

function newConversation() {
  state.threadId = null;
  $("#messages").replaceChildren();
  $("#thread-title").textContent = "New conversation";
  document.querySelectorAll(".thread-item").forEach((n) => n.classList.remove("active"));
  $("#prompt").focus();
}

// ---- rendering a run ----------------------------------------------------------------------------------
function addUser(text) {
  $("#messages").append(el("div", { class: "msg user" }, el("div", { class: "bubble", text })));
}

function showError(message) {
  $("#messages").append(el("div", { class: "msg" }, el("div", { class: "card error", text: message })));
}

let runCounter = 0;
class RunCard {
  constructor() {
    this.id = ++runCounter;
    this.steps = new Map();
    this.card = el("div", { class: "card run", "data-run": String(this.id) });
    this.planBox = el("div", { class: "plan" });
    this.working = el("div", { class: "working", text: "Planning…" });
    this.card.append(this.planBox, this.working);
    $("#messages").append(el("div", { class: "msg assistant" }, this.card));
  }

  plan(data, quiet = false) {
    const steps = data.steps || [];
    this.planBox.replaceChildren(el("h3", { text: `Plan${data.source && data.source !== "history" ? ` (${data.source})` : ""}` }));
    const list = el("ol");
    for (const s of steps) list.append(this.stepNode(s.id, s.skill, s.args, quiet ? "planned" : "pending"));
    if (!steps.length) list.append(el("li", { class: "meta", text: "no skill needed: direct answer" }));
    this.planBox.append(list);
    this.working.textContent = quiet ? "" : "Running steps…";
  }

  // Live progress while the model plans: each attempt, and why a rejected one was rejected.
  planning(d) {
    if (d.stage === "generating")
      this.working.textContent = d.attempt > 1 ? `Repairing the plan (attempt ${d.attempt})…` : "Planning with the model…";
    else if (d.stage === "rejected")
      this.working.textContent = `Plan attempt ${d.attempt}${d.backend ? ` by ${d.backend}` : ""} rejected: ${(d.problems || [])[0] || "invalid"}`;
  }

  stepNode(id, skill, args, status) {
    const argText = Object.entries(args || {}).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(", ");
    const node = el("li", { class: `step ${status}`, id: `run${this.id}-step${id}`, "data-step": String(id) },
      el("div", { class: "head" }, el("span", { class: "sid", text: `[${id}]` }), el("span", { class: "skill", text: skill }),
        el("span", { class: "args", text: argText, title: argText }), el("span", { class: "state", text: status })));
    this.steps.set(Number(id), node);
    return node;
  }

  step(data, finished) {
    let node = this.steps.get(Number(data.id));
    if (!node) {
      node = this.stepNode(data.id, data.skill, data.args, "pending");
      (this.planBox.querySelector("ol") || this.planBox).append(node);
    }
    node.classList.remove("pending", "running", "ok", "failed", "planned");
    if (!finished) { node.classList.add("running"); $(".state", node).textContent = "running…"; return; }
    const ok = data.ok !== false;
    node.classList.add(ok ? "ok" : "failed");
    const secs = data.latency_s != null ? ` · ${Number(data.latency_s).toFixed(2)}s` : "";
    const by = data.produced_by || data.backend;  // what really produced the output: a backend, or rules/template/extractive
    $(".state", node).textContent = `${ok ? "✓ done" : "✗ failed"}${by ? ` · by ${by}` : ""}${secs}`;
    const body = ok ? JSON.stringify(data.output, null, 2) : String(data.error || "failed");
    if (ok && data.rendered && data.rendered.text) {
      node.append(el("div", { class: "rendered", text: data.rendered.text }));
      if ((data.rendered.sources || []).length) node.append(this.sourceList(data.rendered.sources));
    }
    node.append(el("details", {}, el("summary", { text: ok ? "output (JSON)" : "error" }), el("pre", { text: body })));
    if ([...this.steps.values()].every((n) => n.classList.contains("ok") || n.classList.contains("failed")))
      this.working.textContent = "Writing the answer and checking compliance…";
  }

  answer(data) {
    this.working.textContent = "";
    const box = el("div", { class: "answer" + (data.draft ? " draft" : "") });
    const cites = new Map((data.citations || []).map((c) => [Number(c.n), Number(c.step_id ?? c.n)]));
    const parts = String(data.text || "").split(/(\[\d+\])/);
    for (const part of parts) {
      const m = part.match(/^\[(\d+)\]$/);
      if (m) {
        const stepId = cites.get(Number(m[1])) ?? Number(m[1]);
        box.append(el("a", { class: "cite", href: `#run${this.id}-step${stepId}`, "data-step": String(stepId),
                             onclick: (e) => { e.preventDefault(); this.highlight(stepId); } }, part));
      } else box.append(document.createTextNode(part));
    }
    const title = data.draft ? "Draft answer (held, not released)" : "Answer";
    this.card.append(el("h3", { text: title }), box);
    const sources = (data.citations || []).flatMap((c) => c.sources || []);
    if (sources.length) this.card.append(this.sourceList(sources));
    if (data.produced_by) this.card.append(el("div", { class: "meta produced-by", text: `written by ${data.produced_by}` }));
    if (data.unsupported_numbers && data.unsupported_numbers.length)
      this.card.append(el("div", { class: "meta error", text: `numbers without a source: ${data.unsupported_numbers.join(", ")}` }));
  }

  // Sources as links; a knowledge-base passage opens in place (fetched with the API key).
  sourceList(sources) {
    const ul = el("ul", { class: "sources" });
    for (const src of sources) {
      const label = src.label + (src.internal && !/internal/.test(src.label) ? " (internal — not for clients)" : "");
      const li = el("li", {});
      if (src.passage) {
        const view = el("blockquote", { class: "passage", hidden: "" });
        li.append(el("a", { class: "source", href: `/api/kb/passages/${encodeURIComponent(src.passage)}`,
          onclick: async (e) => {
            e.preventDefault();
            if (!view.hidden) { view.hidden = true; return; }
            const resp = await api(`/api/kb/passages/${encodeURIComponent(src.passage)}`);
            const p = resp.ok ? await resp.json() : null;
            view.textContent = p ? `${p.title} § ${p.section}, p. ${p.page}\n\n${p.text}` : await errorMessage(resp);
            view.hidden = false;
          } }, label), view);
      } else if (src.url) li.append(el("a", { class: "source", href: src.url, target: "_blank", rel: "noopener" }, label));
      else li.append(document.createTextNode(label));
      ul.append(li);
    }
    return ul;
  }

  highlight(stepId) {
    this.card.querySelectorAll(".step.highlight").forEach((n) => n.classList.remove("highlight"));
    const node = this.steps.get(Number(stepId));
    if (!node) return;
    node.classList.add("highlight");
    const details = $("details", node);
    if (details) details.open = true;
    node.scrollIntoView({ behavior: "smooth", block: "center" });
  }

  compliance(data) {
    const v = el("div", { class: `verdict ${data.passed ? "pass" : "fail"}` },
      el("strong", { text: data.passed ? "✓ Compliance check passed" : "✗ Compliance check failed" }));
    if (!data.passed && data.violations && data.violations.length) {
      const ul = el("ul");
      for (const x of data.violations) ul.append(el("li", { text: `${x.category}: ${x.reason || x.rule}` }));
      v.append(ul);
    }
    this.card.append(v);
  }

  heldBox(held, canReview, threadId) {
    this.working.textContent = "";
    const box = el("div", { class: "held-box" },
      el("strong", { text: "Held for compliance review. " }),
      document.createTextNode(held.reason || "A compliance officer must approve, edit or reject this answer."));
    if (held.violations && held.violations.length && !this.card.querySelector(".verdict")) {
      const ul = el("ul");
      for (const x of held.violations) ul.append(el("li", { text: `${x.category}: ${x.reason || x.rule}` }));
      box.append(ul);
    }
    if (held.answer) box.append(el("h3", { text: "Draft" }), el("div", { class: "answer draft", text: held.answer }));
    if (canReview) {
      const edit = el("textarea", { class: "edit-text", placeholder: "Corrected answer (for Edit)" });
      edit.value = held.answer || "";
      const actions = el("div", { class: "review-actions" },
        el("button", { class: "approve", type: "button", onclick: () => this.review(threadId, "approve") }, "Approve"),
        el("button", { class: "edit ghost", type: "button", onclick: () => this.review(threadId, "edit", edit.value) }, "Edit & approve"),
        el("button", { class: "reject", type: "button", onclick: () => this.review(threadId, "reject") }, "Reject"));
      box.append(edit, actions);
    } else {
      box.append(el("div", { class: "meta", text: state.me && state.me.role === "compliance_officer"
        ? "You asked this question, so another compliance officer must review it."
        : "A compliance officer will review it; the answer appears here once approved." }));
    }
    this.card.append(box);
  }

  note(text) { this.working.textContent = ""; this.card.append(el("div", { class: "meta", text })); }

  async review(threadId, decision, text) {
    this.card.querySelectorAll(".review-actions button").forEach((b) => (b.disabled = true));
    const resp = await api(`/api/threads/${encodeURIComponent(threadId)}/review`,
      { method: "POST", body: { decision, ...(decision === "edit" ? { text } : {}) } });
    if (!resp.ok) {
      this.card.append(el("div", { class: "error", text: await errorMessage(resp) }));
      this.card.querySelectorAll(".review-actions button").forEach((b) => (b.disabled = false));
      return;
    }
    await openThread(threadId);
    await loadThreads();
  }

  event(type, ev) {
    const d = ev.data || {};
    if (type === "planning") this.planning(d);
    else if (type === "plan") this.plan(d);
    else if (type === "step_start") this.step(d, false);
    else if (type === "step_finish") this.step(d, true);
    else if (type === "answer") this.answer(d);
    else if (type === "compliance") this.compliance(d);
    else if (type === "held") this.heldBox({ reason: d.reason }, false, ev.thread_id);
    else if (type === "review") this.note(`Review: ${d.decision} by ${d.reviewer}`);
    else if (type === "error") this.card.append(el("div", { class: "error", text: d.message }));
    else if (type === "done") {
      this.working.textContent = "";
      this.card.append(el("div", { class: "meta", text: `status: ${d.status} · request ${ev.request_id}` }));
      loadThreads();  // the run has finished: its thread's badge shows how
    }
    const box = $("#messages");
    box.scrollTop = box.scrollHeight;
  }
}

// ---- sending --------------------------------------------------------------------------------------------
async function send(text) {
  if (state.busy || !text.trim()) return;
  state.busy = true;
  $("#send").disabled = true;
  addUser(text);
  const run = new RunCard();
  try {
    const resp = await api("/api/chat", { method: "POST", body: { message: text, ...(state.threadId ? { thread_id: state.threadId } : {}) } });
    if (!resp.ok) { run.note(""); run.card.append(el("div", { class: "error", text: await errorMessage(resp) })); return; }
    await readSSE(resp, (name, data) => {
      if (name === "start") {
        state.threadId = data.thread_id;
        $("#thread-title").textContent = `${text.slice(0, 80)} · ${data.thread_id}`;
      } else run.event(name, data);
    });
  } catch (err) {
    if (err.message !== "unauthorized") run.card.append(el("div", { class: "error", text: String(err) }));
  } finally {
    state.busy = false;
    $("#send").disabled = false;
    if (state.me) await loadThreads();  // also when the stream broke off: the sidebar shows the server's status
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("#key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    localStorage.setItem(KEY_STORAGE, $("#api-key").value.trim());
    $("#key-dialog").close();
    signIn();
  });
  $("#change-key").addEventListener("click", () => askForKey());
  $("#new-chat").addEventListener("click", newConversation);
  $("#composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("#prompt").value;
    $("#prompt").value = "";
    send(text);
  });
  $("#prompt").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("#composer").requestSubmit(); }
  });
  signIn();
  setInterval(() => { if (state.me && !document.hidden) loadThreads().catch(() => {}); }, THREADS_REFRESH_MS);
});
