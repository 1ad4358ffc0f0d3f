// A fake Linear GraphQL API (https://api.linear.app/graphql) for the service suite. It does what Linear
// does with a request: checks the `Authorization: <personal API key>` header (no Bearer), parses the
// GraphQL document (operation, variables, root field arguments, selection sets), runs the root field on
// the key's own workspace and answers with exactly the selected fields. Failures have Linear's shapes:
// a bad key is HTTP 400 with AUTHENTICATION_ERROR, a missing entity HTTP 200 with `data: null` and an
// INPUT_ERROR "Entity not found: Issue", an unknown field HTTP 400 with GRAPHQL_VALIDATION_FAILED.
// Lists are Relay connections: `first` (default 50), `after` = a node id, `pageInfo { hasNextPage endCursor }`.
import { type FakeUpstream, json, type RecordedUpstreamRequest, startFakeUpstream } from "./upstream.ts";

// ---------------------------------------------------------------------------------------------------------
// Errors, as Linear words them.

class GraphQLFailure extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly extensions: Record<string, unknown>,
    readonly path?: string[],
  ) {
    super(message);
  }
}

const AUTH_ERROR = {
  message: "Authentication required, not authenticated",
  extensions: {
    type: "authentication error",
    code: "AUTHENTICATION_ERROR",
    statusCode: 401,
    userError: true,
    userPresentableMessage: "You need to authenticate to access this operation.",
  },
};

/** Linear's answer to a missing, unknown or revoked key: HTTP 400 with AUTHENTICATION_ERROR. */
export const authenticationError = (): Response => json({ errors: [AUTH_ERROR] }, 400);

/**
 * Linear's answer once a key's request or complexity budget is spent (leaky bucket): HTTP 400 with RATELIMITED
 * (statusCode 429 in the extensions), and the spent budget's headers, its reset in epoch milliseconds (Linear's
 * SDK reads `x-ratelimit-requests-reset` as such: linear/linear, packages/sdk/src/error.ts).
 */
export const ratelimitedError = (resetInMs = 45_000): Response =>
  json(
    {
      errors: [
        {
          message: "Rate limit exceeded",
          extensions: {
            type: "ratelimited",
            code: "RATELIMITED",
            statusCode: 429,
            userError: true,
            userPresentableMessage: "Too many requests: wait a while before trying again.",
          },
        },
      ],
    },
    400,
    {
      "x-ratelimit-requests-limit": "5000",
      "x-ratelimit-requests-remaining": "0",
      "x-ratelimit-requests-reset": String(Date.now() + resetInMs),
    },
  );

const notFound = (entity: string, path: string): GraphQLFailure =>
  new GraphQLFailure(
    `Entity not found: ${entity}`,
    200,
    {
      type: "invalid input",
      code: "INPUT_ERROR",
      statusCode: 400,
      userError: true,
      userPresentableMessage: `Could not find referenced ${entity}.`,
    },
    [path],
  );

const invalidInput = (message: string, path: string): GraphQLFailure =>
  new GraphQLFailure(
    message,
    200,
    {
      type: "invalid input",
      code: "INPUT_ERROR",
      statusCode: 400,
      userError: true,
      userPresentableMessage: message,
    },
    [path],
  );

const invalidQuery = (message: string): GraphQLFailure =>
  new GraphQLFailure(message, 400, {
    type: "graphql error",
    code: "GRAPHQL_VALIDATION_FAILED",
    userError: true,
  });

// ---------------------------------------------------------------------------------------------------------
// A small GraphQL reader: one operation, variables, field arguments and selection sets (no fragments).

type Value = unknown;
interface Field {
  name: string;
  args: Record<string, ArgNode>;
  selections?: Field[];
}
type ArgNode =
  | { kind: "var"; name: string }
  | { kind: "literal"; value: Value }
  | { kind: "object"; fields: Record<string, ArgNode> }
  | { kind: "list"; items: ArgNode[] };
interface Operation {
  type: "query" | "mutation";
  name?: string;
  /** Declared variables and their types, e.g. `term` → `String!`. */
  variables: Map<string, string>;
  selections: Field[];
}

function tokenize(source: string): string[] {
  const tokens: string[] = [];
  const re =
    /\s+|,|#[^\n]*|("(?:[^"\\]|\\.)*"|\.\.\.|[{}():!$[\]=@]|-?\d+(?:\.\d+)?|[A-Za-z_][A-Za-z0-9_]*)/gy;
  let match: RegExpExecArray | null;
  let at = 0;
  while (at < source.length) {
    re.lastIndex = at;
    match = re.exec(source);
    if (!match) throw invalidQuery(`Syntax Error: Unexpected character "${source[at]}".`);
    if (match[1] !== undefined) tokens.push(match[1]);
    at = re.lastIndex;
  }
  return tokens;
}

