import { AsyncLocalStorage } from "node:async_hooks";
import type { Kv } from "@mcp/kv";
import type { JSONRPCNotification, ServerEvent, ServerEventBus } from "@modelcontextprotocol/server";
import { instanceChannel } from "./sessions.ts";

type Listener = (event: ServerEvent) => void;

/** A change notification an upstream sent, as the SDK's listen router takes it. */
function eventOf(notification: JSONRPCNotification): ServerEvent | undefined {
  const params = notification.params as { uri?: unknown } | undefined;
  switch (notification.method) {
    case "notifications/tools/list_changed":
      return { kind: "tools_list_changed" };
    case "notifications/prompts/list_changed":
      return { kind: "prompts_list_changed" };
    case "notifications/resources/list_changed":
      return { kind: "resources_list_changed" };
    case "notifications/resources/updated":
      return typeof params?.uri === "string" ? { kind: "resource_updated", uri: params.uri } : undefined;
    default:
      return undefined;
  }
}

/**
 * The change-event bus of a relay handler's 2026-07-28 `subscriptions/listen` streams, scoped to one
 * instance: a stream opened for an instance (the request runs inside `run(instanceId, …)`, which the
 * SDK's listen router subscribes from) hears only that instance's upstream changes, which arrive through
 * the kv's instance channel from whichever edge process holds the upstream connection.
 */
export class InstanceEventBus implements ServerEventBus {
  private readonly scope = new AsyncLocalStorage<string>();
  private readonly listeners = new Map<string, { set: Set<Listener>; off: Promise<() => Promise<void>> }>();

  constructor(
    private readonly kv: Kv,
    private readonly onerror: (error: Error) => void,
  ) {}

  /** Runs one request of `instanceId`: listen streams it opens belong to that instance. */
  run<T>(instanceId: string, fn: () => T): T {
    return this.scope.run(instanceId, fn);
  }

  /** Unscoped publishing (the handler's `notify` sugar) reaches no one: every event has an instance. */
  publish(): void {}

  subscribe(listener: Listener): () => void {
    const instanceId = this.scope.getStore();
    if (!instanceId) return () => {};
    let entry = this.listeners.get(instanceId);
    if (!entry) {
      const set = new Set<Listener>();
      const off = this.kv.subscribe(instanceChannel(instanceId), (text) => {
        let event: ServerEvent | undefined;
        try {
          event = eventOf(JSON.parse(text) as JSONRPCNotification);
        } catch {
          return;
        }
        if (!event) return;
        for (const deliver of set) {
          try {
            deliver(event);
          } catch (error) {
            this.onerror(error as Error);
          }
        }
      });
      off.catch((error: Error) => this.onerror(error));
      entry = { set, off };
      this.listeners.set(instanceId, entry);
    }
    const current = entry;
    current.set.add(listener);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      current.set.delete(listener);
      if (current.set.size === 0 && this.listeners.get(instanceId) === current) {
        this.listeners.delete(instanceId);
        void current.off.then((unsubscribe) => unsubscribe()).catch(() => {});
      }
    };
  }
}
