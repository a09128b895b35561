// Release status for DevRel: docs releases with their state per CDN edge and
// SDK releases with their state per language, each linking to its workflow in
// the Temporal UI, with purge, retry and abandon behind a confirmation.

import {
  announce,
  callWithStepUp,
  callApi,
  clearProblem,
  confirmAction,
  element,
  poll,
  showProblem,
  statusBadge,
} from "./portal.js";

const DOCS = "/v1/docs/releases";
const SDK = "/v1/sdk/releases";

const docsSection = document.getElementById("docs-releases");
const sdkSection = document.getElementById("sdk-releases");
const temporalUi = docsSection.dataset.temporalUi;

function listOf(data) {
  if (Array.isArray(data)) return data;
  return data?.releases ?? data?.items ?? [];
}

// {"python": "published"} and [{"language": "python", "state": "published"}] both
// become [["python", "published"]].
function pairs(value, nameField) {
  if (!value) return [];
  if (Array.isArray(value)) {
    return value.map((item) => [item[nameField] ?? item.name, item.state ?? item.status, item]);
  }
  return Object.entries(value).map(([name, state]) =>
    typeof state === "object" ? [name, state.state ?? state.status, state] : [name, state, {}],
  );
}

function releaseId(release) {
  return release.release_id ?? release.id ?? release.version;
}

function workflowLink(release) {
  const id = release.workflow_id;
  if (!id) return element("span", { text: "—" });
  return element("a", {
    text: "Temporal UI",
    attributes: {
      href: `${temporalUi}${encodeURIComponent(id)}`,
      target: "_blank",
      rel: "noopener noreferrer",
      "aria-label": `Workflow ${id} in the Temporal UI (opens in a new tab)`,
    },
  });
}

async function runAction({ title, detail, label, path, done }) {
  if (!(await confirmAction(title, detail, label))) return;
  clearProblem();
  try {
    await callWithStepUp(path, { method: "POST" });
    announce(done);
    await refresh();
  } catch (error) {
    showProblem(error, { retry: () => runAction({ title, detail, label, path, done }) });
  }
}

function actionButton(text, label, onClick) {
  const button = element("button", { text, attributes: { type: "button", "aria-label": label } });
  button.addEventListener("click", onClick);
  return button;
}

function docsRow(release) {
  const version = release.version ?? releaseId(release);
  const edges = element(
    "ul",
    { className: "chips" },
    pairs(release.edges, "edge").map(([edge, state]) =>
      element("li", {}, [`${edge}: `, statusBadge(state)]),
    ),
  );
  const purge = actionButton("Purge CDN", `Purge docs ${version} from the CDN`, () =>
    runAction({
      title: `Purge docs ${version} from the CDN?`,
      detail: "Every edge drops its cached copy and fetches the pages again from the origin.",
      label: "Purge",
      path: `${DOCS}/${encodeURIComponent(releaseId(release))}/purge`,
      done: `Purge of docs ${version} started.`,
    }),
  );
  return element("tr", {}, [
    element("td", { text: version }),
    element("td", {}, [statusBadge(release.state ?? release.status)]),
    element("td", {}, [edges]),
    element("td", {}, [workflowLink(release)]),
    element("td", { className: "actions-cell" }, [purge]),
  ]);
}

const FINISHED_SDK = new Set(["published", "succeeded", "abandoned"]);

function sdkRow(release) {
  const version = release.version ?? releaseId(release);
  const base = `${SDK}/${encodeURIComponent(releaseId(release))}`;
  const languages = element(
    "ul",
    { className: "chips" },
    pairs(release.languages, "language").map(([language, state]) => {
      const item = element("li", {}, [`${language}: `, statusBadge(state)]);
      if (state === "failed") {
        item.append(
          actionButton("Retry", `Retry the ${language} SDK of ${version}`, () =>
            runAction({
              title: `Retry the ${language} SDK of ${version}?`,
              detail: "The release workflow publishes this language again.",
              label: "Retry",
              path: `${base}/languages/${encodeURIComponent(language)}/retry`,
              done: `Retry of ${language} ${version} requested.`,
            }),
          ),
        );
      }
      return item;
    }),
  );
  const state = release.state ?? release.status;
  const cell = element("td", { className: "actions-cell" });
  if (!FINISHED_SDK.has(state)) {
    cell.append(
      actionButton("Abandon", `Abandon SDK release ${version}`, () =>
        runAction({
          title: `Abandon SDK release ${version}?`,
          detail: "Languages not yet published stay unpublished. This cannot be undone.",
          label: "Abandon release",
          path: `${base}/abandon`,
          done: `SDK release ${version} abandoned.`,
        }),
      ),
    );
  }
  return element("tr", {}, [
    element("td", { text: version }),
    element("td", {}, [statusBadge(state)]),
    element("td", {}, [languages]),
    element("td", {}, [workflowLink(release)]),
    cell,
  ]);
}

function fill(section, releases, makeRow) {
  const tbody = section.querySelector("tbody");
  // Keep the table while a dialog is open, so the confirmed row still exists.
  if (document.querySelector("dialog[open]")) return;
  const focusedLabel = document.activeElement?.getAttribute("aria-label");
  tbody.replaceChildren(...releases.map(makeRow));
  section.querySelector(".empty").hidden = releases.length > 0;
  section.querySelector("table").hidden = releases.length === 0;
  if (focusedLabel) {
    section.querySelector(`[aria-label="${CSS.escape(focusedLabel)}"]`)?.focus();
  }
}

let refreshFailed = false;

async function refresh() {
  const [docs, sdk] = await Promise.allSettled([callApi(DOCS), callApi(SDK)]);
  if (docs.status === "fulfilled") fill(docsSection, listOf(docs.value), docsRow);
  if (sdk.status === "fulfilled") fill(sdkSection, listOf(sdk.value), sdkRow);
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
