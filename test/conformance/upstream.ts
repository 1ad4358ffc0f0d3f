/**
 * The conformance upstream: one MCP server (official TypeScript SDK v2) that implements every scenario
 * the two official server suites check — `@modelcontextprotocol/conformance` 0.1.16 (2025 era) and
 * 0.2.0-alpha.12 (`--spec-version 2026-07-28 --suite all`) — with the tool, resource and prompt names
 * those suites call. It is the yardstick for the platform's relay: it scores full marks alone, and a
 * proxied instance in front of it should score the same.
 *
 * One URL (`http://127.0.0.1:<port>/mcp`) serves both eras, as the suites require:
 * - 2026-07-28 (stateless, per-request `_meta` envelope): `createMcpHandler(factory, { legacy: "reject" })`,
 *   whose `subscriptions/listen` bus carries the list-changed notifications the trigger tools publish;
 * - the 2025 era: `isLegacyRequest` routes to sessionful `WebStandardStreamableHTTPServerTransport`s
 *   (`initialize` mints an `Mcp-Session-Id`, GET stream, DELETE, `Last-Event-ID` resumability from an
 *   in-memory event store), because sampling, elicitation, subscriptions and SSE polling need a session.
 *
 * Tools that need input from the client are written once, as multi-round-trip handlers
 * (`inputRequired(...)`): 2026 clients get `input_required` results, and on 2025 sessions the SDK's
 * legacy shim turns them into real server-to-client requests on the call's stream.
 *
 * Run standalone: `bun run test/conformance/upstream.ts [--port N]` prints the URL.
 */
import { randomUUID } from "node:crypto";
import {
  acceptedContent,
  type CallToolResult,
  completable,
  createMcpHandler,
  createRequestStateCodec,
  type EventId,
  type EventStore,
  fromJsonSchema,
  type GetPromptResult,
  hostHeaderValidationResponse,
  type InputRequest,
  inputRequired,
  isLegacyRequest,
  type JSONRPCMessage,
  localhostAllowedHostnames,
  localhostAllowedOrigins,
  McpServer,
  originValidationResponse,
  ProtocolError,
  ProtocolErrorCode,
  ResourceTemplate,
  type ServerContext,
  type StreamId,
  WebStandardStreamableHTTPServerTransport,
} from "@modelcontextprotocol/server";
import { z } from "zod";

export interface ConformanceUpstream {
  /** `http://127.0.0.1:<port>/mcp` */
  url: string;
  stop(): Promise<void>;
}

/** A 1×1 red PNG and a minimal WAV, as the suites' reference server sends them. */
const PNG_BASE64 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
const WAV_BASE64 = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";

/** The inputSchema `json-schema-2020-12` expects back verbatim (SEP-1613 and the SEP-2106 vocabulary). */
const JSON_SCHEMA_2020_12 = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  $defs: {
    address: {
      $anchor: "addressDef",
      type: "object",
      properties: { street: { type: "string" }, city: { type: "string" } },
    },
  },
  properties: {
    name: { type: "string" },
    address: { $ref: "#/$defs/address" },
    contactMethod: { type: "string", enum: ["phone", "email"] },
    phone: { type: "string" },
    email: { type: "string" },
  },
  allOf: [{ anyOf: [{ required: ["phone"] }, { required: ["email"] }] }],
  if: { properties: { contactMethod: { const: "phone" } }, required: ["contactMethod"] },
  // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then/else keyword, not a promise
  then: { required: ["phone"] },
  else: { required: ["email"] },
  additionalProperties: false,
} as const;

const text = (value: string): CallToolResult => ({ content: [{ type: "text", text: value }] });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const nameSchema = {
  type: "object" as const,
  properties: { name: { type: "string" as const } },
  required: ["name"],
};

/** What a client's answer to an embedded request looks like, loosely (values are untrusted). */
type Answer = { action?: string; content?: Record<string, unknown>; roots?: unknown[] } & Record<
  string,
  unknown
