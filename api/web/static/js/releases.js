// Release status for DevRel: docs releases with their state per CDN edge and
// SDK releases with their state per language, each linking to its workflow in
// the Temporal UI, with purge, retry and abandon behind a confirmation.

import {
  announce,
  callApi,
  clearProblem,
  confirmAction,
  element,
  formatTime,
  poll,
  showProblem,
  statusBadge,
} from "./portal.js";

const DOCS = "/v1/docs/releases";
const SDK = "/v1/sdk/releases";
// The SDK list carries no languages, so only this many releases are read in full.
const SDK_DETAILS = 10;
// The API responds to a retry once its publish round settles, within 2 minutes.
const RETRY_TIMEOUT_MS = 130_000;
const ABANDON_TIMEOUT_MS = 40_000;

const docsSection = document.getElementById("docs-releases");
const sdkSection = document.getElementById("sdk-releases");
const temporalUi = docsSection.dataset.temporalUi;

let refreshFailed = false;
let busy = false;

function workflowLink(workflowId) {
  if (!workflowId) return element("span", { text: "—" });
  return element("a", {
    text: workflowId,
    attributes: {
      href: `${temporalUi}${encodeURIComponent(workflowId)}`,
      target: "_blank",
      rel: "noopener noreferrer",
      "aria-label": `Workflow ${workflowId} in the Temporal UI (opens in a new tab)`,
    },
  });
}

async function runAction({ title, detail, label, path, askReason, timeoutMs, done }) {
  const confirmed = await confirmAction(title, detail, label, { askReason });
  if (!confirmed) return;
  clearProblem();
  busy = true;
  announce(`${label}: working…`);
  try {
    const body = askReason ? { reason: confirmed.reason } : undefined;
    const result = await callApi(path, { method: "POST", json: body, timeoutMs });
    announce(done(result));
  } catch (error) {
    showProblem(error, {
      retry: () => runAction({ title, detail, label, path, askReason, timeoutMs, done }),
    });
  } finally {
    busy = false;
  }
  await refresh().catch((error) => showProblem(error));
}

function actionButton(text, label, onClick) {
  const button = element("button", { text, attributes: { type: "button", "aria-label": label } });
  button.addEventListener("click", onClick);
  return button;
}

function docsRow(release) {
  const id = release.release_id;
  const edges = element(
    "ul",
    { className: "chips" },
    Object.entries(release.edges).map(([edge, state]) =>
      element("li", {}, [`${edge}: `, statusBadge(state.replaceAll(" ", "_"))]),
    ),
  );
  const purge = actionButton("Purge CDN", `Purge CDN: docs release ${id}`, () =>
    runAction({
      title: `Purge docs release ${id} from the CDN?`,
      detail: "Every CDN drops its cached copy of the release and fetches it again from the " +
        "origin; readers may see slower pages for a few minutes.",
      label: "Purge",
      path: `${DOCS}/${encodeURIComponent(id)}/purge`,
      done: (started) => `Purge of docs release ${id} started: workflow ${started.workflow_id}.`,
    }),
  );
  return element("tr", { attributes: { "data-release": id } }, [
    element("td", { text: id }),
    element("td", {}, [statusBadge(release.state)]),
    element("td", {}, [edges]),
    element("td", {}, [workflowLink(release.workflow_id)]),
    element("td", { className: "actions-cell" }, [purge]),
  ]);
}

function languageChip(release, language, status) {
  const item = element("li", {}, [`${language}: `, statusBadge(status.state)]);
  if (status.error) item.title = status.error;
  if (release.state === "partial" && status.state === "failed") {
    item.append(
      actionButton("Retry", `Retry ${language} of SDK release ${release.version}`, () =>
        runAction({
          title: `Publish ${language} of SDK ${release.version} again?`,
          detail: `The last attempt failed: ${status.error ?? "no error recorded"}.`,
          label: "Retry",
          path: `${SDK}/${encodeURIComponent(release.version)}/retry`,
          timeoutMs: RETRY_TIMEOUT_MS,
          done: (result) => `SDK release ${release.version} is ${result.state}.`,
        }),
      ),
    );
  }
  return item;
}

