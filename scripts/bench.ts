/**
 * `deno task bench [section ...] [--backend B] [--width W ...] [--batch N]`: speed figures of the
 * artifact on this machine. Sections: `data` (load, verify, decode CIFAR-10), `kernels` (per-layer
 * kernel table of the VGG), `step` (full SGD step, images/s, beside PyTorch fp32 on the same
 * device when python3 has torch). Default: kernels and step. Results are printed and written as
 * JSON to `bench-results/`.
 */
import { parseArgs } from "node:util";
import {
  BACKEND_CHOICES,
  formatBackend,
  initBackend,
  parseBackendChoice,
  parseThreadCount,
} from "../lib/backend.ts";
import { benchData } from "./bench/data.ts";
import { benchKernels, formatKernelTable } from "./bench/kernels.ts";
import { benchStep } from "./bench/step.ts";

const SECTIONS = ["data", "kernels", "step"] as const;
type Section = typeof SECTIONS[number];

const USAGE = `Usage: deno task bench [${SECTIONS.join("|")} ...] [options]
  --backend B   ${BACKEND_CHOICES.join(", ")} (default: BN_BACKEND, else auto)
  --width W     channel-width multiplier, repeatable (default: 0.25 on a CPU, 1 on a GPU)
  --batch N     batch size (default: 32 on a CPU, 128 on a GPU)
  --steps N     timed SGD steps per configuration (default 5)
  --threads N   wasm threads (default: BN_WASM_THREADS, else 1)
  --no-torch    skip the PyTorch baseline`;

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: Deno.args,
      allowPositionals: true,
      options: {
        backend: { type: "string" },
        width: { type: "string", multiple: true },
        batch: { type: "string" },
        steps: { type: "string" },
        threads: { type: "string" },
        "no-torch": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    Deno.exit(2);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return;
  }
  for (const p of positionals) {
    if (!(SECTIONS as readonly string[]).includes(p)) {
      console.error(
        `Unknown bench section "${p}", expected one of ${SECTIONS.join(", ")}\n${USAGE}`,
      );
      Deno.exit(2);
    }
  }
  const sections: Section[] = positionals.length > 0
    ? positionals as Section[]
    : ["kernels", "step"];
  const positiveInt = (name: string, raw: string | undefined, fallback: number) => {
    if (raw === undefined) return fallback;
    const v = Number(raw);
    if (!Number.isInteger(v) || v <= 0) {
      console.error(`--${name} must be a positive integer, got "${raw}"`);
      Deno.exit(2);
    }
    return v;
  };

  const report: Record<string, unknown> = { date: new Date().toISOString() };
  if (sections.includes("data")) report.data = await benchData();
  if (sections.includes("kernels") || sections.includes("step")) {
    const backend = values.backend === undefined
      ? undefined
      : parseBackendChoice(values.backend, "--backend");
    const info = await initBackend({
      ...(backend === undefined ? {} : { backend }),
      ...(values.threads === undefined
        ? {}
        : { wasmThreads: parseThreadCount(values.threads, "--threads") }),
    });
    console.log(`backend: ${formatBackend(info)}`);
    report.backend = info;
    const gpu = info.backend === "webgpu" && info.adapter?.software === false;
    const widths = (values.width ?? [gpu ? "1" : "0.25"]).map((w) => {
      const v = Number(w);
      if (!(v > 0 && v <= 4)) {
        console.error(`--width must be a number in (0, 4], got "${w}"`);
        Deno.exit(2);
      }
      return v;
    });
    const batch = positiveInt("batch", values.batch, gpu ? 128 : 32);
    const steps = positiveInt("steps", values.steps, 5);
    if (sections.includes("kernels")) {
      const rows = await benchKernels({ backend: info.backend, width: widths[0]!, batch });
      console.log(
        `\nKernels of the VGG at width ${widths[0]}, batch ${batch} (median ms, GFLOP/s)`,
      );
      console.log(formatKernelTable(rows));
      report.kernels = rows;
    }
    if (sections.includes("step")) {
      report.step = await benchStep({
        widths,
        batch,
        steps,
        torch: !values["no-torch"],
        torchDevice: gpu ? "cuda" : "cpu",
      });
    }
  }
  await Deno.mkdir("bench-results", { recursive: true });
  const file = `bench-results/bench-${new Date().toISOString().replaceAll(":", "-")}.json`;
  await Deno.writeTextFile(file, JSON.stringify(report, null, 2) + "\n");
  console.log(`wrote ${file}`);
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    // Bad options are RangeErrors with a message that says what to fix: no stack trace.
    console.error((error as Error).message);
    Deno.exit(error instanceof RangeError ? 2 : 1);
  }
}
