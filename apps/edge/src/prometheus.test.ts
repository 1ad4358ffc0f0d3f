import { expect, test } from "bun:test";
import { Counter, Gauge, Histogram, Registry } from "./prometheus.ts";

test("the registry writes counters, gauges and histograms in the text format, as prom-client wrote them", async () => {
  const registry = new Registry();
  const requests = new Counter({
    name: "a_total",
    help: "A\nhelp \\ x",
    labelNames: ["status"] as const,
    registers: [registry],
  });
  const calls = new Counter({
    name: "t_total",
    help: "T",
    labelNames: ["service", "tool", "outcome"] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: "h_seconds",
    help: "H",
    labelNames: ["service"] as const,
    buckets: [0.005, 0.01, 0.1, 1],
    registers: [registry],
  });
  new Gauge({
    name: "g",
    help: "G",
    labelNames: ["service"] as const,
    registers: [registry],
    collect() {
      this.reset();
      this.set({ service: "x" }, 2);
    },
  });
  new Gauge({
    name: "g0",
    help: "G0",
    registers: [registry],
    collect() {
      this.set(1);
    },
  });
  new Counter({
    name: "c0_total",
    help: "C0",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(1.5);
    },
  });
  new Counter({ name: "c00_total", help: "C00", registers: [registry] });
  new Histogram({
    name: "e",
    help: "E",
    labelNames: ["service"] as const,
    buckets: [1],
    registers: [registry],
  });
  requests.inc({ status: "200" });
  requests.inc({ status: "200" });
  requests.inc({ status: 401 });
  calls.inc({ service: "figma", tool: 'we"ird\\', outcome: "success" });
  calls.inc({ service: "figma", tool: "get_me", outcome: "success" }, 3);
  for (const seconds of [0.007, 0.01, 5]) latency.observe({ service: "figma" }, seconds);

  expect(registry.contentType).toBe("text/plain; version=0.0.4; charset=utf-8");
  expect(await registry.metrics()).toBe(
    [
      "# HELP a_total A\\nhelp \\\\ x",
      "# TYPE a_total counter",
      'a_total{status="200"} 2',
      'a_total{status="401"} 1',
      "",
      "# HELP t_total T",
      "# TYPE t_total counter",
      't_total{service="figma",tool="we\\"ird\\\\",outcome="success"} 1',
      't_total{service="figma",tool="get_me",outcome="success"} 3',
      "",
      "# HELP h_seconds H",
      "# TYPE h_seconds histogram",
      'h_seconds_bucket{le="0.005",service="figma"} 0',
      'h_seconds_bucket{le="0.01",service="figma"} 2',
      'h_seconds_bucket{le="0.1",service="figma"} 2',
      'h_seconds_bucket{le="1",service="figma"} 2',
      'h_seconds_bucket{le="+Inf",service="figma"} 3',
      'h_seconds_sum{service="figma"} 5.017',
      'h_seconds_count{service="figma"} 3',
      "",
      "# HELP g G",
      "# TYPE g gauge",
      'g{service="x"} 2',
      "",
      "# HELP g0 G0",
      "# TYPE g0 gauge",
      "g0 1",
      "",
      "# HELP c0_total C0",
      "# TYPE c0_total counter",
      "c0_total 1.5",
      "",
      "# HELP c00_total C00",
      "# TYPE c00_total counter",
      "c00_total 0",
      "",
      "# HELP e E",
      "# TYPE e histogram",
      "",
    ].join("\n"),
  );
});

test("a label value with a newline is escaped; a counter never goes down", async () => {
  const registry = new Registry();
  const counter = new Counter({
    name: "x_total",
    help: "X",
    labelNames: ["l"] as const,
    registers: [registry],
  });
  counter.inc({ l: "a\nb" });
  expect(await registry.metrics()).toContain('x_total{l="a\\nb"} 1');
  expect(() => counter.inc({ l: "a" }, -1)).toThrow(RangeError);
  expect(() => counter.inc({ l: "a" }, Number.NaN)).toThrow(RangeError);
  expect(await registry.metrics()).not.toContain('l="a"}');
});

test("a histogram refuses NaN, which would make its sum NaN for good; its series are unchanged", async () => {
  const registry = new Registry();
  const h = new Histogram({ name: "h_seconds", help: "H", buckets: [1], registers: [registry] });
  h.observe(0.5);
  expect(() => h.observe(Number.NaN)).toThrow(RangeError);
  const text = await registry.metrics();
  expect(text).toContain("h_seconds_sum 0.5");
  expect(text).toContain("h_seconds_count 1");
  expect(text).toContain('h_seconds_bucket{le="1"} 1');
});
