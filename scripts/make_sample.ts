/**
 * `deno run -A scripts/make_sample.ts [--out DIR] [--count N]`: regenerates the committed
 * sample `data/cifar10-sample/` from the full data set in `CIFAR10_DIR` (else data/cifar10).
 *
 * The sample is the first N (default 1,000) records of `data_batch_1` and of `test_batch`,
 * byte for byte in the official binary layout, gzipped with `CompressionStream` (fixed header,
 * mtime 0: the output is deterministic, so rerunning reproduces the committed files exactly),
 * plus `SHA256SUMS` of the uncompressed files.
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  CIFAR10_RECORD_BYTES,
  CIFAR10_RECORDS_PER_FILE,
  formatSha256Sums,
  sha256Hex,
} from "../lib/data/cifar10.ts";
import {
  CIFAR10_SAMPLE_RECORDS,
  readCifar10File,
  resolveCifar10Dir,
  sampleDir,
} from "../lib/data/cifar10_files.ts";
import { gzip } from "../lib/data/gzip.ts";

/** Options of {@link makeSample}. */
export interface MakeSampleOptions {
  /** Full data set (default: CIFAR10_DIR, else data/cifar10). */
  sourceDir?: string;
  /** Output folder (default data/cifar10-sample). */
  outDir?: string;
  /** Records per file (default 1,000). */
  count?: number;
}

/**
 * Writes `<out>/data_batch_1.bin.gz`, `<out>/test_batch.bin.gz` and `<out>/SHA256SUMS`.
 *
 * @param options Source, output folder and record count.
 * @returns SHA-256 of each uncompressed sample file, by file name.
 */
export async function makeSample(options: MakeSampleOptions = {}): Promise<Map<string, string>> {
  const sourceDir = options.sourceDir ?? resolveCifar10Dir();
  const outDir = options.outDir ?? sampleDir();
  const count = options.count ?? CIFAR10_SAMPLE_RECORDS;
  if (!Number.isInteger(count) || count < 1 || count > CIFAR10_RECORDS_PER_FILE) {
    throw new RangeError(
      `Cannot make sample: count must be in 1..${CIFAR10_RECORDS_PER_FILE}, got ${count}`,
    );
  }
  await Deno.mkdir(outDir, { recursive: true });
  const sums = new Map<string, string>();
  for (const name of ["data_batch_1", "test_batch"]) {
    const file = await readCifar10File(name, { dir: sourceDir }); // verified against the manifest
    const head = file.bytes.subarray(0, count * CIFAR10_RECORD_BYTES);
    await Deno.writeFile(join(outDir, `${name}.bin.gz`), await gzip(head));
    sums.set(`${name}.bin`, await sha256Hex(head));
  }
  await Deno.writeTextFile(join(outDir, "SHA256SUMS"), formatSha256Sums(sums));
  return sums;
}

const USAGE = `Usage: deno run -A scripts/make_sample.ts [--out DIR] [--count N]
Regenerates data/cifar10-sample from the full CIFAR-10 in CIFAR10_DIR (else data/cifar10).
  --out DIR    output folder (default data/cifar10-sample)
  --count N    records taken from the start of data_batch_1 and test_batch (default 1000)
  -h, --help   show this help`;

async function main(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        out: { type: "string" },
        count: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (error) {
    console.error(`error: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const count = values.count === undefined ? CIFAR10_SAMPLE_RECORDS : Number(values.count);
  const outDir = values.out ?? sampleDir();
  try {
    const sums = await makeSample({ outDir, count });
    for (const [name, hash] of sums) console.log(`${hash}  ${name}`);
    console.log(`wrote ${outDir}`);
    return 0;
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
