/**
 * The notebook API: what a figure notebook imports.
 *
 * ```ts ignore
 * import { display, runFigure } from "../lib/mod.ts";
 * const out = await runFigure("ics"); // scale etc. from FIGURE_SCALE, BN_BACKEND, FIGURE_FORCE
 * await display(out.spec);
 * console.log(out.keyLines.join("\n"));
 * ```
 *
 * @module
 */
export { display } from "./figures/display.ts";
export { type FigureOutput, runFigure, type RunFigureOptions } from "./run_figure.ts";
export { EXPERIMENTS, FIGURE_STEMS, type FigureStem, jobsFor } from "./registry.ts";
export type { Experiment } from "./experiments/experiment.ts";
export { type Scale, SCALES } from "./scale.ts";
