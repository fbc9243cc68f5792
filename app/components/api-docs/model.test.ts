import { describe, expect, it } from "vitest";
import { buildApiReference, fieldRows, typeLabel } from "./model.ts";

describe("API reference model", () => {
  it("labels types compactly", () => {
    expect(typeLabel({ type: "string", format: "uuid" })).toBe("string (uuid)");
    expect(typeLabel({ type: ["string", "null"] })).toBe("string | null");
    expect(typeLabel({ type: "array", items: { type: "integer" } })).toBe("integer[]");
    expect(typeLabel({ anyOf: [{ type: "number" }, { type: "string" }] })).toBe("number | string");
    expect(typeLabel({ type: "string", enum: ["a", "b"] })).toBe("enum");
  });

  it("flattens nested objects and arrays of objects into indented rows", () => {
    const rows = fieldRows({
      type: "object",
      required: ["items"],
      properties: {
        items: {
          type: "array",
          items: {
            type: "object",
            required: ["id"],
            properties: { id: { type: "string" }, status: { type: "string", enum: ["queued", "done"] } },
          },
        },
        nextCursor: { type: ["string", "null"], maxLength: 100 },
      },
    });
    expect(rows.map((r) => [r.name, r.depth, r.type, r.required])).toEqual([
      ["items", 0, "object[]", true],
      ["items[].id", 1, "string", true],
      ["items[].status", 1, "enum", false],
      ["nextCursor", 0, "string | null", false],
    ]);
    expect(rows[2]?.enumValues).toEqual(["queued", "done"]);
    expect(rows[3]?.constraints).toBe("max 100 chars");
  });

  it("groups operations by tag, with access, success status and paging", () => {
    const tags = buildApiReference({
      paths: {
        "/runs": {
          get: {
            operationId: "runs-list",
            summary: "Runs",
            tags: ["runs"],
            security: [{ bearerJwt: [] }, { apiKey: ["runs:read"] }],
            responses: {
              "200": {
                content: {
                  "application/json": {
                    schema: {
                      type: "object",
                      properties: { items: { type: "array" }, nextCursor: { type: "string" } },
                    },
                  },
                },
              },
              "401": { description: "Unauthorized" },
            },
          },
        },
        "/auth/login": {
          post: { operationId: "auth-login", summary: "Login", tags: ["auth"], security: [], responses: {} },
        },
      },
    });
    expect(tags.map((t) => t.tag)).toEqual(["runs", "auth"]);
    const runs = tags[0]!.operations[0]!;
    expect(runs).toMatchObject({
      method: "GET",
      access: { kind: "any", scopes: ["runs:read"] },
      paginated: true,
    });
    expect(runs.errors).toEqual([{ status: "401", description: "Unauthorized" }]);
    expect(tags[1]!.operations[0]!.access).toEqual({ kind: "public" });
  });
});
