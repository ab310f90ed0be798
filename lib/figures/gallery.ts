/**
 * The figure gallery (`figures/index.html`): one self-contained page that renders every committed
 * Vega-Lite spec live through vega-embed, beside its claim, scale, provenance, paper.md verdict and
 * links. Specs are inlined so the page works opened from disk (browsers refuse `fetch` on
 * `file://`); the vega libraries are vendored next to it, so it needs no network.
 *
 * Pure string building, no I/O: the same page can be made in a browser. `gallery_files.ts` reads
 * the inputs and writes the page.
 *
 * While it renders, the page keeps its state on `<body>`: `data-gallery` becomes `done` (or
 * `failed`) once every chart has settled, `data-rendered` counts the charts drawn and
 * `data-errors` holds every console error, warning and uncaught exception as JSON. Each figure's
 * `<section>` gets `data-marks`, the number of SVG mark nodes it drew. Headless tests read these.
 *
 * @module
 */
import { type VegaLiteSpec } from "./spec.ts";
import { type Provenance, provenanceOf } from "./spec_provenance.ts";

/** The vendored scripts, in load order (vega-lite and vega-embed need vega as a global). */
export const GALLERY_SCRIPTS: readonly string[] = [
  "vendor/vega.min.js",
  "vendor/vega-lite.min.js",
  "vendor/vega-embed.min.js",
];

/** One figure on the page. */
export interface GalleryFigure {
  /** Figure stem, e.g. `training`. */
  stem: string;
  /** The committed spec (with provenance in `usermeta`). */
  spec: VegaLiteSpec;
  /** Notebook file that makes it, e.g. `01-training.ipynb`, or null when there is none. */
  notebook: string | null;
  /** paper.md's verdicts that cite this figure, as `claim: verdict` lines. */
  verdicts: string[];
  /** Its results file (default `<stem>.results.json`). */
  resultsFile?: string;
}

/** A paper.md summary row: the claim, the figures it cites, and its verdict. */
export interface VerdictRow {
  claim: string;
  figures: string[];
  verdict: string;
}

/**
 * Reads the claim table of paper.md's Summary (rows `| claim | figures | verdict |` whose figure
 * cell names figures in backticks).
 *
 * @param paper paper.md's text.
 * @returns Every row that names at least one figure, in order.
 */
export function parseVerdicts(paper: string): VerdictRow[] {
  const rows: VerdictRow[] = [];
  const summary = sectionText(paper, "Summary");
  for (const line of summary.split("\n")) {
    const cells = line.trim().replace(/^\||\|$/g, "").split("|").map((c) => c.trim());
    if (cells.length !== 3) continue;
    const [claim, figureCell, verdict] = cells as [string, string, string];
    const figures = [...figureCell.matchAll(/`([a-z0-9-]+)`/g)].map((m) => m[1] as string);
    if (figures.length === 0 || /^-+$/.test(claim)) continue;
    rows.push({ claim, figures, verdict });
  }
  return rows;
}

