const test = require("node:test");
const assert = require("node:assert/strict");
const strings = require("./strings.js");

test("capitalize upper-cases the first letter", () => {
  assert.equal(strings.capitalize("hello"), "Hello");
});

test("slugify makes a URL slug", () => {
  assert.equal(typeof strings.slugify, "function", "strings.js must export slugify");
  assert.equal(strings.slugify("Hello, World!"), "hello-world");
  assert.equal(strings.slugify("  Many   spaces  "), "many-spaces");
});
