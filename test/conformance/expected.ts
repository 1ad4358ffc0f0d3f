// The yardstick's score: every check the two suites run against the conformance upstream alone, all
// SUCCESS (see direct.test.ts). A relay in front of the upstream should score exactly this, check by
// check: totals hide checks that are skipped, or that pass on any error.
import type { CheckResult, SuiteId, SuiteResult } from "./run.ts";

/** Every check each suite runs, per scenario, in the order the scenario emits them (all must pass). */
export const EXPECTED_CHECKS: Record<SuiteId, Record<string, string[]>> = {
  "2025": {
    "completion-complete": ["completion-complete"],
    "dns-rebinding-protection": ["localhost-host-rebinding-rejected", "localhost-host-valid-accepted"],
    "elicitation-sep1034-defaults": [
      "elicitation-sep1034-string-default",
      "elicitation-sep1034-integer-default",
      "elicitation-sep1034-number-default",
      "elicitation-sep1034-enum-default",
      "elicitation-sep1034-boolean-default",
    ],
    "elicitation-sep1330-enums": [
      "elicitation-sep1330-untitled-single",
      "elicitation-sep1330-titled-single",
      "elicitation-sep1330-legacy-enumnames",
      "elicitation-sep1330-untitled-multi",
      "elicitation-sep1330-titled-multi",
    ],
    "logging-set-level": ["logging-set-level"],
    ping: ["ping"],
    "prompts-get-embedded-resource": ["prompts-get-embedded-resource"],
    "prompts-get-simple": ["prompts-get-simple"],
    "prompts-get-with-args": ["prompts-get-with-args"],
    "prompts-get-with-image": ["prompts-get-with-image"],
    "prompts-list": ["prompts-list"],
    "resources-list": ["resources-list"],
    "resources-read-binary": ["resources-read-binary"],
    "resources-read-text": ["resources-read-text"],
    "resources-subscribe": ["resources-subscribe"],
    "resources-templates-read": ["resources-templates-read"],
    "resources-unsubscribe": ["resources-unsubscribe"],
    "server-initialize": ["server-initialize"],
    "server-sse-multiple-streams": ["server-accepts-multiple-post-streams", "server-sse-streams-functional"],
    "tools-call-audio": ["tools-call-audio"],
    "tools-call-elicitation": ["tools-call-elicitation"],
    "tools-call-embedded-resource": ["tools-call-embedded-resource"],
    "tools-call-error": ["tools-call-error"],
    "tools-call-image": ["tools-call-image"],
    "tools-call-mixed-content": ["tools-call-mixed-content"],
    "tools-call-sampling": ["tools-call-sampling"],
    "tools-call-simple-text": ["tools-call-simple-text"],
    "tools-call-with-logging": ["tools-call-with-logging"],
    "tools-call-with-progress": ["tools-call-with-progress"],
    "tools-list": ["tools-list"],
  },
  "2026": {
    caching: [
      "sep-2549-tools-list-caching-hints",
      "sep-2549-prompts-list-caching-hints",
      "sep-2549-resources-list-caching-hints",
      "sep-2549-resources-templates-list-caching-hints",
      "sep-2549-resources-read-caching-hints",
      "sep-2549-ttl-non-negative",
      "sep-2549-cache-scope-valid",
      "wire-schema-valid",
    ],
    "completion-complete": ["completion-complete", "wire-schema-valid"],
    "dns-rebinding-protection": ["localhost-host-rebinding-rejected", "localhost-host-valid-accepted"],
    "http-custom-header-server-validation": [
      "sep-2243-server-decode-base64",
      "sep-2243-server-reject-invalid-param-chars",
      "sep-2243-server-reject-param-mismatch",
      "sep-2243-server-reject-invalid-param-chars",
      "sep-2243-server-reject-param-mismatch",
      "sep-2243-server-validate-param-match",
      "sep-2243-server-validate-param-match",
      "sep-2243-server-validate-param-match",
      "sep-2243-server-reject-param-mismatch",
      "wire-schema-valid",
    ],
    "http-header-validation": [
      "sep-2243-server-reject-invalid-headers",
      "sep-2243-server-reject-error-code",
      "sep-2243-server-reject-invalid-headers",
      "sep-2243-server-reject-error-code",
      "sep-2243-server-reject-invalid-headers",
      "sep-2243-server-reject-error-code",
      "sep-2243-server-accepts-whitespace-header-value",
      "sep-2243-server-reject-invalid-headers",
      "sep-2243-server-reject-error-code",
      "sep-2243-header-name-case-insensitive",
      "sep-2243-header-name-case-insensitive",
      "sep-2243-server-reject-invalid-headers",
      "sep-2243-server-reject-error-code",
      "wire-schema-valid",
    ],
    "input-required-result-basic-elicitation": [
      "sep-2322-elicitation-incomplete",
      "sep-2322-elicitation-complete",
      "wire-schema-valid",
    ],
    "input-required-result-basic-list-roots": [
      "sep-2322-list-roots-incomplete",
      "sep-2322-list-roots-complete",
      "wire-schema-valid",
    ],
    "input-required-result-basic-sampling": [
      "sep-2322-sampling-incomplete",
      "sep-2322-sampling-complete",
      "wire-schema-valid",
    ],
    "input-required-result-capability-check": ["sep-2322-respect-client-capabilities", "wire-schema-valid"],
    "input-required-result-ignore-extra-params": ["sep-2322-ignore-unexpected-params", "wire-schema-valid"],
    "input-required-result-missing-input-response": [
      "sep-2322-missing-response-rerequests",
      "wire-schema-valid",
    ],
    "input-required-result-multi-round": [
      "sep-2322-multi-round-r1",
      "sep-2322-multi-round-r2",
      "sep-2322-multi-round-r3",
      "wire-schema-valid",
    ],
    "input-required-result-multiple-input-requests": [
      "sep-2322-multiple-inputs-incomplete",
      "sep-2322-multiple-inputs-complete",
      "wire-schema-valid",
    ],
    "input-required-result-non-tool-request": [
      "sep-2322-non-tool-incomplete",
      "sep-2322-non-tool-complete",
      "wire-schema-valid",
    ],
    "input-required-result-request-state": [
      "sep-2322-request-state-incomplete",
      "sep-2322-request-state-complete",
      "wire-schema-valid",
    ],
    "input-required-result-result-type": ["sep-2322-result-type-included", "wire-schema-valid"],
    "input-required-result-tampered-state": ["sep-2322-reject-tampered-state", "wire-schema-valid"],
    "input-required-result-unsupported-methods": [
      "sep-2322-not-on-unsupported-requests",
      "wire-schema-valid",
    ],
    "input-required-result-validate-input": [
      "sep-2322-validate-input-responses",
      "sep-2322-error-on-protocol-error",
      "wire-schema-valid",
    ],
    "json-schema-2020-12": [
      "json-schema-2020-12-tool-found",
      "json-schema-2020-12-$schema",
      "json-schema-2020-12-$defs",
      "json-schema-2020-12-additionalProperties",
      "sep-2106-composition-keywords-preserved",
      "sep-2106-conditional-keywords-preserved",
      "sep-2106-anchor-keyword-preserved",
      "wire-schema-valid",
    ],
    "prompts-get-embedded-resource": ["prompts-get-embedded-resource", "wire-schema-valid"],
    "prompts-get-simple": ["prompts-get-simple", "wire-schema-valid"],
    "prompts-get-with-args": ["prompts-get-with-args", "wire-schema-valid"],
    "prompts-get-with-image": ["prompts-get-with-image", "wire-schema-valid"],
    "prompts-list": ["prompts-list", "wire-schema-valid"],
    "resources-list": ["resources-list", "wire-schema-valid"],
    "resources-read-binary": ["resources-read-binary", "wire-schema-valid"],
    "resources-read-text": ["resources-read-text", "wire-schema-valid"],
    "resources-templates-read": ["resources-templates-read", "wire-schema-valid"],
    "sep-2164-resource-not-found": [
      "sep-2164-no-empty-contents",
      "sep-2164-error-code",
      "sep-2164-data-uri",
      "wire-schema-valid",
    ],
    "server-sse-multiple-streams": ["server-accepts-multiple-post-streams"],
    "server-stateless": [
      "sep-2575-request-meta-invalid-missing-meta",
      "sep-2575-http-server-meta-invalid-400",
      "sep-2575-request-meta-invalid-missing-protocol-version",
      "sep-2575-http-server-meta-invalid-400",
      "sep-2575-request-meta-invalid-missing-client-capabilities",
      "sep-2575-http-server-meta-invalid-400",
      "sep-2575-request-meta-client-info-optional",
      "sep-2575-server-implements-discover",
      "sep-2575-server-identifies-in-result-meta",
      "sep-2575-server-declares-prompts-in-discover",
      "sep-2575-discover-capabilities-match-handlers",
      "sep-2575-server-unsupported-version-error",
      "sep-2575-http-server-unsupported-version-400",
      "sep-2575-http-server-header-mismatch-400",
      "sep-2575-server-rejects-undeclared-capability",
      "sep-2575-missing-capability-http-400",
      "sep-2575-http-server-method-not-found-404-initialize",
      "sep-2575-http-server-method-not-found-404-ping",
      "sep-2575-http-server-method-not-found-404-logging-setlevel",
      "sep-2575-http-server-method-not-found-404-resources-subscribe",
      "sep-2575-http-server-method-not-found-404-resources-unsubscribe",
      "sep-2575-http-server-method-not-found-404",
      "sep-2575-http-server-no-independent-requests-on-stream",
      "sep-2575-server-no-log-without-loglevel",
      "sep-2575-server-sends-subscription-ack",
      "sep-2575-server-tags-subscription-id",
      "sep-2575-server-honors-notification-filter",
      "sep-2575-server-sends-prompts-list-changed-on-subscription",
      "sep-2575-server-sends-tools-list-changed-on-subscription",
      "sep-2575-http-server-error-jsonrpc-id",
    ],
    "tools-call-audio": ["tools-call-audio", "wire-schema-valid"],
    "tools-call-embedded-resource": ["tools-call-embedded-resource", "wire-schema-valid"],
    "tools-call-error": ["tools-call-error", "wire-schema-valid"],
    "tools-call-image": ["tools-call-image", "wire-schema-valid"],
    "tools-call-mixed-content": ["tools-call-mixed-content", "wire-schema-valid"],
    "tools-call-simple-text": ["tools-call-simple-text", "wire-schema-valid"],
    "tools-call-with-progress": ["tools-call-with-progress", "wire-schema-valid"],
    "tools-list": ["tools-list", "tools-name-format", "tools-list-deterministic-order", "wire-schema-valid"],
  },
};

