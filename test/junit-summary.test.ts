// The CI summary: counts from Bun's JUnit output, and the failed cases named beside them.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { countJunit, failedCases, summarize } from "../scripts/junit-summary.ts";

// Shaped like `bun test --reporter=junit` writes it (Bun 1.4): nested suites, self-closing passes.
const xml = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="bun test" tests="4" assertions="1" failures="2" skipped="1" time="0.009">
  <testsuite name="a.test.ts" file="a.test.ts" tests="4" assertions="1" failures="2" skipped="1" time="0.002" hostname="vm">
    <testsuite name="outer" file="a.test.ts" line="2" tests="3" assertions="1" failures="1" skipped="1" time="0" hostname="vm">
      <testsuite name="inner &amp; co" file="a.test.ts" line="3" tests="3" assertions="1" failures="1" skipped="1" time="0" hostname="vm">
        <testcase name="passes" classname="inner &amp; co &gt; outer" time="0.000004" file="a.test.ts" line="4" assertions="0" />
        <testcase name="fails &lt;x&gt;" classname="inner &amp; co &gt; outer" time="0.000163" file="a.test.ts" line="5" assertions="1">
          <failure type="AssertionError" message="expect(received).toBe(expected)&#10;&#10;Expected: 2&#10;Received: 1&#10;">AssertionError</failure>
        </testcase>
        <testcase name="skipped" classname="inner &amp; co &gt; outer" time="0" file="a.test.ts" line="6" assertions="0">
          <skipped />
        </testcase>
      </testsuite>
    </testsuite>
    <testcase name="top" classname="" time="0.000035" file="a.test.ts" line="9" assertions="0">
      <failure type="Error" message="boom">Error: boom</failure>
    </testcase>
  </testsuite>
</testsuites>`;

test("counts passed, failed and skipped from the root element", () => {
  expect(countJunit(xml)).toEqual({ passed: 1, failed: 2, skipped: 1 });
});

test("names each failed case with its file, line, describe path and the message's first line", () => {
  expect(failedCases(xml)).toEqual([
    "a.test.ts:5 outer > inner & co > fails <x>: expect(received).toBe(expected)",
    "a.test.ts:9 top: boom",
  ]);
});

test("a green file names nothing", () => {
  expect(failedCases(xml.replace(/<failure[^>]*>[^<]*<\/failure>/g, ""))).toEqual([]);
});

test("summarize adds files up, names their failures, and counts a missing file as one failure", () => {
  const dir = mkdtempSync(join(tmpdir(), "junit-"));
  const file = join(dir, "run.xml");
  writeFileSync(file, xml);
  expect(summarize([file, join(dir, "missing.xml")])).toEqual({
    counts: { passed: 1, failed: 3, skipped: 1 },
    failed: [
      "FAILED a.test.ts:5 outer > inner & co > fails <x>: expect(received).toBe(expected)",
      "FAILED a.test.ts:9 top: boom",
    ],
  });
  rmSync(dir, { recursive: true });
});
