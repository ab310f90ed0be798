/**
 * The figure gallery: its parts against hand-written inputs, the committed page against a rebuild
 * (a stale page fails), the static server, and the page itself in headless Chromium: every chart
 * drew marks and the console stayed clean, opened from disk and from the server.
 *
 * Chromium is Debian's `chromium` (or `CHROMIUM`); without it the browser test is ignored, except
 * under BN_REQUIRE_CHROMIUM=1 (set by .ci/run, which installs it), where it must run.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  escapeHtml,
  type GalleryFigure,
  galleryHtml,
  parseVerdicts,
  verdictsFor,
} from "../../lib/figures/gallery.ts";
import { buildGallery, defaultGalleryPaths } from "../../lib/figures/gallery_files.ts";
import { serveGallery } from "../../scripts/gallery.ts";
import { STORED_FIGURES } from "../../lib/registry.ts";

const PATHS = defaultGalleryPaths();
const PAPER_FIGURES = [...STORED_FIGURES, "instrument"];

Deno.test("parseVerdicts() reads the Summary's claim table and no other table", () => {
  const paper = [
    "# Title",
    "## Summary",
    "| claim | figure | verdict |",
    "| ----- | ------ | ------- |",
    "| 1. BN trains faster | `training` | reproduced |",
    "| 4. smoother | `loss-variation`, `dln` | DLN: early **only** |",
    "## Other",
    "| x | `ics` | not a verdict |",
  ].join("\n");
  const rows = parseVerdicts(paper);
  assert.deepEqual(rows, [
    { claim: "1. BN trains faster", figures: ["training"], verdict: "reproduced" },
    { claim: "4. smoother", figures: ["loss-variation", "dln"], verdict: "DLN: early **only**" },
  ]);
  assert.deepEqual(verdictsFor(rows, "dln"), ["4. smoother: DLN: early **only**"]);
  assert.deepEqual(verdictsFor(rows, "ics"), []);
});

Deno.test("galleryHtml() escapes text and keeps a spec's '</script>' inside its script", () => {
  assert.equal(escapeHtml(`<a href="x">&'`), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  const committed = JSON.parse(Deno.readTextFileSync(join(PATHS.figures, "example.vl.json")));
  const spec = { ...committed, title: "evil </script><script>alert(1)</script>" };
  const figure: GalleryFigure = { stem: "example", spec, notebook: null, verdicts: ["a <b>"] };
  const html = galleryHtml([figure]);
  assert.equal(html.match(/<script/g)?.length, 1 + 3 + 1 + 1); // hook, 3 vendored, render, spec
  assert.ok(html.includes("evil &lt;/script&gt;"));
  const json = html.match(/<script type="application\/json" id="spec-example">(.*?)<\/script>/s);
  assert.ok(json !== null);
  assert.equal(JSON.parse(json[1]!).title, spec.title);
  assert.ok(!html.includes("notebook</a>"), "no notebook link without a notebook");
  assert.throws(
    () => galleryHtml([{ ...figure, spec: { ...spec, usermeta: {} } }]),
    /figure example has no provenance/,
  );
});

Deno.test("the committed gallery is current: rebuilt from figures/ and paper.md it is identical", async () => {
  const committed = await Deno.readTextFile(join(PATHS.figures, "index.html"));
  const rebuilt = await buildGallery(PATHS);
  assert.ok(
    committed === rebuilt,
    "figures/index.html is stale (a figure or paper.md changed since it was made): run deno task gallery",
  );
  for (const stem of PAPER_FIGURES) {
    assert.ok(committed.includes(`data-figure="${stem}"`), `the gallery lacks figure ${stem}`);
  }
  for (const name of ["vega.min.js", "vega-lite.min.js", "vega-embed.min.js"]) {
    const stat = await Deno.stat(join(PATHS.figures, "vendor", name));
    assert.ok(stat.size > 10_000, `figures/vendor/${name} is missing or truncated`);
    await Deno.stat(join(PATHS.figures, "vendor", `LICENSE-${name.replace(/\.min\.js$/, "")}`));
  }
});

Deno.test("a changed figure makes the committed page stale", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for await (const entry of Deno.readDir(PATHS.figures)) {
      if (entry.isFile && entry.name.endsWith(".vl.json")) {
        await Deno.copyFile(join(PATHS.figures, entry.name), join(dir, entry.name));
      }
    }
    const paths = { ...PATHS, figures: dir };
    const before = await buildGallery(paths);
    assert.equal(before, await buildGallery(PATHS), "a copy of the figures builds the same page");
    const spec = JSON.parse(await Deno.readTextFile(join(dir, "training.vl.json")));
    spec.usermeta.provenance.wallTimeSeconds += 60;
    await Deno.writeTextFile(join(dir, "training.vl.json"), JSON.stringify(spec));
    assert.notEqual(await buildGallery(paths), before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task gallery --serve serves figures/ and notebooks/, nothing else", async () => {
  const server = serveGallery("127.0.0.1", 0);
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.ok(page.url.endsWith("/figures/index.html"));
    assert.match(page.headers.get("content-type") ?? "", /text\/html/);
    assert.equal(await page.text(), await Deno.readTextFile(join(PATHS.figures, "index.html")));
    const lib = await fetch(`${base}/figures/vendor/vega.min.js`);
    assert.match(lib.headers.get("content-type") ?? "", /javascript/);
    await lib.body?.cancel();
    const notebook = await fetch(`${base}/notebooks/01-training.ipynb`);
    assert.equal(notebook.status, 200);
    await notebook.body?.cancel();
    for (const path of ["/deno.json", "/figures/../deno.json", "/figures/%2e%2e/deno.json"]) {
      const response = await fetch(base + path);
      assert.equal(response.status, 404, path);
      await response.body?.cancel();
    }
  } finally {
    await server.shutdown();
  }
});

function findChromium(): string | null {
  const candidates = [Deno.env.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"];
  for (const name of candidates) {
    if (name === undefined || name === "") continue;
    try {
      const out = new Deno.Command(name, { args: ["--version"], stdout: "null", stderr: "null" })
        .outputSync();
      if (out.success) return name;
    } catch {
      // not installed under this name
    }
  }
  return null;
}

const CHROMIUM = findChromium();
if (CHROMIUM === null && Deno.env.get("BN_REQUIRE_CHROMIUM") === "1") {
  throw new Error("BN_REQUIRE_CHROMIUM=1 but no chromium runs: apt-get install chromium");
}

/** Runs headless Chromium on a URL; returns the rendered DOM. */
async function chromium(url: string, extra: string[] = []): Promise<string> {
  const profile = await Deno.makeTempDir();
  try {
    const out = await new Deno.Command(CHROMIUM!, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        `--user-data-dir=${profile}`,
        "--virtual-time-budget=60000",
        ...extra,
        url,
      ],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(180_000),
    }).output();
    assert.ok(out.success, `chromium failed: ${new TextDecoder().decode(out.stderr).slice(-2000)}`);
    return new TextDecoder().decode(out.stdout);
  } finally {
    await Deno.remove(profile, { recursive: true });
  }
}

