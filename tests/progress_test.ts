import assert from "node:assert/strict";
import { createProgress, formatDuration, formatProgress } from "../lib/progress.ts";

/** A fake clock (ms) and a collecting writer. */
function harness() {
  const out: string[] = [];
  const clock = { t: 0 };
  return { out, clock, write: (s: string) => out.push(s), now: () => clock.t };
}

Deno.test("formatDuration() and formatProgress() show step, rate, ETA and loss", () => {
  assert.equal(formatDuration(0), "0s");
  assert.equal(formatDuration(59.4), "59s");
  assert.equal(formatDuration(61), "1m01s");
  assert.equal(formatDuration(3 * 3600 + 5 * 60 + 40), "3h05m");
  assert.equal(formatDuration(Infinity), "?");
  assert.equal(
    formatProgress({ label: "run", step: 25, total: 100, rate: 12.5, loss: 0.123456 }),
    "run step 25/100 (25%) 12.5 steps/s ETA 6s loss 0.1235",
  );
  assert.equal(
    formatProgress({ step: 0, total: 10, rate: 0, loss: NaN }),
    "step 0/10 (0%) ? steps/s ETA ? loss NaN",
  );
});

Deno.test("createProgress() in a terminal rewrites one line, at most every redrawMs", () => {
  const h = harness();
  const p = createProgress({ total: 100, isTerminal: true, write: h.write, now: h.now });
  h.clock.t = 1000;
  p.update(10, 2.5); // 10 steps in 1 s: 10 steps/s, 90 steps left: 9 s
  h.clock.t = 1050;
  p.update(11, 2.4); // within 100 ms: not drawn
  h.clock.t = 2000;
  p.update(20, 2); // 20 steps in 2 s
  p.finish("done");
  assert.deepEqual(h.out, [
    "\rstep 10/100 (10%) 10.0 steps/s ETA 9s loss 2.500",
    "\rstep 20/100 (20%) 10.0 steps/s ETA 8s loss 2.000",
    // Padded over the longer previous line.
    "\rdone" + " ".repeat("step 20/100 (20%) 10.0 steps/s ETA 8s loss 2.000".length - 4) + "\n",
  ]);
  assert.ok(h.out.every((s) => !s.slice(0, -1).includes("\n")));
});

Deno.test("createProgress() elsewhere writes plain lines every 10% or 30 s", () => {
  const h = harness();
  const p = createProgress({
    total: 1000,
    start: 200,
    isTerminal: false,
    write: h.write,
    now: h.now,
  });
  for (let step = 201; step <= 450; step++) {
    h.clock.t += 100; // 10 steps/s
    p.update(step, 1);
  }
  // Marks at 300 and 400 (10% of 1000), counted from the resumed step 200.
  assert.deepEqual(h.out.map((s) => s.split(" ").slice(0, 2).join(" ")), [
    "step 300/1000",
    "step 400/1000",
  ]);
  assert.equal(h.out[0], "step 300/1000 (30%) 10.0 steps/s ETA 1m10s loss 1.000\n");
  h.clock.t += 31_000; // quiet for 31 s: a line even without a new mark
  p.update(451, 1);
  assert.equal(h.out.length, 3);
  p.finish();
  assert.equal(h.out.length, 4);
  assert.ok(h.out.every((s) => s.endsWith("\n") && !s.includes("\r")));
});

Deno.test("createProgress() refuses a bad total", () => {
  assert.throws(
    () => createProgress({ total: -1, isTerminal: false, write: () => {} }),
    /^RangeError: Cannot show progress: total must be a non-negative integer, got -1$/,
  );
});
