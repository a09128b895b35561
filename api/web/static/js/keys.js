// Keys page: list the tenant's keys, create one, revoke one. The list is
// polled, so "revocation pending" turns into "revoked" without a reload.

import {
  announce,
  callApi,
  callWithStepUp,
  clearProblem,
  confirmAction,
  element,
  formatTime,
  POLL_MS,
  ProblemError,
  showProblem,
  statusBadge,
} from "./portal.js";

const KEYS = "/v1/keys";
// Poll fast only while a revocation is in flight; otherwise a slower refresh
// still shows keys created or revoked from another tab.
const IDLE_POLL_FACTOR = 5;

const form = document.getElementById("create-key-form");
const table = document.getElementById("keys-table");
const tbody = table.querySelector("tbody");
const empty = document.getElementById("keys-empty");
const createdNotice = document.getElementById("created-notice");
const stale = document.getElementById("keys-stale");

const rows = new Map();
let lastStatuses = new Map();
let refreshFailed = false;
let timer = null;

function keyId(key) {
  return key.id;
}

function revealPath(id) {
  return `/portal/keys/${encodeURIComponent(id)}/reveal`;
}

function actionsFor(key) {
  const id = keyId(key);
  const cell = element("td", { className: "actions-cell" });
  if (key.status !== "active") return cell;
  cell.append(
    element("a", {
      text: "Reveal secret",
      attributes: { href: revealPath(id), "aria-label": `Reveal secret of ${key.name}` },
    }),
    " ",
  );
  const revoke = element("button", {
    text: "Revoke",
    attributes: { type: "button", "aria-label": `Revoke ${key.name}` },
  });
  revoke.addEventListener("click", () => confirmRevoke(key));
  cell.append(revoke);
  return cell;
}

function keyLabel(key) {
  return `${key.prefix}…${key.last_four}`;
}

function renderRow(key) {
  const id = keyId(key);
  const row = element("tr", { attributes: { "data-key-id": id } }, [
    element("td", { text: key.name }),
    element("td", {}, [element("code", { text: keyLabel(key) })]),
    element("td", { text: key.environment }),
    element("td", { text: key.scopes.join(", ") }),
    element("td", { className: "status-cell" }, [statusBadge(key.status)]),
    element("td", { text: formatTime(key.created_at) }),
    actionsFor(key),
  ]);
  row.dataset.status = key.status;
  return row;
}

// Replace only the rows whose status changed, so focus on other rows stays put.
function render(keys) {
  const seen = new Set();
  const ordered = [];
  for (const key of keys) {
    const id = keyId(key);
    seen.add(id);
    let row = rows.get(id);
    if (!row || row.dataset.status !== key.status) {
      const replacement = renderRow(key);
      const hadFocus = row?.contains(document.activeElement);
      row?.replaceWith(replacement);
      row = replacement;
      rows.set(id, row);
      if (hadFocus) table.focus();
    }
    ordered.push(row);
  }
  for (const [id, row] of rows) {
    if (!seen.has(id)) {
      row.remove();
      rows.delete(id);
    }
  }
  ordered.forEach((row, index) => {
    if (tbody.children[index] !== row) tbody.insertBefore(row, tbody.children[index] ?? null);
  });
  empty.hidden = keys.length > 0;
  table.hidden = keys.length === 0;
  table.setAttribute("aria-busy", "false");
}

function announceChanges(keys) {
  const statuses = new Map(keys.map((key) => [keyId(key), key.status]));
  for (const key of keys) {
    const before = lastStatuses.get(keyId(key));
    if (before === "revocation_pending" && key.status === "revoked") {
      announce(`Key ${key.name} is revoked.`);
    }
  }
  lastStatuses = statuses;
}

async function refresh() {
  const list = await callApi(KEYS);
  const keys = list.keys;
  stale.hidden = !list.stale;
  render(keys);
  announceChanges(keys);
  return keys;
}

function schedule(keys) {
  window.clearTimeout(timer);
  const pending = keys.some((key) => key.status === "revocation_pending");
  timer = window.setTimeout(tick, pending ? POLL_MS : POLL_MS * IDLE_POLL_FACTOR);
}

async function tick() {
  let keys = [...rows.values()].map((row) => ({ status: row.dataset.status }));
  if (document.visibilityState === "visible") {
    try {
      keys = await refresh();
      if (refreshFailed) clearProblem();
      refreshFailed = false;
    } catch (error) {
      refreshFailed = true;
      showProblem(error);
    }
  }
  schedule(keys);
}

async function createKey() {
  clearProblem(form);
  createdNotice.hidden = true;
  const name = form.elements.name.value.trim();
  const scopes = [...form.querySelectorAll('input[name="scopes"]:checked')].map((box) => box.value);
  const errors = [];
  if (!name) errors.push({ field: "name", message: "Enter a name, such as “checkout backend”." });
  if (!scopes.length) errors.push({ field: "scopes", message: "Choose at least one scope." });
  if (errors.length) {
    showProblem(
      new ProblemError(400, { title: "Invalid request", detail: "Check the marked fields.", errors }, null),
      { form },
    );
    return;
  }
  const submit = form.querySelector('button[type="submit"]');
  submit.disabled = true;
  try {
    const created = await callWithStepUp(KEYS, {
      method: "POST",
      json: { name, environment: form.elements.environment.value, scopes },
    });
    form.reset();
    document.getElementById("created-name").textContent = created.name;
    document.getElementById("created-reveal").href = revealPath(keyId(created));
    createdNotice.hidden = false;
    announce(`Key ${created.name} is created. Reveal its secret now: it can be shown once.`);
    await tick();
  } catch (error) {
    // Leave the form as typed, so the user can retry without re-entering it.
    showProblem(error, { form, retry: createKey });
  } finally {
    submit.disabled = false;
  }
}

async function confirmRevoke(key) {
  const confirmed = await confirmAction(
    `Revoke ${key.name}?`,
    "Requests signed with this key start failing once the revocation lands. This cannot be undone.",
    "Revoke key",
  );
  if (confirmed) await revoke(key);
}

async function revoke(key) {
  clearProblem();
  try {
    await callWithStepUp(`${KEYS}/${encodeURIComponent(keyId(key))}`, { method: "DELETE" });
    announce(`Revocation of ${key.name} is pending.`);
  } catch (error) {
    showProblem(error, { retry: () => revoke(key) });
  }
  await tick();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  createKey();
});
table.tabIndex = -1;
tick();
