import assert from "node:assert/strict";
import { formatRecords, fromJson, parseRecords, toJson } from "../../lib/store/ndjson.ts";

Deno.test("toJson()/fromJson() keep non-finite numbers", () => {
  const value = { step: 3, loss: NaN, values: [Infinity, -Infinity, 1.5], kind: "ics" };
  const text = toJson(value);
  assert.equal(text, '{"step":3,"loss":"NaN","values":["Infinity","-Infinity",1.5],"kind":"ics"}');
  assert.deepEqual(fromJson(text), value);
});

Deno.test("parseRecords() drops a torn last line and reports its size", () => {
  const text = formatRecords([{ step: 0 }, { step: 1 }]) + '{"step":2,"lo';
  const parsed = parseRecords<{ step: number }>(text);
  assert.deepEqual(parsed.records, [{ step: 0 }, { step: 1 }]);
  assert.equal(parsed.partialBytes, 13);
  assert.deepEqual(parseRecords(""), { records: [], partialBytes: 0 });
});

Deno.test("parseRecords() refuses a malformed complete line", () => {
  assert.throws(
    () => parseRecords('{"step":0}\n{oops\n', "metrics.ndjson"),
    /^SyntaxError: Cannot read metrics\.ndjson: line 2 is not JSON/,
  );
});
