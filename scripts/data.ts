/**
 * `deno task data [--dir DIR] [--archive FILE]`: installs CIFAR-10, or verifies it when it is
 * already there. See `lib/data/download.ts` for what is checked and how it is written.
 *
 * Exit status: 0 done, 1 failed (download, verification), 2 bad command line.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { resolveCifar10Dir } from "../lib/data/cifar10_files.ts";
import { CIFAR10_ARCHIVE, ensureCifar10, installFromArchive } from "../lib/data/download.ts";

const USAGE = `Usage: deno task data [--dir DIR] [--archive FILE]
Downloads CIFAR-10 (${CIFAR10_ARCHIVE.url}),
verifies the SHA-256 of every file, and installs plain .bin files into DIR. If DIR already
holds the data, verifies it instead.
  --dir DIR        data folder (default: $CIFAR10_DIR, else data/cifar10)
  --archive FILE   install from a local copy of cifar-10-binary.tar.gz instead of downloading
  -h, --help       show this help`;

/**
 * Runs the command line.
 *
 * @param args Command-line arguments.
 * @returns The exit status.
 */
export async function main(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        dir: { type: "string" },
        archive: { type: "string" },
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
  const dir = values.dir ?? resolveCifar10Dir();
  const onProgress = (line: string) => console.log(line);
  try {
    if (values.archive !== undefined) {
      const file = await Deno.open(values.archive);
      await installFromArchive(file.readable, dir, { onProgress });
    } else {
      await ensureCifar10({ dir, onProgress });
    }
    console.log(`CIFAR-10 ready in ${dir}`);
    return 0;
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
