/**
 * `deno task bench data`: time to load, verify and decode the full CIFAR-10 set, per stage
 * (read, gunzip, sha256, decode), with throughput in MB/s (1 MB = 10^6 bytes). Reads
 * `CIFAR10_DIR`, else data/cifar10. Run alone: `deno run -A scripts/bench/data.ts`.
 *
 * @module
 */
import { join } from "node:path";
import {
  CIFAR10_MANIFEST,
  type Cifar10Set,
  concatSets,
  decodeCifar10,
  sha256Hex,
} from "../../lib/data/cifar10.ts";
import { resolveCifar10Dir } from "../../lib/data/cifar10_files.ts";
import { gunzip } from "../../lib/data/gzip.ts";

/** Time and throughput of one stage, summed over the six files. */
export interface DataBenchStage {
  /** Wall time in seconds. */
  seconds: number;
  /** Bytes processed, in MB (input bytes of the stage). */
  megabytes: number;
  /** megabytes / seconds. */
  megabytesPerSecond: number;
}

/** Result of {@link benchData} (JSON-serialisable). */
export interface DataBenchResult {
  /** Folder read. */
  dir: string;
  /** Files read, in order (paths relative to `dir`). */
  files: string[];
  /** Whether the files on disk were gzipped. */
  gzipped: boolean;
  /** Images decoded (60,000 for the full set). */
  images: number;
  /** Per stage: read (disk), gunzip (0 s for plain .bin), sha256, decode (planes -> NHWC). */
  stages: {
    read: DataBenchStage;
    gunzip: DataBenchStage;
    sha256: DataBenchStage;
    decode: DataBenchStage;
  };
  /** Wall time of all stages, seconds. */
  totalSeconds: number;
}

function stage(seconds: number, bytes: number): DataBenchStage {
  const megabytes = bytes / 1e6;
  return { seconds, megabytes, megabytesPerSecond: seconds > 0 ? megabytes / seconds : Infinity };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Loads, verifies and decodes all six files of the full set, timing each stage separately,
 * and prints one line per stage.
 *
 * @returns Timings and throughput per stage (every file matched its known SHA-256).
 * @throws {Error} If a file is missing or fails its checksum.
 */
export async function benchData(): Promise<DataBenchResult> {
  const dir = resolveCifar10Dir();
  const names = [...CIFAR10_MANIFEST.trainFiles, ...CIFAR10_MANIFEST.testFiles];
  const time = { read: 0, gunzip: 0, sha256: 0, decode: 0 };
  const bytes = { read: 0, gunzip: 0, sha256: 0, decode: 0 };
  const files: string[] = [];
  let gzipped = false;
  const sets: Cifar10Set[] = [];
  for (const name of names) {
    const plain = join(dir, `${name}.bin`);
    const isGzip = !(await exists(plain));
    gzipped ||= isGzip;
    const path = isGzip ? `${plain}.gz` : plain;
    files.push(path.slice(dir.length + 1));

    let t = performance.now();
    const disk = await Deno.readFile(path);
    time.read += performance.now() - t;
    bytes.read += disk.length;

    let raw: Uint8Array = disk;
    if (isGzip) {
      t = performance.now();
      raw = await gunzip(disk, { name: path });
      time.gunzip += performance.now() - t;
      bytes.gunzip += disk.length;
    }

    t = performance.now();
    const hash = await sha256Hex(raw);
    time.sha256 += performance.now() - t;
    bytes.sha256 += raw.length;
    if (hash !== CIFAR10_MANIFEST.sha256[name]) {
      throw new Error(
        `Cannot benchmark CIFAR-10: checksum mismatch for ${path}, SHA-256 must be ` +
          `${CIFAR10_MANIFEST.sha256[name]}, got ${hash}`,
      );
    }

    t = performance.now();
    sets.push(decodeCifar10(raw, { fileName: path }));
    time.decode += performance.now() - t;
    bytes.decode += raw.length;
  }
  // Joining the five training files is part of decoding into one set.
  const t = performance.now();
  const train = concatSets(sets.slice(0, CIFAR10_MANIFEST.trainFiles.length));
  time.decode += performance.now() - t;

  const stages = {
    read: stage(time.read / 1000, bytes.read),
    gunzip: stage(time.gunzip / 1000, bytes.gunzip),
    sha256: stage(time.sha256 / 1000, bytes.sha256),
    decode: stage(time.decode / 1000, bytes.decode),
  };
  const totalSeconds = (time.read + time.gunzip + time.sha256 + time.decode) / 1000;
  console.log(`data: ${dir} (${gzipped ? "gzipped" : "plain"} .bin)`);
  for (const [label, s] of Object.entries(stages)) {
    console.log(
      `  ${label.padEnd(7)} ${s.seconds.toFixed(3).padStart(7)} s  ` +
        `${s.megabytes.toFixed(1).padStart(6)} MB  ${
          s.megabytesPerSecond.toFixed(0).padStart(6)
        } MB/s`,
    );
  }
  const images = train.count + (sets.at(-1)?.count ?? 0);
  console.log(`  total   ${totalSeconds.toFixed(3).padStart(7)} s  ${images} images`);
  return { dir, files, gzipped, images, stages, totalSeconds };
}

if (import.meta.main) console.log(JSON.stringify(await benchData(), null, 2));
