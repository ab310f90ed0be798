/**
 * Every notebook runs in the real Deno Jupyter kernel at smoke scale (scripts/run_notebooks.py,
 * through jupyter_client), and figure notebooks display a Vega-Lite chart. Ignored, with the
 * reason in its name, where Jupyter is not set up (.ci/jupyter.sh sets it up).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { VEGA_LITE_MIME } from "../../lib/figures/display.ts";
import { provenanceOf } from "../../lib/figures/spec_provenance.ts";
import { figureStem } from "../../lib/notebook/notebook.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const RUNNER = join(ROOT, "scripts", "run_notebooks.py");

interface Output {
  output_type: string;
  data?: Record<string, unknown>;
  text?: string;
}

interface Report {
  notebook: string;
  ok: boolean;
  error: string | null;
  seconds: number;
  outputs: Output[];
}

/** The first Python that can run the runner, or why none can. */
async function findPython(): Promise<{ python: string } | { reason: string }> {
  const candidates = [Deno.env.get("NOTEBOOK_PYTHON"), "python3", "/usr/bin/python3"]
    .filter((p): p is string => p !== undefined && p !== "");
  let kernelMissing = false;
  for (const python of candidates) {
    try {
      const probe = await new Deno.Command(python, {
        args: [
          "-c",
          "import jupyter_client, sys\n" +
          "from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel\n" +
          "try:\n    KernelSpecManager().get_kernel_spec('deno')\n" +
          "except NoSuchKernel:\n    sys.exit(3)",
        ],
        stdout: "null",
        stderr: "null",
      }).output();
      if (probe.success) return { python };
      if (probe.code === 3) kernelMissing = true;
    } catch {
      // this interpreter does not exist
    }
  }
  return {
    reason: kernelMissing
      ? "no Deno kernelspec: run `deno jupyter --install` (or .ci/jupyter.sh)"
      : `no Python with jupyter_client among ${candidates.join(", ")}: run .ci/jupyter.sh`,
  };
}

const found = await findPython();
const ignored = "reason" in found;

Deno.test({
  name: ignored
    ? `notebooks run in the Deno Jupyter kernel (ignored: ${found.reason})`
    : "notebooks run in the Deno Jupyter kernel at smoke scale and display their figures",
  ignore: ignored,
  fn: async () => {
    if ("reason" in found) return;
    const dir = await Deno.makeTempDir();
    try {
      const reportPath = join(dir, "report.json");
      const output = await new Deno.Command(found.python, {
        args: [RUNNER, "--scale", "smoke", "--json", reportPath],
        cwd: ROOT,
        // Its own store: a `deno task jobs` running beside the tests holds the default one's lock.
        env: { FIGURE_DIR: join(dir, "figures"), BN_RUNS_DIR: join(dir, "runs"), NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const log = new TextDecoder().decode(output.stdout) +
        new TextDecoder().decode(output.stderr);
      const reports = JSON.parse(await Deno.readTextFile(reportPath)) as Report[];
      assert.ok(reports.length >= 1, log);
      for (const report of reports) {
        assert.ok(report.ok, `${report.notebook} failed in the kernel: ${report.error}\n${log}`);
      }
      assert.equal(output.code, 0, log);

      for (const report of reports) {
        const stem = figureStem(report.notebook.split("/").pop() ?? "");
        if (stem === null) continue;
        const charts = report.outputs
          .filter((o) => o.output_type === "display_data" && o.data?.[VEGA_LITE_MIME] !== undefined)
          .map((o) => o.data?.[VEGA_LITE_MIME]);
        assert.ok(charts.length >= 1, `${report.notebook} displayed no Vega-Lite chart`);
        assert.ok(
          charts.some((c) => provenanceOf(c)?.figure === stem),
          `${report.notebook} displayed no chart with provenance for figure ${stem}`,
        );
        const spec = await Deno.readTextFile(join(dir, "figures", `${stem}.vl.json`));
        assert.equal(provenanceOf(JSON.parse(spec))?.scale, "smoke", `${stem}.vl.json`);
      }

      const example = reports.find((r) => r.notebook.endsWith("00-example.ipynb"));
      if (example !== undefined) {
        const display = example.outputs.find((o) => o.data?.[VEGA_LITE_MIME] !== undefined);
        const chart = display?.data?.[VEGA_LITE_MIME] as { title?: { text?: string } };
        assert.equal(chart.title?.text, "Gradient descent on a quadratic (example)");
        assert.match(String(display?.data?.["image/svg+xml"]), /^<svg[\s\S]*learning rate η/);
        assert.ok(
          example.outputs.some((o) =>
            o.output_type === "stream" && /^example: scale smoke;/.test(o.text ?? "")
          ),
          "the example's runFigure cell saw FIGURE_SCALE=smoke",
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