function parseOperation(source: string): Operation {
  const t = tokenize(source);
  let i = 0;
  const peek = () => t[i];
  const next = () => {
    const token = t[i++];
    if (token === undefined) throw invalidQuery("Syntax Error: Unexpected <EOF>.");
    return token;
  };
  const expect = (token: string) => {
    const got = next();
    if (got !== token) throw invalidQuery(`Syntax Error: Expected "${token}", found "${got}".`);
  };
  const isName = (token: string | undefined) => token !== undefined && /^[A-Za-z_]/.test(token);
  const used = new Set<string>();

  function value(): ArgNode {
    const token = next();
    if (token === "$") {
      const name = next();
      used.add(name);
      return { kind: "var", name };
    }
    if (token === "{") {
      const fields: Record<string, ArgNode> = {};
      while (peek() !== "}") {
        const name = next();
        expect(":");
        fields[name] = value();
      }
      next();
      return { kind: "object", fields };
    }
    if (token === "[") {
      const items: ArgNode[] = [];
      while (peek() !== "]") items.push(value());
      next();
      return { kind: "list", items };
    }
    if (token.startsWith('"')) return { kind: "literal", value: JSON.parse(token) };
    if (/^-?\d/.test(token)) return { kind: "literal", value: Number(token) };
    if (token === "true" || token === "false") return { kind: "literal", value: token === "true" };
    if (token === "null") return { kind: "literal", value: null };
    return { kind: "literal", value: token }; // an enum value
  }

  function selectionSet(): Field[] {
    expect("{");
    const fields: Field[] = [];
    while (peek() !== "}") {
      const name = next();
      if (!isName(name)) throw invalidQuery(`Syntax Error: Unexpected "${name}".`);
      const args: Record<string, ArgNode> = {};
      if (peek() === "(") {
        next();
        while (peek() !== ")") {
          const arg = next();
          expect(":");
          args[arg] = value();
        }
        next();
      }
      fields.push({ name, args, selections: peek() === "{" ? selectionSet() : undefined });
    }
    next();
    return fields;
  }

  let type: Operation["type"] = "query";
  let name: string | undefined;
  const variables = new Map<string, string>();
  if (peek() === "query" || peek() === "mutation") {
    type = next() as Operation["type"];
    if (isName(peek())) name = next();
    if (peek() === "(") {
      next();
      while (peek() !== ")") {
        expect("$");
        const variable = next();
        expect(":");
        // The type: a name, a list of it, each possibly non-null (a default value is skipped).
        let type = "";
        while (peek() !== "$" && peek() !== ")" && peek() !== "=") type += next();
        if (peek() === "=") while (peek() !== "$" && peek() !== ")") next();
        variables.set(variable, type);
      }
      next();
    }
  }
  const selections = selectionSet();
  if (i !== t.length) throw invalidQuery(`Syntax Error: Unexpected "${t[i]}".`);
  for (const variable of variables.keys()) {
    if (!used.has(variable)) {
      throw invalidQuery(`Variable "$${variable}" is never used in operation "${name ?? ""}".`);
    }
  }
  return { type, name, variables, selections };
}

type Declared = Map<string, string>;

function resolveArg(node: ArgNode, vars: Record<string, Value>, declared: Declared): Value {
  switch (node.kind) {
    case "var":
      if (!declared.has(node.name)) throw invalidQuery(`Variable "$${node.name}" is not defined.`);
      return vars[node.name];
    case "literal":
      return node.value;
    case "object": {
      const out: Record<string, Value> = {};
      for (const [k, v] of Object.entries(node.fields)) {
        const resolved = resolveArg(v, vars, declared);
        if (resolved !== undefined) out[k] = resolved;
      }
      return out;
    }
    case "list":
      return node.items.map((item) => resolveArg(item, vars, declared));
  }
}

const resolveArgs = (field: Field, vars: Record<string, Value>, declared: Declared) =>
  Object.fromEntries(
    Object.entries(field.args)
      .map(([k, v]) => [k, resolveArg(v, vars, declared)] as const)
      .filter(([, v]) => v !== undefined && v !== null),
  ) as Record<string, Value>;

/** A resolved object: plain values, or functions of the field's arguments (connections). */
type Node = { __typename: string } & Record<string, unknown>;
type Resolver = (args: Record<string, Value>) => unknown;

