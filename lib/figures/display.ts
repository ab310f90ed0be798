/**
 * Shows a figure's spec inline in Jupyter (Deno's kernel), or says where it was rendered when
 * run headless.
 *
 * @module
 */
import { renderSvg } from "./render.ts";
import { type VegaLiteSpec } from "./spec.ts";
import { provenanceOf } from "./spec_provenance.ts";

/**
 * MIME type under which {@link display} sends specs to Jupyter. JupyterLab's built-in renderer
 * (`@jupyterlab/vega5-extension`) registers Vega-Lite v3, v4 and v5 MIME types and no v6 one;
 * it renders our v6 specs (which use no v6-only features) under the v5 type.
 */
export const VEGA_LITE_MIME = "application/vnd.vegalite.v5+json";

/**
 * Whether this code runs inside the Deno Jupyter kernel.
 *
 * @returns True inside `deno jupyter`; false under `deno run` and elsewhere.
 */
export function inJupyter(): boolean {
  try {
    // Outside the kernel, Deno 2 throws on reading Deno.jupyter.
    const jupyter = (globalThis as { Deno?: { jupyter?: { display?: unknown } } }).Deno?.jupyter;
    return typeof jupyter?.display === "function";
  } catch {
    return false;
  }
}

type JupyterDisplay = (
  bundle: Record<string, unknown>,
  options: { raw: boolean },
) => Promise<void>;

/**
 * Shows a spec inline in Jupyter, interactive (Vega-Lite, {@link VEGA_LITE_MIME}) with a static
 * SVG fallback for front ends without a Vega renderer (VS Code, GitHub, nbviewer). Outside
 * Jupyter it prints one line instead.
 *
 * @param spec A Vega-Lite spec.
 * @returns Resolves once the output is sent.
 * @throws {TypeError} If the spec is invalid (see `validateSpec`).
 */
export async function display(spec: VegaLiteSpec): Promise<void> {
  const svg = await renderSvg(spec);
  const title = titleOf(spec);
  if (!inJupyter()) {
    console.log(`figure ${title}: rendered (${svg.length} bytes of SVG); not in Jupyter`);
    return;
  }
  const jupyter = (Deno as unknown as { jupyter: { display: JupyterDisplay } }).jupyter;
  await jupyter.display({
    [VEGA_LITE_MIME]: spec,
    "image/svg+xml": svg,
    "text/plain": `Vega-Lite figure: ${title}`,
  }, { raw: true });
}

function titleOf(spec: VegaLiteSpec): string {
  const title = (spec as { title?: unknown }).title;
  if (typeof title === "string") return title;
  const text = (title as { text?: unknown } | undefined)?.text;
  if (typeof text === "string") return text;
  if (Array.isArray(text)) return text.join(" ");
  return provenanceOf(spec)?.figure ?? "untitled";
}