function sdkRow(release) {
  const version = release.version;
  const base = `${SDK}/${encodeURIComponent(version)}`;
  const languages = element(
    "ul",
    { className: "chips" },
    Object.entries(release.languages ?? {}).map(([language, status]) =>
      languageChip(release, language, status),
    ),
  );
  const cell = element("td", { className: "actions-cell" });
  if (release.state === "partial") {
    cell.append(
      actionButton("Retry missing", `Retry missing languages of SDK release ${version}`, () =>
        runAction({
          title: `Publish the missing languages of SDK ${version} again?`,
          detail: "Each language that is not published yet is built and published once more.",
          label: "Retry",
          path: `${base}/retry`,
          timeoutMs: RETRY_TIMEOUT_MS,
          done: (result) => `SDK release ${version} is ${result.state}.`,
        }),
      ),
      " ",
      actionButton("Abandon", `Abandon SDK release ${version}`, () =>
        runAction({
          title: `Abandon SDK release ${version}?`,
          detail: "Languages not yet published stay unpublished, and the release's issue " +
            "closes with your reason. This cannot be undone.",
          label: "Abandon release",
          path: `${base}/abandon`,
          askReason: true,
          timeoutMs: ABANDON_TIMEOUT_MS,
          done: (result) => `SDK release ${version} is ${result.state}.`,
        }),
      ),
    );
  }
  const stateCell = element("td", {}, [statusBadge(release.state)]);
  if (release.reason) stateCell.append(element("p", { className: "field-help", text: release.reason }));
  const workflowCell = element("td", {}, [workflowLink(release.workflow_id)]);
  if (release.issue) {
    workflowCell.append(
      element("br"),
      element("a", {
        text: `Issue #${release.issue.number}`,
        attributes: { href: release.issue.url, target: "_blank", rel: "noopener noreferrer" },
      }),
    );
  }
  if (release.started_at) {
    workflowCell.append(element("p", { className: "field-help", text: formatTime(release.started_at) }));
  }
  return element("tr", { attributes: { "data-release": version } }, [
    element("td", { text: version }),
    stateCell,
    element("td", {}, [languages]),
    workflowCell,
    cell,
  ]);
}

function fill(section, releases, makeRow) {
  const tbody = section.querySelector("tbody");
  const focusedLabel = document.activeElement?.getAttribute("aria-label");
  tbody.replaceChildren(...releases.map(makeRow));
  section.querySelector(".empty").hidden = releases.length > 0;
  section.querySelector("table").hidden = releases.length === 0;
  if (focusedLabel && !section.contains(document.activeElement)) {
    section.querySelector(`[aria-label="${CSS.escape(focusedLabel)}"]`)?.focus();
  }
}

async function sdkReleases() {
  const list = (await callApi(SDK)).releases;
  const details = await Promise.allSettled(
    list.slice(0, SDK_DETAILS).map((summary) => callApi(`${SDK}/${encodeURIComponent(summary.version)}`)),
  );
  // A release whose details fail to load still shows its summary.
  return list.map((summary, index) =>
    details[index]?.status === "fulfilled" ? details[index].value : summary,
  );
}

async function refresh() {
  // Keep the tables while a dialog is open or an action runs, so rows stay put.
  if (busy || document.querySelector("dialog[open]")) return;
  const [docs, sdk] = await Promise.allSettled([callApi(DOCS), sdkReleases()]);
  if (docs.status === "fulfilled") fill(docsSection, docs.value.releases, docsRow);
  if (sdk.status === "fulfilled") fill(sdkSection, sdk.value, sdkRow);
  const failed = [docs, sdk].find((result) => result.status === "rejected");
  if (failed) {
    refreshFailed = true;
    throw failed.reason;
  }
  // Clear only the banner a failed refresh put up, not one from an action.
  if (refreshFailed) clearProblem();
  refreshFailed = false;
}

refresh().catch((error) => showProblem(error));
poll(refresh);
