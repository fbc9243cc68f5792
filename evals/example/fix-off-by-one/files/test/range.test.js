const test = require("node:test");
const assert = require("node:assert/strict");
const { range } = require("../range.js");

test("range(n) has n items, 0 to n - 1", () => {
  assert.deepEqual(range(3), [0, 1, 2]);
  assert.deepEqual(range(0), []);
});