>;

function answers(ctx: ServerContext): Record<string, Answer> {
  return (ctx.mcpReq.inputResponses ?? {}) as Record<string, Answer>;
}

function samplingText(answer: Answer | undefined): string {
  const content = answer?.content as unknown;
  const first = Array.isArray(content) ? content[0] : content;
  const value = (first as { text?: unknown } | undefined)?.text;
  return typeof value === "string" ? value : "No response";
}

/** The client capabilities a request declared: the 2026 envelope, else the 2025 `initialize`. */
function declaredCapabilities(ctx: ServerContext, server: McpServer): Record<string, unknown> {
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  const fromEnvelope = envelope?.["io.modelcontextprotocol/clientCapabilities"];
  if (fromEnvelope) return fromEnvelope as Record<string, unknown>;
  return (server.server.getClientCapabilities() ?? {}) as Record<string, unknown>;
}

interface Shared {
  /** Publishes list-changed notifications to 2026 listen streams and every 2025 session. */
  toolsChanged(): void;
  promptsChanged(): void;
  /** `notifications/resources/updated` to 2026 listen streams and to the 2025 sessions subscribed to `uri`. */
  resourceUpdated(uri: string): void;
  /** 2025 sessions' resource subscriptions, by server. */
  subscriptions: WeakMap<McpServer, Set<string>>;
  codec: ReturnType<typeof createRequestStateCodec<RoundState>>;
}

interface RoundState {
  tool: string;
  round: number;
  nonce: string;
  name?: string;
}

