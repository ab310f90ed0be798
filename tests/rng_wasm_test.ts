import assert from "node:assert/strict";
import { philox4x32, wordToUniform } from "../lib/rng.ts";
import { philoxUniformsWasm } from "../lib/rng_wasm.ts";

/** Element e of a field by the definition: word e % 4 of the block of counter floor(e / 4). */
function definition(e: number, key: [number, number], c: [number, number, number]): number {
  return wordToUniform(philox4x32([Math.floor(e / 4), ...c], key)[e % 4]!);
}

Deno.test("philoxUniformsWasm() gives the bits of philox4x32 for every element", () => {
  // Random123's known answer for counter 0 and key 0.
  const kat = [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8].map(wordToUniform);
  assert.deepEqual(Array.from(philoxUniformsWasm(4, [0, 0], [0, 0, 0])!), kat);
  const cases: [number, [number, number], [number, number, number]][] = [
    [0, [1, 2], [3, 4, 5]],
    [1, [0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff, 0xffffffff]],
    [7, [12345, 3], [0, 1, 2]],
    [4097, [0x80000000, 6], [0x7fffffff, 0x80000000, 1]],
  ];
  for (const [size, key, counter] of cases) {
    const field = philoxUniformsWasm(size, key, counter)!;
    assert.equal(field.length, size);
    for (let e = 0; e < size; e++) {
      assert.equal(field[e], definition(e, key, counter), `size ${size}, element ${e}`);
    }
  }
});

Deno.test("philoxUniformsWasm() stays exact across its internal chunks (4 Mi uniforms each)", () => {
  const size = 4 * (1 << 18) * 2 + 3; // two full chunks and a partial block
  const key: [number, number] = [99, 3];
  const counter: [number, number, number] = [5, 6, 7];
  const field = philoxUniformsWasm(size, key, counter)!;
  assert.equal(field.length, size);
  for (const e of [0, 1, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, (1 << 21) + 1, size - 1]) {
    assert.equal(field[e], definition(e, key, counter), `element ${e}`);
  }
});
