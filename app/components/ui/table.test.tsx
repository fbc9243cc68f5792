import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { Table, TableSkeleton, TBody, Td, THead, Th } from "./table.tsx";

/** The classes of every element with `tag`, each as a sorted set, in document order. */
function classesOf(html: string, tag: string): string[] {
  return [...html.matchAll(new RegExp(`<${tag}\\b[^>]*?class="([^"]*)"`, "g"))].map((match) =>
    (match[1] ?? "").split(/\s+/).filter(Boolean).sort().join(" "),
  );
}
const sorted = (classes: string) => classes.split(" ").sort().join(" ");

function sample(density?: "comfortable" | "compact" | "card") {
  return renderToStaticMarkup(
    <Table density={density} aria-label="Sample" data-testid="sample">
      <THead>
        <Th>Name</Th>
        <Th align="right">Cost</Th>
      </THead>
      <TBody>
        <tr>
          <Td muted nowrap className="text-xs">
            a
          </Td>
          <Td numeric title="exact" data-testid="cost">
            1
          </Td>
        </tr>
      </TBody>
    </Table>,
  );
}

describe("Table", () => {
  it("frames a comfortable table and keeps the table's own attributes", () => {
    const html = sample();
    expect(classesOf(html, "div")).toEqual([
      sorted("overflow-x-auto rounded-lg border border-zinc-200 dark:border-zinc-800"),
    ]);
    expect(html).toContain(
      '<table class="w-full text-left text-sm" aria-label="Sample" data-testid="sample">',
    );
    expect(classesOf(html, "thead")).toEqual([
      sorted("bg-zinc-50 text-xs uppercase tracking-wide text-zinc-500 dark:bg-zinc-900/60"),
    ]);
    expect(classesOf(html, "tbody")).toEqual([sorted("divide-y divide-zinc-100 dark:divide-zinc-800")]);
    expect(html.match(/<th scope="col"/g)).toHaveLength(2);
    expect(classesOf(html, "th")).toEqual([
      sorted("px-4 py-2.5 font-medium"),
      sorted("px-4 py-2.5 font-medium text-right"),
    ]);
    expect(classesOf(html, "td")).toEqual([
      sorted("px-4 py-3 text-xs whitespace-nowrap text-zinc-600 dark:text-zinc-400"),
      sorted("px-4 py-3 text-right tabular-nums"),
    ]);
    expect(html).toContain('title="exact" data-testid="cost"');
  });

  it("pads compact rows tighter under the same frame", () => {
    const html = sample("compact");
    expect(classesOf(html, "div")).toHaveLength(1);
    expect(classesOf(html, "div")[0]).toContain("rounded-lg");
    expect(classesOf(html, "th")[0]).toBe(sorted("px-4 py-2.5 font-medium"));
    expect(classesOf(html, "td")[1]).toBe(sorted("px-4 py-2.5 text-right tabular-nums"));
  });

  it("leaves the frame to the card and uses the card's padding", () => {
    const html = sample("card");
    expect(classesOf(html, "div")).toEqual(["overflow-x-auto"]);
    expect(classesOf(html, "th")[1]).toBe(sorted("px-3 py-2 font-medium text-right"));
    expect(classesOf(html, "td")[1]).toBe(sorted("px-3 py-2.5 text-right tabular-nums"));
  });
});

describe("TableSkeleton", () => {
  it("is a labelled status with the given rows of placeholders", () => {
    const html = renderToStaticMarkup(
      <TableSkeleton label="Loading runs" rows={3} cells={["h-4 w-20", "ml-auto h-4 w-8"]} />,
    );
    expect(html).toMatch(/^<div class="[^"]*" role="status" aria-label="Loading runs">/);
    expect(html.match(/animate-pulse/g)).toHaveLength(6);
    expect(html.match(/ml-auto h-4 w-8/g)).toHaveLength(3);
  });
});
