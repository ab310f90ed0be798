import assert from "node:assert/strict";
import { join } from "node:path";
import { FULL_DIR, fullDataTest, listDir, REPO, run, smallSet } from "./_helpers.ts";

/** Runs `deno run -A scripts/data.ts ...args` from the repository root. */
function dataScript(args: string[]) {
  return run(Deno.execPath(), ["run", "-A", join(REPO, "scripts/data.ts"), ...args], { cwd: REPO });
}

Deno.test("deno task data: --help prints usage and exits 0", async () => {
  const result = await dataScript(["--help"]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /^Usage: deno task data \[--dir DIR\] \[--archive FILE\]/);
});

Deno.test("deno task data: a bad command line exits 2 with a clear message", async () => {
  const unknown = await dataScript(["--bogus"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^error: Unknown option '--bogus'/);
  assert.match(unknown.stderr, /Usage:/);
  const positional = await dataScript(["somewhere"]);
  assert.equal(positional.code, 2);
  assert.match(positional.stderr, /Unexpected argument 'somewhere'/);
});

Deno.test("deno task data --archive: an archive failing verification exits 1, writes nothing", async () => {
  const parent = await Deno.makeTempDir({ prefix: "cifar10-script-test-" });
  try {
    // Real records, but not the official files: the official hashes cannot match.
    const src = join(parent, "src", "cifar-10-batches-bin");
    await Deno.mkdir(src, { recursive: true });
    for (const [name, bytes] of smallSet(10).files) {
      await Deno.writeFile(join(src, `${name}.bin`), bytes);
    }
    const tar = await run("tar", ["-czf", "../a.tar.gz", "cifar-10-batches-bin"], {
      cwd: join(parent, "src"),
    });
    assert.equal(tar.code, 0, tar.stderr);
    const result = await dataScript([
      "--dir",
      join(parent, "out"),
      "--archive",
      join(parent, "a.tar.gz"),
    ]);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^error: Cannot install CIFAR-10: data_batch_1\.bin must be 30730000 bytes, got 30730/,
    );
    assert.deepEqual(await listDir(parent), ["a.tar.gz", "src"]);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

fullDataTest(
  "deno task data --dir $CIFAR10_DIR verifies the present data and exits 0",
  async () => {
    const result = await dataScript(["--dir", FULL_DIR!]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.split("\n").filter((l) => l.startsWith("verified ")).length, 6);
    assert.match(result.stdout, /CIFAR-10 ready in /);
  },
);