function buildServer(shared: Shared): McpServer {
  const server = new McpServer(
    { name: "mcp-platform-conformance-upstream", version: "1.0.0" },
    {
      capabilities: {
        tools: { listChanged: true },
        resources: { subscribe: true, listChanged: true },
        prompts: { listChanged: true },
        logging: {},
        completions: {},
      },
      requestState: { verify: shared.codec.verify },
    },
  );

  // ----- tools: content shapes -----
  server.registerTool("test_simple_text", { description: "Tests simple text content response" }, () =>
    text("This is a simple text response for testing."),
  );
  server.registerTool("test_image_content", { description: "Tests image content response" }, () => ({
    content: [{ type: "image", data: PNG_BASE64, mimeType: "image/png" }],
  }));
  server.registerTool("test_audio_content", { description: "Tests audio content response" }, () => ({
    content: [{ type: "audio", data: WAV_BASE64, mimeType: "audio/wav" }],
  }));
  server.registerTool(
    "test_embedded_resource",
    { description: "Tests embedded resource content response" },
    () => ({
      content: [
        {
          type: "resource",
          resource: {
            uri: "test://embedded-resource",
            mimeType: "text/plain",
            text: "This is an embedded resource content.",
          },
        },
      ],
    }),
  );
  server.registerTool(
    "test_multiple_content_types",
    { description: "Tests response with multiple content types (text, image, resource)" },
    () => ({
      content: [
        { type: "text", text: "Multiple content types test:" },
        { type: "image", data: PNG_BASE64, mimeType: "image/png" },
        {
          type: "resource",
          resource: {
            uri: "test://mixed-content-resource",
            mimeType: "application/json",
            text: JSON.stringify({ test: "data", value: 123 }),
          },
        },
      ],
    }),
  );
  server.registerTool("test_error_handling", { description: "Tests error response handling" }, () => ({
    content: [{ type: "text", text: "This tool intentionally returns an error for testing" }],
    isError: true,
  }));
  server.registerTool(
    "json_schema_2020_12_tool",
    {
      description: "Tool with JSON Schema 2020-12 features",
      inputSchema: fromJsonSchema<Record<string, unknown>>(JSON_SCHEMA_2020_12 as never),
    },
    (args) => text(`JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`),
  );
  // SEP-2243: a string argument mirrored in an `Mcp-Param-Region` header (validated by the SDK).
  server.registerTool(
    "test_header_param",
    {
      description: "Echoes a region that clients also send as the Mcp-Param-Region header (SEP-2243)",
      inputSchema: fromJsonSchema<{ region: string }>({
        type: "object",
        properties: { region: { type: "string", "x-mcp-header": "Region" } },
        required: ["region"],
      } as never),
    },
    (args) => text(`region=${args.region}`),
  );

  // ----- tools: notifications during a call -----
  server.registerTool(
    "test_tool_with_logging",
    { description: "Tests tool that emits log messages during execution" },
    async (ctx) => {
      for (const [i, data] of [
        "Tool execution started",
        "Tool processing data",
        "Tool execution completed",
      ].entries()) {
        if (i > 0) await sleep(50);
        await ctx.mcpReq.log("info", data, "conformance-upstream");
      }
      return text("Tool with logging executed successfully");
    },
  );
  server.registerTool(
    "test_logging_tool",
    { description: "Logs only when the request set a log level" },
    async (ctx) => {
      await ctx.mcpReq.log("info", "test_logging_tool ran", "conformance-upstream");
      return text("logged (if a log level was requested)");
    },
  );
  server.registerTool(
    "test_tool_with_progress",
    { description: "Tests tool that reports progress notifications" },
    async (ctx) => {
      const progressToken = ctx.mcpReq._meta?.progressToken;
      for (const progress of [0, 50, 100]) {
        if (progress > 0) await sleep(50);
        if (progressToken !== undefined) {
          await ctx.mcpReq.notify({
            method: "notifications/progress",
            params: { progressToken, progress, total: 100, message: `Completed step ${progress} of 100` },
          });
        }
      }
      return text(`Progress tool completed (token ${String(progressToken ?? "none")})`);
    },
  );
  server.registerTool(
    "test_reconnection",
    {
      description:
        "Closes the SSE stream mid-call; the result arrives after the client reconnects (SEP-1699)",
    },
    async (ctx) => {
      ctx.http?.closeSSE?.();
      await sleep(100);
      return text(
        "Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure.",
      );
    },
  );
  server.registerTool("test_trigger_tool_change", { description: "Announces a tool list change" }, () => {
    shared.toolsChanged();
    return text("tools/list_changed published");
  });
  server.registerTool(
    "test_trigger_resource_update",
    {
      description: "Announces that a resource changed (to its 2025 subscribers and 2026 listen streams)",
      inputSchema: z.object({ uri: z.string().default("test://watched-resource") }),
    },
    ({ uri }) => {
      shared.resourceUpdated(uri);
      return text(`notifications/resources/updated published for ${uri}`);
    },
  );
  server.registerTool("test_trigger_prompt_change", { description: "Announces a prompt list change" }, () => {
    shared.promptsChanged();
    return text("prompts/list_changed published");
  });

  // ----- tools: input from the client (sampling, elicitation, roots) -----
  server.registerTool(
    "test_sampling",
    {
      description: "Tests server-initiated sampling (LLM completion request)",
      inputSchema: z.object({ prompt: z.string().describe("The prompt to send to the LLM") }),
    },
    ({ prompt }, ctx) => {
      const answer = answers(ctx).sample;
      if (!answer) {
        return inputRequired({
          inputRequests: {
            sample: inputRequired.createMessage({
              messages: [{ role: "user", content: { type: "text", text: prompt } }],
              maxTokens: 100,
            }),
          },
        });
      }
      return text(`LLM response: ${samplingText(answer)}`);
    },
  );
  const elicitResultText = (prefix: string, answer: Answer) =>
    text(`${prefix}: action=${answer.action}, content=${JSON.stringify(answer.content ?? {})}`);
  server.registerTool(
    "test_elicitation",
    {
      description: "Tests server-initiated elicitation (user input request)",
      inputSchema: z.object({ message: z.string().describe("The message to show the user") }),
    },
    ({ message }, ctx) => {
      const answer = answers(ctx).response;
      if (!answer) {
        return inputRequired({
          inputRequests: {
            response: inputRequired.elicit({
              mode: "form",
              message,
              requestedSchema: {
                type: "object",
                properties: { response: { type: "string", description: "User's response" } },
                required: ["response"],
              },
            }),
          },
        });
      }
      return elicitResultText("User response", answer);
    },
  );
  server.registerTool(
    "test_elicitation_sep1034_defaults",
    { description: "Tests elicitation with default values per SEP-1034" },
    (ctx) => {
      const answer = answers(ctx).defaults;
      if (!answer) {
        return inputRequired({
          inputRequests: {
            defaults: inputRequired.elicit({
              mode: "form",
              message: "Please review and update the form fields with defaults",
              requestedSchema: {
                type: "object",
                properties: {
                  name: { type: "string", description: "User name", default: "John Doe" },
                  age: { type: "integer", description: "User age", default: 30 },
                  score: { type: "number", description: "User score", default: 95.5 },
                  status: {
                    type: "string",
                    description: "User status",
                    enum: ["active", "inactive", "pending"],
                    default: "active",
                  },
                  verified: { type: "boolean", description: "Verification status", default: true },
                },
                required: [],
              },
            }),
          },
        });
      }
      return elicitResultText("Elicitation completed", answer);
    },
  );
  server.registerTool(
    "test_elicitation_sep1330_enums",
    { description: "Tests elicitation with enum schema improvements per SEP-1330" },
    (ctx) => {
      const answer = answers(ctx).enums;
      if (!answer) {
        return inputRequired({
          inputRequests: {
            enums: inputRequired.elicit({
              mode: "form",
              message: "Please select options from the enum fields",
              requestedSchema: {
                type: "object",
                properties: {
                  untitledSingle: {
                    type: "string",
                    description: "Select one option",
                    enum: ["option1", "option2", "option3"],
                  },
                  titledSingle: {
                    type: "string",
                    description: "Select one option with titles",
                    oneOf: [
                      { const: "value1", title: "First Option" },
                      { const: "value2", title: "Second Option" },
                      { const: "value3", title: "Third Option" },
                    ],
                  },
                  legacyEnum: {
                    type: "string",
                    description: "Select one option (legacy)",
                    enum: ["opt1", "opt2", "opt3"],
                    enumNames: ["Option One", "Option Two", "Option Three"],
                  },
                  untitledMulti: {
                    type: "array",
                    description: "Select multiple options",
                    minItems: 1,
                    maxItems: 3,
                    items: { type: "string", enum: ["option1", "option2", "option3"] },
                  },
                  titledMulti: {
                    type: "array",
                    description: "Select multiple options with titles",
                    minItems: 1,
                    maxItems: 3,
                    items: {
                      anyOf: [
                        { const: "value1", title: "First Choice" },
                        { const: "value2", title: "Second Choice" },
                        { const: "value3", title: "Third Choice" },
                      ],
                    },
                  },
                },
                required: [],
              },
            }),
          },
        });
      }
      return elicitResultText("Elicitation completed", answer);
    },
  );

  // ----- tools: the 2026-07-28 multi-round-trip scenarios (SEP-2322) and stateless probes (SEP-2575) -----
  const askName = (message: string) =>
    inputRequired.elicit({ mode: "form", message, requestedSchema: nameSchema });
  server.registerTool(
    "test_input_required_result_elicitation",
    { description: "One elicitation round, then a greeting" },
    (ctx) => {
      const name = acceptedContent(ctx.mcpReq.inputResponses, "user_name")?.name;
      if (typeof name !== "string")
        return inputRequired({ inputRequests: { user_name: askName("What is your name?") } });
      return text(`Hello, ${name}!`);
    },
  );
  server.registerTool(
    "test_input_required_result_sampling",
    { description: "One sampling round, then the model's answer" },
    (ctx) => {
      const answer = answers(ctx).capital_question;
      if (!answer) {
        return inputRequired({
          inputRequests: {
            capital_question: inputRequired.createMessage({
              messages: [{ role: "user", content: { type: "text", text: "What is the capital of France?" } }],
              maxTokens: 100,
            }),
          },
        });
      }
      return text(`The model answered: ${samplingText(answer)}`);
    },
  );
  server.registerTool(
    "test_input_required_result_list_roots",
    { description: "One roots/list round, then the roots" },
    (ctx) => {
      const answer = answers(ctx).client_roots;
      if (!Array.isArray(answer?.roots)) {
        return inputRequired({ inputRequests: { client_roots: inputRequired.listRoots() } });
      }
      const uris = (answer.roots as { uri?: string }[]).map((r) => r.uri).join(", ");
      return text(`Client roots: ${uris}`);
    },
  );
  server.registerTool(
    "test_input_required_result_request_state",
    { description: "One elicitation round with requestState" },
    async (ctx) => {
      const state = ctx.mcpReq.requestState<RoundState>();
      const ok = answers(ctx).confirm;
      if (!ok || state?.tool !== "request_state") {
        return inputRequired({
          inputRequests: {
            confirm: inputRequired.elicit({
              mode: "form",
              message: "Please confirm",
              requestedSchema: { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"] },
            }),
          },
          requestState: await shared.codec.mint({ tool: "request_state", round: 1, nonce: randomUUID() }),
        });
      }
      return text(`state-ok: confirmed=${JSON.stringify(ok.content ?? {})}`);
    },
  );
  server.registerTool(
    "test_input_required_result_multiple_inputs",
    { description: "Elicitation, sampling and roots in one round" },
    async (ctx) => {
      const got = answers(ctx);
      const state = ctx.mcpReq.requestState<RoundState>();
      if (!got.user_name || !got.greeting || !got.client_roots || state?.tool !== "multiple_inputs") {
        return inputRequired({
          inputRequests: {
            user_name: askName("What is your name?"),
            greeting: inputRequired.createMessage({
              messages: [{ role: "user", content: { type: "text", text: "Generate a greeting" } }],
              maxTokens: 50,
            }),
            client_roots: inputRequired.listRoots(),
          },
          requestState: await shared.codec.mint({ tool: "multiple_inputs", round: 1, nonce: randomUUID() }),
        });
      }
      const name = acceptedContent(got, "user_name")?.name;
      return text(`All inputs received: name=${String(name)}, greeting=${samplingText(got.greeting)}`);
    },
  );
  server.registerTool(
    "test_input_required_result_multi_round",
    { description: "Two elicitation rounds with evolving requestState" },
    async (ctx) => {
      const state = ctx.mcpReq.requestState<RoundState>();
      const step1 = acceptedContent(ctx.mcpReq.inputResponses, "step1")?.name;
      const step2 = acceptedContent(ctx.mcpReq.inputResponses, "step2")?.color;
      if (state?.tool === "multi_round" && state.round === 2 && typeof step2 === "string") {
        return text(`Multi-round complete: name=${state.name}, color=${step2}`);
      }
      if (state?.tool === "multi_round" && state.round === 1 && typeof step1 === "string") {
        return inputRequired({
          inputRequests: {
            step2: inputRequired.elicit({
              mode: "form",
              message: "Step 2: What is your favorite color?",
              requestedSchema: {
                type: "object",
                properties: { color: { type: "string" } },
                required: ["color"],
              },
            }),
          },
          requestState: await shared.codec.mint({
            tool: "multi_round",
            round: 2,
            nonce: randomUUID(),
            name: step1,
          }),
        });
      }
      return inputRequired({
        inputRequests: { step1: askName("Step 1: What is your name?") },
        requestState: await shared.codec.mint({ tool: "multi_round", round: 1, nonce: randomUUID() }),
      });
    },
  );
  server.registerTool(
    "test_input_required_result_tampered_state",
    { description: "requestState is HMAC-protected; a tampered one is refused with -32602" },
    async (ctx) => {
      const state = ctx.mcpReq.requestState<RoundState>();
      const name = acceptedContent(ctx.mcpReq.inputResponses, "user_name")?.name;
      if (state?.tool === "tampered_state" && typeof name === "string")
        return text(`state-ok: Hello, ${name}!`);
      return inputRequired({
        inputRequests: { user_name: askName("What is your name?") },
        requestState: await shared.codec.mint({ tool: "tampered_state", round: 1, nonce: randomUUID() }),
      });
    },
  );
  server.registerTool(
    "test_input_required_result_capabilities",
    { description: "Asks only for what the client declared it can answer" },
    (ctx) => {
      const got = answers(ctx);
      if (Object.keys(got).length > 0) return text(`Inputs received: ${Object.keys(got).sort().join(", ")}`);
      const caps = declaredCapabilities(ctx, server);
      const requests: Record<string, InputRequest> = {};
      if (caps.elicitation) requests.user_name = askName("What is your name?");
      if (caps.sampling) {
        requests.greeting = inputRequired.createMessage({
          messages: [{ role: "user", content: { type: "text", text: "Generate a greeting" } }],
          maxTokens: 50,
        });
      }
      if (caps.roots) requests.client_roots = inputRequired.listRoots();
      if (Object.keys(requests).length === 0)
        return text("The client declared no input capability; nothing asked");
      return inputRequired({ inputRequests: requests });
    },
  );
  server.registerTool(
    "test_missing_capability",
    { description: "Needs sampling; a client that did not declare it gets -32021" },
    (ctx) => {
      const answer = answers(ctx).probe;
      if (!answer) {
        return inputRequired({
          inputRequests: {
            probe: inputRequired.createMessage({
              messages: [{ role: "user", content: { type: "text", text: "Say hi" } }],
              maxTokens: 10,
            }),
          },
        });
      }
      return text(`sampled: ${samplingText(answer)}`);
    },
  );
  server.registerTool(
    "test_streaming_elicitation",
    { description: "Asks for input via an input_required result, never a request on the stream" },
    (ctx) => {
      const name = acceptedContent(ctx.mcpReq.inputResponses, "user_name")?.name;
      if (typeof name !== "string")
        return inputRequired({ inputRequests: { user_name: askName("What is your name?") } });
      return text(`Hello, ${name}!`);
    },
  );

  // ----- resources -----
  server.registerResource(
    "static-text",
    "test://static-text",
    {
      title: "Static Text Resource",
      description: "A static text resource for testing",
      mimeType: "text/plain",
    },
    () => ({
      contents: [
        {
          uri: "test://static-text",
          mimeType: "text/plain",
          text: "This is the content of the static text resource.",
        },
      ],
    }),
  );
  server.registerResource(
    "static-binary",
    "test://static-binary",
    {
      title: "Static Binary Resource",
      description: "A static binary resource (image)",
      mimeType: "image/png",
    },
    () => ({ contents: [{ uri: "test://static-binary", mimeType: "image/png", blob: PNG_BASE64 }] }),
  );
  server.registerResource(
    "template",
    new ResourceTemplate("test://template/{id}/data", { list: undefined }),
    {
      title: "Resource Template",
      description: "A resource template with parameter substitution",
      mimeType: "application/json",
    },
    (uri, variables) => ({
      contents: [
        {
          uri: uri.toString(),
          mimeType: "application/json",
          text: JSON.stringify({
            id: variables.id,
            templateTest: true,
            data: `Data for ID: ${variables.id}`,
          }),
        },
      ],
    }),
  );
  server.registerResource(
    "watched-resource",
    "test://watched-resource",
    { title: "Watched Resource", description: "A resource clients can subscribe to", mimeType: "text/plain" },
    () => ({
      contents: [
        { uri: "test://watched-resource", mimeType: "text/plain", text: "Watched resource content" },
      ],
    }),
  );
  // 2025 era only (the 2026 revision removed them; the SDK answers 404 / -32601 there).
  const subscribed = new Set<string>();
  shared.subscriptions.set(server, subscribed);
  server.server.setRequestHandler("resources/subscribe", (req) => {
    subscribed.add(req.params.uri);
    return {};
  });
  server.server.setRequestHandler("resources/unsubscribe", (req) => {
    subscribed.delete(req.params.uri);
    return {};
  });

  // ----- prompts -----
  server.registerPrompt(
    "test_simple_prompt",
    { title: "Simple Test Prompt", description: "A simple prompt without arguments" },
    (): GetPromptResult => ({
      messages: [{ role: "user", content: { type: "text", text: "This is a simple prompt for testing." } }],
    }),
  );
  server.registerPrompt(
    "test_prompt_with_arguments",
    {
      title: "Prompt With Arguments",
      description: "A prompt with required arguments",
      argsSchema: z.object({
        arg1: completable(z.string().describe("First test argument"), (value) =>
          ["paris", "park", "party"].filter((v) => v.startsWith(value ?? "")),
        ),
        arg2: z.string().describe("Second test argument"),
      }),
    },
    ({ arg1, arg2 }): GetPromptResult => ({
      messages: [
        {
          role: "user",
          content: { type: "text", text: `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'` },
        },
      ],
    }),
  );
  server.registerPrompt(
    "test_prompt_with_embedded_resource",
    {
      title: "Prompt With Embedded Resource",
      description: "A prompt that includes an embedded resource",
      argsSchema: z.object({ resourceUri: z.string().describe("URI of the resource to embed") }),
    },
    ({ resourceUri }): GetPromptResult => ({
      messages: [
        {
          role: "user",
          content: {
            type: "resource",
            resource: {
              uri: resourceUri,
              mimeType: "text/plain",
              text: "Embedded resource content for testing.",
            },
          },
        },
        { role: "user", content: { type: "text", text: "Please process the embedded resource above." } },
      ],
    }),
  );
  server.registerPrompt(
    "test_prompt_with_image",
    { title: "Prompt With Image", description: "A prompt that includes image content" },
    (): GetPromptResult => ({
      messages: [
        { role: "user", content: { type: "image", data: PNG_BASE64, mimeType: "image/png" } },
        { role: "user", content: { type: "text", text: "Please analyze the image above." } },
      ],
    }),
  );
  server.registerPrompt(
    "test_input_required_result_prompt",
    { title: "Prompt needing input", description: "Asks the user for context before rendering" },
    (ctx) => {
      const context = acceptedContent(ctx.mcpReq.inputResponses, "user_context")?.context;
      if (typeof context !== "string") {
        return inputRequired({
          inputRequests: {
            user_context: inputRequired.elicit({
              mode: "form",
              message: "What context should the prompt use?",
              requestedSchema: {
                type: "object",
                properties: { context: { type: "string" } },
                required: ["context"],
              },
            }),
          },
        });
      }
      return {
        messages: [{ role: "user", content: { type: "text", text: `Use this context: ${context}` } }],
      };
    },
  );

  return server;
}

/** An in-memory event store for 2025 sessions (SEP-1699 resumability), bounded per stream. */
function createEventStore(): EventStore {
  const events = new Map<StreamId, { id: EventId; message: JSONRPCMessage }[]>();
  let seq = 0;
  return {
    async storeEvent(streamId, message) {
      const id = `${streamId}::${String(++seq).padStart(12, "0")}`;
      const list = events.get(streamId) ?? [];
      list.push({ id, message });
      if (list.length > 1000) list.shift();
      events.set(streamId, list);
      return id;
    },
    async getStreamIdForEventId(eventId) {
      return eventId.split("::")[0];
    },
    async replayEventsAfter(lastEventId, { send }) {
      const streamId = lastEventId.split("::")[0] ?? "";
      for (const event of events.get(streamId) ?? []) {
        if (event.id > lastEventId) await send(event.id, event.message);
      }
      return streamId;
    },
  };
}

function jsonRpcError(status: number, code: number, message: string): Response {
  return Response.json({ jsonrpc: "2.0", error: { code, message }, id: null }, { status });
}

export async function startConformanceUpstream(opts: { port?: number } = {}): Promise<ConformanceUpstream> {
  const sessions = new Map<
    string,
    { transport: WebStandardStreamableHTTPServerTransport; server: McpServer }
  >();
  const codec = createRequestStateCodec<RoundState>({
    key: crypto.getRandomValues(new Uint8Array(32)),
    ttlSeconds: 600,
  });
  // `modern` is assigned below; the trigger tools only run once it exists.
  let modern: ReturnType<typeof createMcpHandler> | undefined;
  const shared: Shared = {
    codec,
    toolsChanged() {
      modern?.notify.toolsChanged();
      for (const { server } of sessions.values()) server.sendToolListChanged();
    },
    promptsChanged() {
      modern?.notify.promptsChanged();
      for (const { server } of sessions.values()) server.sendPromptListChanged();
    },
    resourceUpdated(uri) {
      modern?.notify.resourceUpdated(uri);
      for (const { server } of sessions.values()) {
        if (shared.subscriptions.get(server)?.has(uri))
          server.server.sendResourceUpdated({ uri }).catch(() => {});
      }
    },
    subscriptions: new WeakMap(),
  };
  modern = createMcpHandler(() => buildServer(shared), { legacy: "reject" });

  async function legacy(req: Request): Promise<Response> {
    const sessionId = req.headers.get("mcp-session-id");
    if (sessionId) {
      const session = sessions.get(sessionId);
      if (!session) return jsonRpcError(404, -32001, "Session not found");
      return session.transport.handleRequest(req);
    }
    if (req.method !== "POST")
      return jsonRpcError(400, -32000, "Bad Request: Mcp-Session-Id header is required");
    const body = (await req
      .clone()
      .json()
      .catch(() => undefined)) as { method?: unknown } | undefined;
    if (body?.method !== "initialize") {
      return jsonRpcError(400, -32000, "Bad Request: Mcp-Session-Id header is required");
    }
    const server = buildServer(shared);
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: createEventStore(),
      retryInterval: 500,
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, server });
      },
      onsessionclosed: (id) => {
        sessions.delete(id);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    return transport.handleRequest(req, { parsedBody: body });
  }

  const allowedHosts = localhostAllowedHostnames();
  const allowedOrigins = localhostAllowedOrigins();
  const http = Bun.serve({
    hostname: "127.0.0.1",
    port: opts.port ?? 0,
    idleTimeout: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path !== "/mcp") return new Response("Not Found", { status: 404 });
      const rejected =
        hostHeaderValidationResponse(req, allowedHosts) ?? originValidationResponse(req, allowedOrigins);
      if (rejected) return rejected;
      try {
        if (await isLegacyRequest(req)) return await legacy(req);
        return await (modern as ReturnType<typeof createMcpHandler>).fetch(req);
      } catch (error) {
        if (error instanceof ProtocolError) return jsonRpcError(400, error.code, error.message);
        return jsonRpcError(500, ProtocolErrorCode.InternalError, "Internal error");
      }
    },
  });

  return {
    url: `http://127.0.0.1:${http.port}/mcp`,
    async stop() {
      for (const { transport, server } of [...sessions.values()]) {
        await transport.close().catch(() => {});
        await server.close().catch(() => {});
      }
      sessions.clear();
      await modern?.close();
      http.stop(true);
    },
  };
}

async function main() {
  const i = process.argv.indexOf("--port");
  const port = i > 0 ? Number(process.argv[i + 1]) : undefined;
  const upstream = await startConformanceUpstream({ port });
  console.log(upstream.url);
  const stop = async () => {
    await upstream.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (import.meta.main) await main();
