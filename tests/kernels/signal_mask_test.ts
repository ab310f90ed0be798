import assert from "node:assert/strict";
import { SignalShield } from "../../lib/kernels/signal_mask.ts";

const linux = Deno.build.os === "linux";

/** The calling thread's blocked-signal mask, as the kernel reports it (`SigBlk`, hex). */
function blockedMask(): bigint {
  const status = Deno.readTextFileSync("/proc/thread-self/status");
  const line = status.split("\n").find((l) => l.startsWith("SigBlk:"));
  assert.ok(line !== undefined, "/proc/thread-self/status has no SigBlk line");
  return BigInt(`0x${line.slice("SigBlk:".length).trim()}`);
}

/** Whether signal number `signal` is in `mask` (bit signal - 1). */
function holds(mask: bigint, signal: number): boolean {
  return ((mask >> BigInt(signal - 1)) & 1n) === 1n;
}

// Linux signal numbers.
const SIGINT = 2;
const SIGUSR2 = 12;
const SIGTERM = 15;
const SIGCHLD = 17;
const SIGPROF = 27;

Deno.test({
  name: "SignalShield.run() blocks SIGCHLD, SIGTERM and the rest on this thread, then restores",
  ignore: !linux,
  fn() {
    const shield = SignalShield.open();
    assert.ok(shield !== null, "libc's pthread_sigmask did not open on Linux");
    const before = blockedMask();
    assert.equal(holds(before, SIGCHLD), false, "the test thread already blocks SIGCHLD");
    const inside = shield.run(() => blockedMask());
    for (const signal of [SIGINT, SIGUSR2, SIGTERM, SIGCHLD, SIGPROF]) {
      assert.ok(holds(inside, signal), `signal ${signal} is not blocked inside run()`);
    }
    assert.equal(blockedMask(), before);
  },
});

Deno.test({
  name:
    "SignalShield.run() returns the body's value, keeps the mask in nested calls, restores it after a throw",
  ignore: !linux,
  fn() {
    const shield = SignalShield.open()!;
    const before = blockedMask();
    const nested = shield.run(() => shield.run(() => blockedMask()) === blockedMask());
    assert.equal(nested, true);
    assert.equal(blockedMask(), before);
    assert.throws(() =>
      shield.run(() => {
        throw new RangeError("inside");
      }), RangeError);
    assert.equal(blockedMask(), before);
    // The shield still works after the throw (its nesting count was reset).
    assert.ok(holds(shield.run(() => blockedMask()), SIGCHLD));
  },
});

Deno.test("SignalShield.open() is null off Linux, where sigset_t differs", () => {
  assert.equal(SignalShield.open("darwin"), null);
  assert.equal(SignalShield.open("windows"), null);
});
