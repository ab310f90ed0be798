/**
 * A minimal command line around `runJob` for the tests that need a separate process (kill
 * with SIGKILL and resume, two processes on one store, exit status of bad input):
 *
 *   deno run -A tests/experiments/_run_job_cli.ts --job job.json --runs DIR [--force]
 *     [--backend cpu|wasm]
 *
 * Prints the record's summary as JSON on stdout; on error prints the message on stderr and
 * exits with status 1, after validating the job before anything is written.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type BackendChoice, initBackend, parseBackendChoice } from "../../lib/backend.ts";
import { validateJob } from "../../lib/run/job.ts";
import { runJob } from "../../lib/run/run_job.ts";
import { openStore } from "../../lib/store/mod.ts";

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      job: { type: "string" },
      runs: { type: "string" },
      force: { type: "boolean", default: false },
      backend: { type: "string", default: "cpu" },
    },
  });
  if (values.job === undefined || values.runs === undefined) {
    throw new TypeError("Cannot run job: --job and --runs are required, got neither or one");
  }
  // Everything that can be refused is checked before the store folder is created.
  const job = validateJob(JSON.parse(await Deno.readTextFile(values.job)));
  const backend: BackendChoice = parseBackendChoice(values.backend, "--backend");
  const backendInfo = await initBackend({ backend });
  const store = await openStore(values.runs);
  try {
    const record = await runJob(job, store, {
      force: values.force,
      backendInfo,
      progress: {
        isTerminal: false,
        write: (text) => Deno.stderr.writeSync(new TextEncoder().encode(text)),
      },
      onWarning: (message) => console.error(message),
    });
    console.log(JSON.stringify({
      state: record.status.state,
      steps: record.metrics.step.length,
      computedSteps: record.computedSteps,
    }));
  } finally {
    await store.close();
  }
}

try {
  await main();
} catch (error) {
  console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
  Deno.exit(1);
}
