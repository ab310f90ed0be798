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
import { type Normalization, NORMALIZATIONS } from "../lib/models/types.ts";

const SECTIONS = ["data", "kernels", "step"] as const;
type Section = typeof SECTIONS[number];

const USAGE = `Usage: deno task bench [${SECTIONS.join("|")} ...] [options]
  --backend B   ${BACKEND_CHOICES.join(", ")} (default: BN_BACKEND, else auto)
  --width W     channel-width multiplier, repeatable (default: 1, 0.25 and 0.125 on a CPU,
                1 on a GPU; the kernel table uses the first)
  --batch N     batch size, repeatable (default: 32 and 128 on a CPU, 128 on a GPU; the
                kernel table uses the first)
  --norm N      normalisation of the step bench, repeatable (default: batchnorm and none)
  --steps N     timed SGD steps per round (default 5)
  --rounds N    interleaved rounds (ours, PyTorch's) per step configuration (default 3)
  --wasm-too    also time each step configuration with everything in wasm (no oneDNN)
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
        batch: { type: "string", multiple: true },
        norm: { type: "string", multiple: true },
        steps: { type: "string" },
        rounds: { type: "string" },
        "wasm-too": { type: "boolean", default: false },
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
    const widths = (values.width ?? (gpu ? ["1"] : ["1", "0.25", "0.125"])).map((w) => {
      const v = Number(w);
      if (!(v > 0 && v <= 4)) {
        console.error(`--width must be a number in (0, 4], got "${w}"`);
        Deno.exit(2);
      }
      return v;
    });
    const batches = (values.batch ?? (gpu ? ["128"] : ["32", "128"])).map((b) =>
      positiveInt("batch", b, 0)
    );
    const batch = batches[0]!;
    const normalizations = (values.norm ?? ["batchnorm", "none"]).map((n) => {
      if (!(NORMALIZATIONS as readonly string[]).includes(n)) {
        console.error(`--norm must be one of ${NORMALIZATIONS.join(", ")}, got "${n}"`);
        Deno.exit(2);
      }
      return n as Normalization;
    });
    const steps = positiveInt("steps", values.steps, 5);
    const rounds = positiveInt("rounds", values.rounds, 3);
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
        batches,
        normalizations,
        steps,
        rounds,
        torch: !values["no-torch"],
        torchDevice: gpu ? "cuda" : "cpu",
        wasmToo: values["wasm-too"],
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