/** Exactly the selected fields of `value`, as GraphQL would return them. */
function project(
  value: unknown,
  selections: Field[] | undefined,
  vars: Record<string, Value>,
  declared: Declared,
): unknown {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.map((item) => project(item, selections, vars, declared));
  if (typeof value !== "object") {
    if (selections) throw invalidQuery("Field must not have a selection since it has no subfields.");
    return value;
  }
  const node = value as Node;
  if (!selections)
    throw invalidQuery(`Field of type "${node.__typename}" must have a selection of subfields.`);
  const out: Record<string, unknown> = {};
  for (const field of selections) {
    if (field.name === "__typename") {
      out.__typename = node.__typename;
      continue;
    }
    if (!Object.hasOwn(node, field.name) || field.name.startsWith("_")) {
      throw invalidQuery(`Cannot query field "${field.name}" on type "${node.__typename}".`);
    }
    const raw = node[field.name];
    const resolved = typeof raw === "function" ? (raw as Resolver)(resolveArgs(field, vars, declared)) : raw;
    out[field.name] = project(resolved, field.selections, vars, declared);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Filters: Linear's comparators (eq, neq, in, nin, eqIgnoreCase, containsIgnoreCase, ...) and nested filters.

const COMPARATORS = new Set([
  "eq",
  "neq",
  "in",
  "nin",
  "eqIgnoreCase",
  "neqIgnoreCase",
  "contains",
  "containsIgnoreCase",
  "notContains",
  "startsWith",
  "endsWith",
  "null",
  "gt",
  "gte",
  "lt",
  "lte",
]);
const lower = (v: unknown) => String(v).toLowerCase();

function compare(actual: unknown, comparator: Record<string, unknown>): boolean {
  return Object.entries(comparator).every(([op, expected]) => {
    switch (op) {
      case "eq":
        return actual === expected;
      case "neq":
        return actual !== expected;
      case "in":
        return Array.isArray(expected) && expected.includes(actual);
      case "nin":
        return Array.isArray(expected) && !expected.includes(actual);
      case "eqIgnoreCase":
        return actual != null && lower(actual) === lower(expected);
      case "neqIgnoreCase":
        return actual == null || lower(actual) !== lower(expected);
      case "contains":
        return actual != null && String(actual).includes(String(expected));
      case "containsIgnoreCase":
        return actual != null && lower(actual).includes(lower(expected));
      case "notContains":
        return actual == null || !String(actual).includes(String(expected));
      case "startsWith":
        return actual != null && String(actual).startsWith(String(expected));
      case "endsWith":
        return actual != null && String(actual).endsWith(String(expected));
      case "null":
        return (actual == null) === expected;
      case "gt":
        return Number(actual) > Number(expected);
      case "gte":
        return Number(actual) >= Number(expected);
      case "lt":
        return Number(actual) < Number(expected);
      case "lte":
        return Number(actual) <= Number(expected);
      default:
        return false;
    }
  });
}

/** Whether `node` matches a Linear filter input (`typeName` names it in errors, as Linear's validation would). */
function matches(node: Node | null, filter: unknown, typeName: string): boolean {
  if (typeof filter !== "object" || filter === null)
    throw invalidQuery(`Expected type "${typeName}" to be an object.`);
  const entries = Object.entries(filter as Record<string, unknown>);
  if (node === null) {
    // A nullable relation: only `null: true` matches its absence.
    return entries.every(([k, v]) => k === "null" && v === true);
  }
  return entries.every(([key, sub]) => {
    if (key === "and") return (sub as unknown[]).every((f) => matches(node, f, typeName));
    if (key === "or") return (sub as unknown[]).some((f) => matches(node, f, typeName));
    if (key === "null") return sub === false;
    // Filter-only fields (e.g. a project's accessibleTeams) live under `_filter`.
    const filterOnly = (node._filter as Record<string, unknown> | undefined) ?? {};
    const present = Object.hasOwn(node, key) || Object.hasOwn(filterOnly, key);
    if (!present || key.startsWith("_")) {
      throw invalidQuery(`Field "${key}" is not defined by type "${typeName}".`);
    }
    const actual = Object.hasOwn(filterOnly, key) ? filterOnly[key] : node[key];
    const keys = Object.keys(sub as object);
    if (keys.length > 0 && keys.every((k) => COMPARATORS.has(k))) {
      return compare(actual, sub as Record<string, unknown>);
    }
    if (Array.isArray(actual)) {
      // A collection filter: `some` / `every` over the related nodes.
      const { some, every } = sub as { some?: unknown; every?: unknown };
      if (some === undefined && every === undefined)
        throw invalidQuery(`Expected "some" or "every" on "${key}".`);
      return (
        (some === undefined || actual.some((n) => matches(n as Node, some, `${key}Filter`))) &&
        (every === undefined || actual.every((n) => matches(n as Node, every, `${key}Filter`)))
      );
    }
    return matches((actual as Node | null) ?? null, sub, `${key[0]?.toUpperCase()}${key.slice(1)}Filter`);
  });
}

// ---------------------------------------------------------------------------------------------------------
// The data: one workspace per accepted key.

export interface FakeLinearUser {
  id: string;
  name: string;
  displayName: string;
  email: string;
  admin: boolean;
  active: boolean;
}
export interface FakeLinearTeam {
  id: string;
  key: string;
  name: string;
  description: string | null;
  private: boolean;
  createdAt: string;
  issueCount: number;
}
export interface FakeLinearState {
  id: string;
  teamId: string;
  name: string;
  type: "triage" | "backlog" | "unstarted" | "started" | "completed" | "canceled";
  color: string;
  position: number;
  createdAt: string;
}
export interface FakeLinearProject {
  id: string;
  name: string;
  description: string;
  slug: string;
  teamIds: string[];
  leadId: string | null;
  status: { id: string; name: string; type: string };
  progress: number;
  startDate: string | null;
  targetDate: string | null;
  createdAt: string;
  updatedAt: string;
  archivedAt: string | null;
}
export interface FakeLinearIssue {
  id: string;
  teamId: string;
  number: number;
  title: string;
  description: string | null;
  priority: number;
  estimate: number | null;
  stateId: string;
  assigneeId: string | null;
  creatorId: string;
  projectId: string | null;
  parentId: string | null;
  labelIds: string[];
  dueDate: string | null;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  completedAt: string | null;
  canceledAt: string | null;
  archivedAt: string | null;
}
export interface FakeLinearComment {
  id: string;
  issueId: string;
  userId: string;
  parentId: string | null;
  body: string;
  createdAt: string;
  updatedAt: string;
}
export interface FakeLinearWorkspace {
  urlKey: string;
  viewer: FakeLinearUser;
  users: FakeLinearUser[];
  teams: FakeLinearTeam[];
  states: FakeLinearState[];
  projects: FakeLinearProject[];
  labels: { id: string; name: string; color: string; teamId: string | null }[];
  issues: FakeLinearIssue[];
  comments: FakeLinearComment[];
}

export interface FakeLinearAccount {
  name: string;
  email: string;
  /** The workspace's URL key (linear.app/<urlKey>/...). */
  urlKey?: string;
}

const PRIORITY_LABELS = ["No priority", "Urgent", "High", "Medium", "Low"];
const slug = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 60);
const at = (minutes: number) => new Date(Date.UTC(2026, 0, 5, 9, 0) + minutes * 60_000).toISOString();

function seedWorkspace(account: FakeLinearAccount): FakeLinearWorkspace {
  const id = () => crypto.randomUUID();
  const urlKey = account.urlKey ?? slug(account.name.split(" ")[0] ?? "workspace");
  const viewer: FakeLinearUser = {
    id: id(),
    name: account.name,
    displayName: slug(account.name).replaceAll("-", ""),
    email: account.email,
    admin: true,
    active: true,
  };
  const teammate: FakeLinearUser = {
    id: id(),
    name: "Grace Hopper",
    displayName: "grace",
    email: `grace@${urlKey}.example`,
    admin: false,
    active: true,
  };
  const former: FakeLinearUser = {
    id: id(),
    name: "Former Member",
    displayName: "former",
    email: `former@${urlKey}.example`,
    admin: false,
    active: false,
  };
  const eng: FakeLinearTeam = {
    id: id(),
    key: "ENG",
    name: "Engineering",
    description: "Product engineering",
    private: false,
    createdAt: at(0),
    issueCount: 0,
  };
  const des: FakeLinearTeam = {
    id: id(),
    key: "DES",
    name: "Design",
    description: null,
    private: false,
    createdAt: at(1),
    issueCount: 0,
  };
  const states: FakeLinearState[] = [];
  for (const team of [eng, des]) {
    for (const [i, [name, type, color]] of (
      [
        ["Backlog", "backlog", "#bec2c8"],
        ["Todo", "unstarted", "#e2e2e2"],
        ["In Progress", "started", "#f2c94c"],
        ["Done", "completed", "#5e6ad2"],
        ["Canceled", "canceled", "#95a2b3"],
      ] as const
    ).entries()) {
      states.push({ id: id(), teamId: team.id, name, type, color, position: i, createdAt: team.createdAt });
    }
  }
  const state = (team: FakeLinearTeam, name: string) => {
    const found = states.find((s) => s.teamId === team.id && s.name === name);
    if (!found) throw new Error(name);
    return found;
  };
  const projects: FakeLinearProject[] = [
    {
      id: id(),
      name: "Mobile app",
      description: "Ship the iOS and Android apps",
      slug: "mobile-app-1a2b3c4d5e6f",
      teamIds: [eng.id],
      leadId: viewer.id,
      status: { id: id(), name: "In Progress", type: "started" },
      progress: 0.4,
      startDate: "2026-01-05",
      targetDate: "2026-03-31",
      createdAt: at(2),
      updatedAt: at(500),
      archivedAt: null,
    },
    {
      id: id(),
      name: "Website redesign",
      description: "New marketing site",
      slug: "website-redesign-0f9e8d7c6b5a",
      teamIds: [eng.id, des.id],
      leadId: teammate.id,
      status: { id: id(), name: "Planned", type: "planned" },
      progress: 0,
      startDate: null,
      targetDate: "2026-06-30",
      createdAt: at(3),
      updatedAt: at(3),
      archivedAt: null,
    },
    {
      id: id(),
      name: "Old intranet",
      description: "Retired",
      slug: "old-intranet-112233445566",
      teamIds: [des.id],
      leadId: null,
      status: { id: id(), name: "Completed", type: "completed" },
      progress: 1,
      startDate: "2025-01-01",
      targetDate: "2025-06-30",
      createdAt: at(4),
      updatedAt: at(4),
      archivedAt: at(5),
    },
  ];
  const labels = [
    { id: id(), name: "Bug", color: "#eb5757", teamId: null },
    { id: id(), name: "Feature", color: "#bb87fc", teamId: null },
  ];
  const ws: FakeLinearWorkspace = {
    urlKey,
    viewer,
    users: [viewer, teammate, former],
    teams: [eng, des],
    states,
    projects,
    labels,
    issues: [],
    comments: [],
  };
  const seed: [FakeLinearTeam, string, string, number, FakeLinearUser | null, number, string[]][] = [
    [eng, "Login fails on Safari", "Todo", 1, viewer, 0, ["Bug"]],
    [eng, "Add dark mode", "In Progress", 3, viewer, 0, ["Feature"]],
    [eng, "Crash when uploading avatars", "Backlog", 2, teammate, 0, ["Bug"]],
    [eng, "Refactor billing module", "Todo", 4, null, -1, []],
    [eng, "Update onboarding copy", "Done", 0, teammate, 1, []],
    [eng, "Push notifications", "Backlog", 3, viewer, 0, ["Feature"]],
    [eng, "Flaky checkout test", "Canceled", 4, null, -1, ["Bug"]],
    [des, "Homepage hero illustration", "In Progress", 2, teammate, 1, []],
    [des, "Icon set for settings", "Todo", 3, viewer, -1, []],
  ];
  for (const [n, [team, title, stateName, priority, assignee, project, labelNames]] of seed.entries()) {
    const s = state(team, stateName);
    team.issueCount += 1;
    const created = at(10 + n * 60);
    ws.issues.push({
      id: id(),
      teamId: team.id,
      number: team.issueCount,
      title,
      description: `${title}.\n\nSteps and context for **${title.toLowerCase()}**.`,
      priority,
      estimate: null,
      stateId: s.id,
      assigneeId: assignee?.id ?? null,
      creatorId: viewer.id,
      projectId: project >= 0 ? (projects[project]?.id ?? null) : null,
      parentId: null,
      labelIds: labels.filter((l) => labelNames.includes(l.name)).map((l) => l.id),
      dueDate: n === 0 ? "2026-02-01" : null,
      createdAt: created,
      updatedAt: at(10 + n * 60 + 5),
      startedAt: s.type === "started" ? at(10 + n * 60 + 5) : null,
      completedAt: s.type === "completed" ? at(10 + n * 60 + 5) : null,
      canceledAt: s.type === "canceled" ? at(10 + n * 60 + 5) : null,
      archivedAt: null,
    });
  }
  const first = ws.issues[0];
  if (first) {
    ws.comments.push(
      {
        id: id(),
        issueId: first.id,
        userId: teammate.id,
        parentId: null,
        body: "Reproduced on Safari 18.",
        createdAt: at(100),
        updatedAt: at(100),
      },
      {
        id: id(),
        issueId: first.id,
        userId: viewer.id,
        parentId: null,
        body: "Looking into it.",
        createdAt: at(120),
        updatedAt: at(120),
      },
    );
  }
  return ws;
}

// ---------------------------------------------------------------------------------------------------------
// Resolvers: workspace records as GraphQL nodes.

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function connection(typename: string, nodes: Node[], args: Record<string, Value>, path: string): Node {
  const first = args.first === undefined ? 50 : Number(args.first);
  if (!Number.isInteger(first) || first < 0 || first > 250) {
    throw invalidInput("Argument Validation Error: first must not be greater than 250", path);
  }
  let start = 0;
  if (typeof args.after === "string") {
    const index = nodes.findIndex((n) => n.id === args.after);
    if (index === -1) throw invalidInput("Cursor not found", path);
    start = index + 1;
  }
  const page = nodes.slice(start, start + first);
  const last = page.at(-1);
  return {
    __typename: typename,
    nodes: page,
    edges: page.map((node) => ({
      __typename: `${typename.replace("Connection", "")}Edge`,
      node,
      cursor: node.id,
    })),
    pageInfo: {
      __typename: "PageInfo",
      hasNextPage: start + first < nodes.length,
      hasPreviousPage: start > 0,
      startCursor: page[0]?.id ?? null,
      endCursor: last ? last.id : null,
    },
  };
}

/** Newest first by `orderBy` (createdAt by default), as a stable order for the cursors. */
const ordered = <T extends { createdAt: string; updatedAt: string }>(items: T[], orderBy: unknown): T[] => {
  const key = orderBy === "updatedAt" ? "updatedAt" : "createdAt";
  return [...items].sort((a, b) => b[key].localeCompare(a[key]));
};

class Workspace {
  constructor(readonly ws: FakeLinearWorkspace) {}

  user(id: string | null): Node | null {
    const u = this.ws.users.find((x) => x.id === id);
    if (!u) return null;
    return {
      __typename: "User",
      ...u,
      url: `https://linear.app/${this.ws.urlKey}/profiles/${u.displayName}`,
      isMe: u.id === this.ws.viewer.id,
      createdAt: at(0),
      updatedAt: at(0),
      assignedIssues: (args: Record<string, Value>) =>
        connection(
          "IssueConnection",
          this.ws.issues.filter((i) => i.assigneeId === u.id).map((i) => this.issue(i)),
          args,
          "assignedIssues",
        ),
    };
  }

  team(id: string | null): Node | null {
    const t = this.ws.teams.find((x) => x.id === id);
    if (!t) return null;
    return {
      __typename: "Team",
      id: t.id,
      key: t.key,
      name: t.name,
      description: t.description,
      private: t.private,
      createdAt: t.createdAt,
      updatedAt: t.createdAt,
      archivedAt: null,
      issueCount: this.ws.issues.filter((i) => i.teamId === t.id).length,
      states: (args: Record<string, Value>) =>
        connection(
          "WorkflowStateConnection",
          this.ws.states.filter((s) => s.teamId === t.id).map((s) => this.state(s.id) as Node),
          args,
          "states",
        ),
    };
  }

  state(id: string | null): Node | null {
    const s = this.ws.states.find((x) => x.id === id);
    if (!s) return null;
    return {
      __typename: "WorkflowState",
      id: s.id,
      name: s.name,
      type: s.type,
      color: s.color,
      position: s.position,
      description: null,
      createdAt: s.createdAt,
      updatedAt: s.createdAt,
      archivedAt: null,
      team: this.team(s.teamId),
    };
  }

  project(id: string | null): Node | null {
    const p = this.ws.projects.find((x) => x.id === id);
    if (!p) return null;
    const teams = p.teamIds.map((t) => this.team(t) as Node);
    return {
      __typename: "Project",
      id: p.id,
      name: p.name,
      description: p.description,
      slugId: p.slug.split("-").at(-1),
      url: `https://linear.app/${this.ws.urlKey}/project/${p.slug}`,
      progress: p.progress,
      startDate: p.startDate,
      targetDate: p.targetDate,
      createdAt: p.createdAt,
      updatedAt: p.updatedAt,
      archivedAt: p.archivedAt,
      status: { __typename: "ProjectStatus", ...p.status },
      lead: this.user(p.leadId),
      teams: (args: Record<string, Value>) => connection("TeamConnection", teams, args, "teams"),
      _filter: { accessibleTeams: teams },
    };
  }

  label(id: string): Node | null {
    const l = this.ws.labels.find((x) => x.id === id);
    return l ? { __typename: "IssueLabel", id: l.id, name: l.name, color: l.color } : null;
  }

  comment(c: FakeLinearComment): Node {
    const issue = this.ws.issues.find((i) => i.id === c.issueId);
    return {
      __typename: "Comment",
      id: c.id,
      body: c.body,
      createdAt: c.createdAt,
      updatedAt: c.updatedAt,
      editedAt: null,
      url: issue ? `${this.issueUrl(issue)}#comment-${c.id.slice(0, 8)}` : null,
      user: this.user(c.userId),
      issue: issue ? this.issue(issue) : null,
      parent: c.parentId
        ? this.comment(this.ws.comments.find((x) => x.id === c.parentId) as FakeLinearComment)
        : null,
    };
  }

  identifier(i: FakeLinearIssue): string {
    return `${this.ws.teams.find((t) => t.id === i.teamId)?.key}-${i.number}`;
  }

  issueUrl(i: FakeLinearIssue): string {
    return `https://linear.app/${this.ws.urlKey}/issue/${this.identifier(i)}/${slug(i.title)}`;
  }

  issue(i: FakeLinearIssue, typename = "Issue"): Node {
    const identifier = this.identifier(i);
    return {
      __typename: typename,
      id: i.id,
      identifier,
      number: i.number,
      title: i.title,
      description: i.description,
      priority: i.priority,
      priorityLabel: PRIORITY_LABELS[i.priority],
      estimate: i.estimate,
      url: this.issueUrl(i),
      branchName: `${this.ws.viewer.displayName}/${identifier.toLowerCase()}-${slug(i.title)}`,
      dueDate: i.dueDate,
      createdAt: i.createdAt,
      updatedAt: i.updatedAt,
      startedAt: i.startedAt,
      completedAt: i.completedAt,
      canceledAt: i.canceledAt,
      archivedAt: i.archivedAt,
      state: this.state(i.stateId),
      assignee: this.user(i.assigneeId),
      creator: this.user(i.creatorId),
      team: this.team(i.teamId),
      project: this.project(i.projectId),
      parent: i.parentId
        ? this.issue(this.ws.issues.find((x) => x.id === i.parentId) as FakeLinearIssue)
        : null,
      labels: (args: Record<string, Value>) =>
        connection(
          "IssueLabelConnection",
          i.labelIds.map((l) => this.label(l) as Node),
          args,
          "labels",
        ),
      comments: (args: Record<string, Value>) =>
        connection(
          "CommentConnection",
          this.ws.comments.filter((c) => c.issueId === i.id).map((c) => this.comment(c)),
          args,
          "comments",
        ),
    };
  }

  /** `issue(id:)` and the mutations take a UUID or an identifier like ENG-123. */
  findIssue(ref: unknown, path: string): FakeLinearIssue {
    if (typeof ref !== "string")
      throw invalidQuery('Variable "$id" of required type "String!" was not provided.');
    const found = UUID_RE.test(ref)
      ? this.ws.issues.find((i) => i.id === ref.toLowerCase())
      : this.ws.issues.find((i) => this.identifier(i).toLowerCase() === ref.toLowerCase());
    if (!found) throw notFound("Issue", path);
    return found;
  }

  // ----- root fields -----

  viewer(): Node {
    return this.user(this.ws.viewer.id) as Node;
  }

  issues(args: Record<string, Value>): Node {
    const all = ordered(
      this.ws.issues.filter((i) => args.includeArchived === true || i.archivedAt === null),
      args.orderBy,
    ).map((i) => this.issue(i));
    const filtered =
      args.filter === undefined ? all : all.filter((n) => matches(n, args.filter, "IssueFilter"));
    return connection("IssueConnection", filtered, args, "issues");
  }

  searchIssues(args: Record<string, Value>): Node {
    if (typeof args.term !== "string")
      throw invalidQuery('Variable "$term" of required type "String!" was not provided.');
    const words = args.term.toLowerCase().split(/\s+/).filter(Boolean);
    const hits = ordered(this.ws.issues, "updatedAt").filter((i) => {
      if (typeof args.teamId === "string" && i.teamId !== args.teamId) return false;
      const comments =
        args.includeComments === true
          ? this.ws.comments
              .filter((c) => c.issueId === i.id)
              .map((c) => c.body)
              .join(" ")
          : "";
      const text = `${this.identifier(i)} ${i.title} ${i.description ?? ""} ${comments}`.toLowerCase();
      return words.every((w) => text.includes(w));
    });
    const page = connection(
      "IssueSearchPayload",
      hits.map((i) => this.issue(i, "IssueSearchResult")),
      args,
      "searchIssues",
    );
    return { ...page, totalCount: hits.length };
  }

  teams(args: Record<string, Value>): Node {
    const all = this.ws.teams.map((t) => this.team(t.id) as Node);
    const filtered =
      args.filter === undefined ? all : all.filter((n) => matches(n, args.filter, "TeamFilter"));
    return connection("TeamConnection", filtered, args, "teams");
  }

  workflowStates(args: Record<string, Value>): Node {
    const all = this.ws.states.map((s) => this.state(s.id) as Node);
    const filtered =
      args.filter === undefined ? all : all.filter((n) => matches(n, args.filter, "WorkflowStateFilter"));
    return connection("WorkflowStateConnection", filtered, args, "workflowStates");
  }

  projects(args: Record<string, Value>): Node {
    const all = ordered(
      this.ws.projects.filter((p) => args.includeArchived === true || p.archivedAt === null),
      args.orderBy,
    ).map((p) => this.project(p.id) as Node);
    const filtered =
      args.filter === undefined ? all : all.filter((n) => matches(n, args.filter, "ProjectFilter"));
    return connection("ProjectConnection", filtered, args, "projects");
  }

  users(args: Record<string, Value>): Node {
    const all = this.ws.users
      .filter((u) => args.includeDisabled === true || u.active)
      .map((u) => this.user(u.id) as Node);
    const filtered =
      args.filter === undefined ? all : all.filter((n) => matches(n, args.filter, "UserFilter"));
    return connection("UserConnection", filtered, args, "users");
  }

  issue_(args: Record<string, Value>): Node {
    return this.issue(this.findIssue(args.id, "issue"));
  }

  /** Applies IssueCreateInput / IssueUpdateInput fields after checking every referenced id. */
  private applyIssueInput(issue: FakeLinearIssue, input: Record<string, unknown>, path: string): void {
    const known = new Set([
      "teamId",
      "title",
      "description",
      "priority",
      "assigneeId",
      "stateId",
      "projectId",
      "labelIds",
      "dueDate",
      "estimate",
      "parentId",
    ]);
    for (const key of Object.keys(input)) {
      if (!known.has(key)) throw invalidQuery(`Field "${key}" is not defined by type "IssueInput".`);
    }
    if (input.priority !== undefined) {
      const p = input.priority;
      if (typeof p !== "number" || !Number.isInteger(p) || p < 0 || p > 4) {
        throw invalidInput("Argument Validation Error: priority must not be greater than 4", path);
      }
      issue.priority = p;
    }
    if (input.assigneeId !== undefined) {
      if (!this.ws.users.some((u) => u.id === input.assigneeId)) throw notFound("User", path);
      issue.assigneeId = input.assigneeId as string;
    }
    if (input.stateId !== undefined) {
      const state = this.ws.states.find((s) => s.id === input.stateId);
      if (!state) throw notFound("WorkflowState", path);
      if (state.teamId !== issue.teamId)
        throw invalidInput("Workflow state does not belong to the issue's team", path);
      const now = new Date().toISOString();
      issue.stateId = state.id;
      issue.startedAt = state.type === "started" ? now : issue.startedAt;
      issue.completedAt = state.type === "completed" ? now : null;
      issue.canceledAt = state.type === "canceled" ? now : null;
    }
    if (input.projectId !== undefined) {
      if (!this.ws.projects.some((p) => p.id === input.projectId)) throw notFound("Project", path);
      issue.projectId = input.projectId as string;
    }
    if (input.parentId !== undefined) {
      if (!this.ws.issues.some((i) => i.id === input.parentId)) throw notFound("Issue", path);
      issue.parentId = input.parentId as string;
    }
    if (input.labelIds !== undefined) {
      const ids = input.labelIds as string[];
      if (!ids.every((l) => this.ws.labels.some((x) => x.id === l))) {
        throw invalidInput(
          "Entity not found: IssueLabel: labelIds contained an entry that could not be found.",
          path,
        );
      }
      issue.labelIds = [...ids];
    }
    if (typeof input.title === "string") issue.title = input.title;
    if (typeof input.description === "string") issue.description = input.description;
    if (typeof input.dueDate === "string") issue.dueDate = input.dueDate;
    if (typeof input.estimate === "number") issue.estimate = input.estimate;
  }

  issueCreate(args: Record<string, Value>): Node {
    const input = args.input as Record<string, unknown> | undefined;
    if (!input)
      throw invalidQuery('Variable "$input" of required type "IssueCreateInput!" was not provided.');
    const team = this.ws.teams.find((t) => t.id === input.teamId);
    if (!team) throw notFound("Team", "issueCreate");
    const now = new Date().toISOString();
    const backlog = this.ws.states.find(
      (s) => s.teamId === team.id && s.type === "backlog",
    ) as FakeLinearState;
    const issue: FakeLinearIssue = {
      id: crypto.randomUUID(),
      teamId: team.id,
      number: team.issueCount + 1,
      title: "",
      description: null,
      priority: 0,
      estimate: null,
      stateId: backlog.id,
      assigneeId: null,
      creatorId: this.ws.viewer.id,
      projectId: null,
      parentId: null,
      labelIds: [],
      dueDate: null,
      createdAt: now,
      updatedAt: now,
      startedAt: null,
      completedAt: null,
      canceledAt: null,
      archivedAt: null,
    };
    this.applyIssueInput(issue, input, "issueCreate");
    if (issue.title === "")
      throw invalidInput("Argument Validation Error: title should not be empty", "issueCreate");
    team.issueCount += 1;
    this.ws.issues.push(issue);
    return { __typename: "IssuePayload", success: true, lastSyncId: Date.now(), issue: this.issue(issue) };
  }

  issueUpdate(args: Record<string, Value>): Node {
    const issue = this.findIssue(args.id, "issueUpdate");
    const input = args.input as Record<string, unknown> | undefined;
    if (!input)
      throw invalidQuery('Variable "$input" of required type "IssueUpdateInput!" was not provided.');
    if ("teamId" in input)
      throw invalidQuery('Field "teamId" is not supported by this fake\'s IssueUpdateInput.');
    const draft = { ...issue, labelIds: [...issue.labelIds] };
    this.applyIssueInput(draft, input, "issueUpdate");
    Object.assign(issue, draft, { updatedAt: new Date().toISOString() });
    return { __typename: "IssuePayload", success: true, lastSyncId: Date.now(), issue: this.issue(issue) };
  }

  commentCreate(args: Record<string, Value>): Node {
    const input = args.input as Record<string, unknown> | undefined;
    if (!input)
      throw invalidQuery('Variable "$input" of required type "CommentCreateInput!" was not provided.');
    for (const key of Object.keys(input)) {
      if (!["issueId", "body", "parentId"].includes(key)) {
        throw invalidQuery(`Field "${key}" is not defined by type "CommentCreateInput".`);
      }
    }
    const issue = this.findIssue(input.issueId, "commentCreate");
    if (typeof input.body !== "string" || input.body.trim() === "") {
      throw invalidInput("Argument Validation Error: body should not be empty", "commentCreate");
    }
    if (input.parentId !== undefined && !this.ws.comments.some((c) => c.id === input.parentId)) {
      throw notFound("Comment", "commentCreate");
    }
    const now = new Date().toISOString();
    const comment: FakeLinearComment = {
      id: crypto.randomUUID(),
      issueId: issue.id,
      userId: this.ws.viewer.id,
      parentId: (input.parentId as string | undefined) ?? null,
      body: input.body,
      createdAt: now,
      updatedAt: now,
    };
    this.ws.comments.push(comment);
    return {
      __typename: "CommentPayload",
      success: true,
      lastSyncId: Date.now(),
      comment: this.comment(comment),
    };
  }
}

type RootField = (w: Workspace, args: Record<string, Value>) => Node;
const PAGING = ["first", "after", "last", "before", "orderBy", "includeArchived"];
/** The arguments each root field takes in Linear's schema (the ones this fake knows). */
const ROOT_ARGS: Record<string, string[]> = {
  viewer: [],
  issue: ["id"],
  issues: ["filter", ...PAGING],
  searchIssues: ["term", "teamId", "includeComments", "filter", ...PAGING],
  teams: ["filter", ...PAGING],
  workflowStates: ["filter", ...PAGING],
  projects: ["filter", ...PAGING],
  users: ["filter", "includeDisabled", ...PAGING],
  issueCreate: ["input"],
  issueUpdate: ["id", "input"],
  commentCreate: ["input"],
};
const QUERY_FIELDS: Record<string, RootField> = {
  viewer: (w) => w.viewer(),
  issue: (w, a) => w.issue_(a),
  issues: (w, a) => w.issues(a),
  searchIssues: (w, a) => w.searchIssues(a),
  teams: (w, a) => w.teams(a),
  workflowStates: (w, a) => w.workflowStates(a),
  projects: (w, a) => w.projects(a),
  users: (w, a) => w.users(a),
};
const MUTATION_FIELDS: Record<string, RootField> = {
  issueCreate: (w, a) => w.issueCreate(a),
  issueUpdate: (w, a) => w.issueUpdate(a),
  commentCreate: (w, a) => w.commentCreate(a),
};

// ---------------------------------------------------------------------------------------------------------
// The server.

export interface FakeLinear extends FakeUpstream {
  /** Accepts `key` as a personal API key of a fresh workspace (its own users, teams, issues); returns the data. */
  addKey(key: string, account: FakeLinearAccount): FakeLinearWorkspace;
  /** The key is revoked: from now on it is answered like any unknown key (HTTP 400 AUTHENTICATION_ERROR). */
  removeKey(key: string): void;
  /** The live data behind a key (writes land here). */
  workspace(key: string): FakeLinearWorkspace;
}

/** What a recorded request asked: the GraphQL operation name, query text and variables. */
export function graphqlOf(req: RecordedUpstreamRequest): {
  operationName?: string;
  query: string;
  variables: Record<string, unknown>;
} {
  const body = req.body as { query?: string; variables?: Record<string, unknown> };
  const query = body?.query ?? "";
  const name = /^\s*(?:query|mutation)\s+([A-Za-z_][A-Za-z0-9_]*)/.exec(query)?.[1];
  return { operationName: name, query, variables: body?.variables ?? {} };
}

/** A fake https://api.linear.app on 127.0.0.1 (POST /graphql), shaped like Linear's GraphQL API. */
export async function startLinearFake(): Promise<FakeLinear> {
  const workspaces = new Map<string, Workspace>();

  function execute(req: RecordedUpstreamRequest): Response {
    if (req.path !== "/graphql") return new Response("Not Found", { status: 404 });
    if (req.method !== "POST") {
      return json({ errors: [{ message: "GET query missing.", extensions: { code: "BAD_REQUEST" } }] }, 400);
    }
    if (!req.headers["content-type"]?.startsWith("application/json")) {
      return json(
        { errors: [{ message: "Must provide query string.", extensions: { code: "BAD_REQUEST" } }] },
        400,
      );
    }
    const auth = req.headers.authorization ?? "";
    const workspace = workspaces.get(auth);
    if (!workspace) {
      // A personal key sent as a Bearer token is refused with Linear's own hint.
      if (auth.startsWith("Bearer ") && workspaces.has(auth.slice(7))) {
        return json(
          {
            errors: [
              {
                ...AUTH_ERROR,
                message: "Remove the Bearer prefix from the Authorization header.",
              },
            ],
          },
          400,
        );
      }
      return authenticationError();
    }
    const body = req.body as { query?: unknown; variables?: unknown } | undefined;
    if (typeof body?.query !== "string") {
      return json(
        { errors: [{ message: "Must provide query string.", extensions: { code: "BAD_REQUEST" } }] },
        400,
      );
    }
    const variables = (body.variables ?? {}) as Record<string, Value>;
    try {
      const operation = parseOperation(body.query);
      for (const [variable, type] of operation.variables) {
        if (type.endsWith("!") && (variables[variable] === undefined || variables[variable] === null)) {
          throw invalidQuery(`Variable "$${variable}" of required type "${type}" was not provided.`);
        }
      }
      const roots = operation.type === "mutation" ? MUTATION_FIELDS : QUERY_FIELDS;
      const data: Record<string, unknown> = {};
      for (const field of operation.selections) {
        const run = roots[field.name];
        const rootType = operation.type === "mutation" ? "Mutation" : "Query";
        if (!run) throw invalidQuery(`Cannot query field "${field.name}" on type "${rootType}".`);
        for (const arg of Object.keys(field.args)) {
          if (!ROOT_ARGS[field.name]?.includes(arg)) {
            throw invalidQuery(`Unknown argument "${arg}" on field "${rootType}.${field.name}".`);
          }
        }
        const args = resolveArgs(field, variables, operation.variables);
        data[field.name] = project(run(workspace, args), field.selections, variables, operation.variables);
      }
      return json({ data });
    } catch (err) {
      if (!(err instanceof GraphQLFailure)) throw err;
      const error = { message: err.message, ...(err.path && { path: err.path }), extensions: err.extensions };
      return json(err.status === 200 ? { errors: [error], data: null } : { errors: [error] }, err.status);
    }
  }

  const upstream = await startFakeUpstream((req) => execute(req));
  return {
    ...upstream,
    addKey(key, account) {
      const ws = seedWorkspace(account);
      workspaces.set(key, new Workspace(ws));
      return ws;
    },
    removeKey: (key) => void workspaces.delete(key),
    workspace(key) {
      const w = workspaces.get(key);
      if (!w) throw new Error("unknown key");
      return w.ws;
    },
  };
}