function unescapeAttribute(text: string): string {
  return text.replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(/&gt;/g, ">")
    .replace(/&#39;/g, "'").replace(/&amp;/g, "&");
}

/** Checks the DOM Chromium rendered: every figure drew marks, no console error or warning. */
function assertRendered(dom: string, where: string): void {
  const body = dom.match(/<body([^>]*)>/)?.[1] ?? "";
  const attribute = (name: string) =>
    unescapeAttribute(body.match(new RegExp(`${name}="([^"]*)"`))?.[1] ?? "");
  const errors = JSON.parse(attribute("data-errors") || "[]") as string[];
  assert.deepEqual(errors, [], `${where}: the console showed errors or warnings`);
  assert.equal(attribute("data-gallery"), "done", `${where}: the gallery did not finish`);
  const sections = [...dom.matchAll(/<section class="figure"[^>]*data-figure="([^"]+)"[^>]*>/g)];
  assert.ok(sections.length >= PAPER_FIGURES.length, `${where}: ${sections.length} figures`);
  assert.equal(Number(attribute("data-rendered")), sections.length);
  for (const [tag, stem] of sections) {
    const marks = Number(tag.match(/data-marks="(\d+)"/)?.[1] ?? 0);
    assert.ok(marks > 0, `${where}: figure ${stem} drew no marks`);
  }
  const svgs = dom.match(/<svg[^>]*class="marks"/g)?.length ?? 0;
  assert.ok(svgs >= sections.length, `${where}: ${svgs} chart SVGs for ${sections.length} figures`);
}

Deno.test({
  name: "headless Chromium renders every figure of the gallery with a clean console",
  ignore: CHROMIUM === null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const page = join(PATHS.figures, "index.html");
    await t.step("opened from disk", async () => {
      assertRendered(await chromium(`file://${page}`, ["--dump-dom"]), "file://");
    });
    await t.step("from deno task gallery --serve", async () => {
      const server = serveGallery("127.0.0.1", 0);
      try {
        const url = `http://127.0.0.1:${server.addr.port}/figures/index.html`;
        assertRendered(await chromium(url, ["--dump-dom"]), "served");
      } finally {
        await server.shutdown();
      }
    });
    await t.step("a screenshot", async () => {
      const dir = await Deno.makeTempDir({ prefix: "gallery-test-" });
      const png = join(dir, "gallery.png");
      await chromium(`file://${page}`, [`--screenshot=${png}`, "--window-size=1280,1600"]);
      const bytes = await Deno.readFile(png);
      assert.deepEqual([...bytes.slice(1, 4)], [0x50, 0x4e, 0x47], "a PNG file");
      assert.ok(bytes.length > 20_000, `screenshot of ${bytes.length} bytes`);
      console.log(`gallery screenshot: ${png}`);
    });
  },
});