/** Statuses that neither pass nor fail and are allowed: the 2026 suite's informational check. */
export const INFORMATIONAL = new Set(["server-sse-multiple-streams:server-sse-streams-functional"]);

const key = (c: Pick<CheckResult, "scenario" | "id">) => `${c.scenario}:${c.id}`;

/**
 * A run against the yardstick, check by check (ids repeat within a scenario, so as multisets):
 * `missing` are expected SUCCESS checks that did not pass, `extra` are checks that are neither expected
 * nor informational, whatever their status.
 */
export function compareWithYardstick(result: SuiteResult): {
  matched: number;
  total: number;
  missing: string[];
  extra: string[];
} {
  const expected = new Map<string, number>();
  for (const [scenario, ids] of Object.entries(EXPECTED_CHECKS[result.suite])) {
    for (const id of ids) expected.set(key({ scenario, id }), (expected.get(key({ scenario, id })) ?? 0) + 1);
  }
  const total = [...expected.values()].reduce((a, b) => a + b, 0);
  const extra: string[] = [];
  let matched = 0;
  for (const c of result.checks) {
    if (c.status !== "SUCCESS") continue;
    const left = expected.get(key(c)) ?? 0;
    if (left > 0) {
      expected.set(key(c), left - 1);
      matched++;
    } else extra.push(`${key(c)} ${c.status}`);
  }
  for (const c of result.checks) {
    if (c.status !== "SUCCESS" && !expected.has(key(c)) && !INFORMATIONAL.has(key(c)))
      extra.push(`${key(c)} ${c.status}`);
  }
  const missing = [...expected].flatMap(([k, n]) => Array.from({ length: n }, () => k));
  return { matched, total, missing, extra };
}