/** The text of a `## title` section, up to the next `## ` heading ("" when absent). */
function sectionText(markdown: string, title: string): string {
  const start = markdown.search(new RegExp(`^## ${title}\\s*$`, "m"));
  if (start < 0) return "";
  const rest = markdown.slice(start).split("\n").slice(1).join("\n");
  const end = rest.search(/^## /m);
  return end < 0 ? rest : rest.slice(0, end);
}

/**
 * The verdict lines for one figure.
 *
 * @param rows From {@link parseVerdicts}.
 * @param stem Figure stem.
 * @returns `claim: verdict` for every row citing the figure.
 */
export function verdictsFor(rows: readonly VerdictRow[], stem: string): string[] {
  return rows.filter((r) => r.figures.includes(stem)).map((r) => `${r.claim}: ${r.verdict}`);
}

/** Options of {@link galleryHtml}. */
export interface GalleryOptions {
  /** Page title. */
  title?: string;
  /** Folder of the notebooks relative to the page (default `../notebooks/`). */
  notebooksHref?: string;
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

/** JSON safe inside `<script>`: no `</script>`, no HTML comment openers. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/>/g, "\\u003e")
    .replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/** Inline markdown of the verdicts: backticks become `<code>`, `**x**` becomes `<b>`. */
function inlineMarkdown(text: string): string {
  return escapeHtml(text).replace(/`([^`]+)`/g, "<code>$1</code>").replace(
    /\*\*([^*]+)\*\*/g,
    "<b>$1</b>",
  );
}

function titleText(spec: VegaLiteSpec): string {
  const title = (spec as { title?: unknown }).title;
  if (typeof title === "string") return title;
  if (title !== null && typeof title === "object" && "text" in title) {
    const text = (title as { text: unknown }).text;
    return Array.isArray(text) ? text.join(" ") : String(text);
  }
  return "";
}

function minutes(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function provenanceRows(p: Provenance): [string, string][] {
  const seeds = Object.values(p.seeds);
  const steps = (p.config as { steps?: unknown }).steps;
  const rows: [string, string][] = [
    ["scale", `${p.scale}: ${p.scaleNote}`],
    ["steps", typeof steps === "number" ? steps.toLocaleString("en-US") : "see scale"],
    ["seeds", seeds.length === 0 ? "none" : seeds.join(", ")],
    ["data", p.dataSubset],
    ["backend", p.backend + (p.adapter === null ? "" : ` (adapter: ${p.adapter})`)],
  ];
  if (p.computedOn !== undefined && p.computedOn.length > 0) {
    rows.push(["runs computed on", p.computedOn.join("; ")]);
  }
  rows.push(
    [
      "commit",
      p.commit === null ? "unknown" : p.commit.slice(0, 7) + (p.dirty === true ? " (dirty)" : ""),
    ],
    ["date", p.date.slice(0, 10)],
    ["wall time", minutes(p.wallTimeSeconds)],
    ["versions", `Deno ${p.deno}, TensorFlow.js ${p.tfjs}`],
  );
  return rows;
}

function figureSection(figure: GalleryFigure, notebooksHref: string): string {
  const p = provenanceOf(figure.spec);
  if (p === null) {
    throw new TypeError(`Cannot build the gallery: figure ${figure.stem} has no provenance`);
  }
  const id = escapeHtml(figure.stem);
  const links = [
    figure.notebook === null
      ? null
      : `<a href="${escapeHtml(notebooksHref + figure.notebook)}">notebook</a>`,
    `<a href="${id}.svg">SVG</a>`,
    `<a href="${id}.vl.json">Vega-Lite spec</a>`,
    `<a href="${escapeHtml(figure.resultsFile ?? `${figure.stem}.results.json`)}">results JSON</a>`,
  ].filter((l) => l !== null).join(" · ");
  const verdicts = figure.verdicts.length === 0
    ? `<p class="verdict none">No claim verdict in paper.md cites this figure.</p>`
    : `<ul class="verdict">${
      figure.verdicts.map((v) => `<li>${inlineMarkdown(v)}</li>`).join("")
    }</ul>`;
  const table = provenanceRows(p).map(([k, v]) =>
    `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`
  ).join("");
  return [
    `<section class="figure" id="${id}" data-figure="${id}">`,
    `<h2><a href="#${id}">${id}</a></h2>`,
    `<p class="claim">${escapeHtml(titleText(figure.spec))}</p>`,
    verdicts,
    `<div class="chart" id="chart-${id}"></div>`,
    `<details><summary>Provenance</summary><table>${table}</table></details>`,
    `<p class="links">${links}</p>`,
    `<script type="application/json" id="spec-${id}">${scriptJson(figure.spec)}</script>`,
    `</section>`,
  ].join("\n");
}

/** Installed first: records console errors and warnings and uncaught errors on `<body>`. */
const ERROR_HOOK = `
const galleryErrors = [];
function recordError(kind, args) {
  galleryErrors.push(kind + ": " + args.map((a) => (a && a.stack) || String(a)).join(" "));
  document.body.dataset.errors = JSON.stringify(galleryErrors);
}
for (const level of ["error", "warn"]) {
  const original = console[level].bind(console);
  console[level] = (...args) => { recordError("console." + level, args); original(...args); };
}
addEventListener("error", (e) => recordError("uncaught", [e.error || e.message]));
addEventListener("unhandledrejection", (e) => recordError("unhandled rejection", [e.reason]));
`;

const RENDER = `
async function renderAll() {
  const sections = [...document.querySelectorAll("section.figure")];
  let rendered = 0;
  await Promise.all(sections.map(async (section) => {
    const stem = section.dataset.figure;
    try {
      const spec = JSON.parse(document.getElementById("spec-" + stem).textContent);
      await vegaEmbed("#chart-" + stem, spec, {
        renderer: "svg",
        actions: { export: true, source: true, compiled: false, editor: false },
      });
      const marks = section.querySelectorAll(".chart svg [class*='mark-']").length;
      section.dataset.marks = String(marks);
      if (marks > 0) rendered += 1;
    } catch (error) {
      recordError("figure " + stem, [error]);
      section.dataset.marks = "0";
    }
  }));
  document.body.dataset.rendered = String(rendered);
  document.body.dataset.gallery = rendered === sections.length ? "done" : "failed";
}
if (typeof vegaEmbed !== "function") {
  recordError("gallery", ["vega-embed did not load: the files in figures/vendor/ are missing"]);
  document.body.dataset.gallery = "failed";
} else {
  renderAll();
}
`;

const STYLE = `
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1180px; margin: 2em auto; padding: 0 1em; color: #222; }
header p { max-width: 60em; }
nav a { margin-right: 0.8em; }
section.figure { border-top: 1px solid #ddd; padding: 1em 0 1.5em; }
h2 { margin: 0.2em 0; font-family: ui-monospace, monospace; }
h2 a { color: inherit; text-decoration: none; }
.claim { font-weight: 600; }
.verdict { color: #333; }
.verdict.none { color: #777; font-style: italic; }
.chart { overflow-x: auto; margin: 0.8em 0; }
table { border-collapse: collapse; font-size: 13px; }
th { text-align: left; padding: 2px 1em 2px 0; vertical-align: top; white-space: nowrap; color: #555; }
td { padding: 2px 0; }
code { font-size: 0.92em; }
`;

/**
 * Builds the gallery page.
 *
 * @param figures Every figure, in page order.
 * @param options Title and notebook folder.
 * @returns The HTML text (ends with a newline). Equal inputs give equal text, so a stale page
 *   can be detected by rebuilding it.
 * @throws {TypeError} If a figure's spec has no provenance.
 */
export function galleryHtml(
  figures: readonly GalleryFigure[],
  options: GalleryOptions = {},
): string {
  const title = options.title ?? "How Does Batch Normalization Help Optimization? Figures";
  const notebooksHref = options.notebooksHref ?? "../notebooks/";
  const nav = figures.map((f) => `<a href="#${escapeHtml(f.stem)}">${escapeHtml(f.stem)}</a>`)
    .join("");
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style>`,
    "</head>",
    '<body data-gallery="rendering" data-rendered="0" data-errors="[]">',
    `<script>${ERROR_HOOK}</script>`,
    "<header>",
    `<h1>${escapeHtml(title)}</h1>`,
    "<p>Every figure of the artifact, rendered live from its committed Vega-Lite spec (hover for " +
    "values; the menu exports SVG/PNG and shows the source). Each names the claim it tests, " +
    "paper.md's verdict, the scale it was computed at and its provenance. Generated by " +
    "<code>deno task gallery</code>; do not edit.</p>",
    `<nav>${nav}</nav>`,
    "</header>",
    "<main>",
    ...figures.map((f) => figureSection(f, notebooksHref)),
    "</main>",
    ...GALLERY_SCRIPTS.map((src) => `<script src="${src}"></script>`),
    `<script>${RENDER}</script>`,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
