// A fake Airtable Web API (https://airtable.com/developers/web/api/introduction) on 127.0.0.1, built on the
// generic fake upstream: Bearer personal access tokens, `GET /v0/meta/whoami`, bases and their schema,
// records with filterByFormula (a small subset), sort[n][field]/[direction], view, fields[], pageSize,
// maxRecords and `offset` iterators, batch create (POST) and update (PATCH partial, PUT destructive) of up to
// 10 records with `typecast`, record deletion, record comments, and Airtable's documented error bodies.
// Every accepted token owns its own small data set, so two users' keys never see each other's bases.
import { type FakeUpstream, json, type RecordedUpstreamRequest, startFakeUpstream } from "./upstream.ts";

export interface FakeAirtableField {
  id: string;
  name: string;
  type: string;
  description?: string;
  options?: Record<string, unknown>;
}

export interface FakeAirtableView {
  id: string;
  name: string;
  type: "grid" | "form" | "calendar" | "gallery" | "kanban" | "timeline" | "block";
  /** Which records the view shows (all when absent). */
  filter?: (fields: Record<string, unknown>) => boolean;
}

export interface FakeAirtableComment {
  id: string;
  author: { id: string; email: string; name: string };
  text: string;
  createdTime: string;
  lastUpdatedTime: string | null;
  parentCommentId?: string;
}

export interface FakeAirtableRecord {
  id: string;
  createdTime: string;
  /** Cell values keyed by field NAME. */
  fields: Record<string, unknown>;
  /** Oldest first; answered newest first. */
  comments: FakeAirtableComment[];
}

export interface FakeAirtableTable {
  id: string;
  name: string;
  description?: string;
  primaryFieldId: string;
  fields: FakeAirtableField[];
  views: FakeAirtableView[];
  records: FakeAirtableRecord[];
}

export interface FakeAirtableBase {
  id: string;
  name: string;
  permissionLevel: "none" | "read" | "comment" | "edit" | "create";
  tables: FakeAirtableTable[];
}

export interface FakeAirtableAccount {
  user: { id: string; email: string; name: string };
  /** The token has the user.email:read scope (whoami then answers the email). */
  emailScope: boolean;
  bases: FakeAirtableBase[];
}

export interface FakeAirtable {
  url: string;
  requests: RecordedUpstreamRequest[];
  /** Accepts `token` from now on, with a fresh data set of its own (see `seedAccount`); returns that data. */
  addKey(
    token: string,
    name: string,
    opts?: { emailScope?: boolean; extraBases?: number },
  ): FakeAirtableAccount;
  /** The token is revoked: 401 AUTHENTICATION_REQUIRED from then on, like Airtable. */
  removeKey(token: string): void;
  account(token: string): FakeAirtableAccount | undefined;
  /** The query string exactly as received (repeated `fields[]` included), for a recorded request. */
  rawQuery(req: RecordedUpstreamRequest): string | undefined;
  /** Answer the next request (still recorded) with this instead. */
  answerNext(response: () => Response): void;
  stop(): void;
}

/** Airtable's answers for the failures the fake reproduces (status and body as Airtable sends them). */
export const AIRTABLE_ERRORS = {
  authenticationRequired: () =>
    json({ error: { type: "AUTHENTICATION_REQUIRED", message: "Authentication required" } }, 401),
  notFound: () => json({ error: "NOT_FOUND" }, 404),
  modelNotFound: () =>
    json(
      {
        error: {
          type: "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
          message:
            "Invalid permissions, or the requested model was not found. Check that both your user and your token have the required permissions, and that the model names and/or ids are correct.",
        },
      },
      403,
    ),
  invalidPermissions: () =>
    json(
      {
        error: {
          type: "INVALID_PERMISSIONS",
          message: "You are not permitted to perform this operation",
        },
      },
      403,
    ),
  invalidRequest: (message = "Invalid request: parameter validation failed. Check your request data.") =>
    json({ error: { type: "INVALID_REQUEST_UNKNOWN", message } }, 422),
  rateLimited: () =>
    json(
      { errors: [{ error: "RATE_LIMIT_REACHED", message: "Rate limit exceeded. Please try again later" }] },
      429,
    ),
} as const;

const typed = (type: string, message: string, status = 422) => json({ error: { type, message } }, status);

/** Airtable's answer for a field name (or id) the table does not have, in a write, `fields[]` or a sort. */
const unknownField = (name: string) => typed("UNKNOWN_FIELD_NAME", `Unknown field name: "${name}"`);

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/** An Airtable id: a 3-letter prefix and 14 letters/digits (`appLkNDICXNqxSDhG`). */
export function airtableId(
  prefix: "app" | "tbl" | "fld" | "viw" | "rec" | "usr" | "com" | "itr" | "sel",
): string {
  const bytes = crypto.getRandomValues(new Uint8Array(14));
  return prefix + [...bytes].map((b) => ALNUM[b % ALNUM.length]).join("");
}

let clock = Date.parse("2026-01-05T09:00:00.000Z");
const nextTime = () => {
  clock += 60_000;
  return new Date(clock).toISOString();
};

function field(name: string, type: string, extra: Partial<FakeAirtableField> = {}): FakeAirtableField {
  return { id: airtableId("fld"), name, type, ...extra };
}

function record(fields: Record<string, unknown>): FakeAirtableRecord {
  return { id: airtableId("rec"), createdTime: nextTime(), fields, comments: [] };
}

/**
 * A token's data: "<name>'s Project Tracker" (create access) with a Tasks table (5 records, two views)
 * and a "Team Members" table, and "Apartment Hunting" (read-only), plus `extraBases` more.
 */
export function seedAccount(name: string, opts: { emailScope?: boolean; extraBases?: number } = {}) {
  const user = { id: airtableId("usr"), email: `${name.toLowerCase()}@example.com`, name };
  const nameField = field("Name", "singleLineText", { description: "What to do" });
  const tasks: FakeAirtableTable = {
    id: airtableId("tbl"),
    name: "Tasks",
    description: "Everything the team works on.",
    primaryFieldId: nameField.id,
    fields: [
      nameField,
      field("Status", "singleSelect", {
        options: {
          choices: [
            { id: airtableId("sel"), name: "Todo", color: "redLight2" },
            { id: airtableId("sel"), name: "In progress", color: "yellowLight2" },
            { id: airtableId("sel"), name: "Done", color: "greenLight2" },
          ],
        },
      }),
      field("Priority", "number", { options: { precision: 0 } }),
      field("Notes", "multilineText"),
      field("Urgent", "checkbox", { options: { icon: "check", color: "greenBright" } }),
    ],
    views: [
      { id: airtableId("viw"), name: "Grid view", type: "grid" },
      { id: airtableId("viw"), name: "Open tasks", type: "grid", filter: (f) => f.Status !== "Done" },
    ],
    records: [
      record({ Name: `${name}: write the brief`, Status: "Done", Priority: 2, Notes: "", Urgent: false }),
      record({ Name: `${name}: review designs`, Status: "In progress", Priority: 3, Urgent: true }),
      record({ Name: `${name}: ship v1`, Status: "Todo", Priority: 5, Notes: "Launch week" }),
      record({ Name: `${name}: fix login bug`, Status: "Todo", Priority: 4, Urgent: true }),
      record({ Name: `${name}: plan retro`, Status: "Done", Priority: 1 }),
    ],
  };
  const personName = field("Full name", "singleLineText");
  const team: FakeAirtableTable = {
    id: airtableId("tbl"),
    name: "Team Members",
    primaryFieldId: personName.id,
    fields: [personName, field("Role", "singleLineText")],
    views: [{ id: airtableId("viw"), name: "Grid view", type: "grid" }],
    records: [record({ "Full name": name, Role: "Owner" }), record({ "Full name": "Grace", Role: "Editor" })],
  };
  const aptName = field("Name", "singleLineText");
  const apartments: FakeAirtableTable = {
    id: airtableId("tbl"),
    name: "Apartments",
    primaryFieldId: aptName.id,
    fields: [aptName],
    views: [{ id: airtableId("viw"), name: "Grid view", type: "grid" }],
    records: [record({ Name: "Union Square" })],
  };
  const bases: FakeAirtableBase[] = [
    {
      id: airtableId("app"),
      name: `${name}'s Project Tracker`,
      permissionLevel: "create",
      tables: [tasks, team],
    },
    { id: airtableId("app"), name: "Apartment Hunting", permissionLevel: "read", tables: [apartments] },
  ];
  for (let i = 1; i <= (opts.extraBases ?? 0); i++) {
    bases.push({ id: airtableId("app"), name: `${name} archive ${i}`, permissionLevel: "edit", tables: [] });
  }
  return { user, emailScope: opts.emailScope ?? true, bases } satisfies FakeAirtableAccount;
}

/** Airtable leaves out "empty" cells: "", [], false (and null). */
function cells(rec: FakeAirtableRecord, table: FakeAirtableTable, byId: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(rec.fields)) {
    if (value === "" || value === false || value === null || (Array.isArray(value) && value.length === 0))
      continue;
    const key = byId ? (table.fields.find((f) => f.name === name)?.id ?? name) : name;
    out[key] = value;
  }
  return out;
}

const recordJson = (rec: FakeAirtableRecord, table: FakeAirtableTable, byId: boolean) => ({
  id: rec.id,
  createdTime: rec.createdTime,
  fields: cells(rec, table, byId),
});

const isTrue = (v: string | null) => v === "true" || v === "1";

/** The field a name or id designates. */
const fieldOf = (table: FakeAirtableTable, nameOrId: string) =>
  table.fields.find((f) => f.name === nameOrId || f.id === nameOrId);

type Formula =
  | { ok: true; test: (fields: Record<string, unknown>) => boolean }
  | { ok: false; res: Response };

/**
 * A small subset of Airtable formulas: `{Field} = 'text'`, `{Field} != "text"`, `{Field} > 2` (also <, >=,
 * <=), and `TRUE()`/`1`. Anything else is answered as Airtable answers an invalid formula.
 */
function parseFormula(formula: string, table: FakeAirtableTable): Formula {
  const invalid = (why: string): Formula => ({
    ok: false,
    res: typed("INVALID_FILTER_BY_FORMULA", `The formula for filtering records is invalid: ${why}`),
  });
  const text = formula.trim();
  if (text === "TRUE()" || text === "1") return { ok: true, test: () => true };
  const m = /^\{([^{}]+)\}\s*(=|!=|>=|<=|>|<)\s*(?:'([^']*)'|"([^"]*)"|(-?\d+(?:\.\d+)?))$/.exec(text);
  if (!m) return invalid("Invalid formula. Please check your formula text.");
  const [, name = "", op, single, double, number] = m;
  const f = fieldOf(table, name);
  if (!f || f.name !== name) return invalid(`Unknown field names: ${name.toLowerCase()}`);
  const expected: string | number = number !== undefined ? Number(number) : (single ?? double ?? "");
  const test = (fields: Record<string, unknown>) => {
    const raw = fields[f.name];
    const actual = typeof expected === "number" ? Number(raw ?? 0) : String(raw ?? "");
    switch (op) {
      case "=":
        return actual === expected;
      case "!=":
        return actual !== expected;
      case ">":
        return actual > expected;
      case "<":
        return actual < expected;
      case ">=":
        return actual >= expected;
      default:
        return actual <= expected;
    }
  };
  return { ok: true, test };
}

/** `sort[0][field]=...&sort[0][direction]=desc`, in index order. */
function sortsOf(q: URLSearchParams): { field: string; direction: string }[] {
  const sorts: { field?: string; direction?: string }[] = [];
  for (const [key, value] of q) {
    const m = /^sort\[(\d+)\]\[(field|direction)\]$/.exec(key);
    if (!m) continue;
    const i = Number(m[1]);
    sorts[i] = { ...sorts[i], [m[2] as "field" | "direction"]: value };
  }
  return sorts.filter(Boolean).map((s) => ({ field: s.field ?? "", direction: s.direction ?? "asc" }));
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a ?? "").localeCompare(String(b ?? ""));
}

const intParam = (q: URLSearchParams, name: string): number | undefined | null => {
  const raw = q.get(name);
  if (raw === null) return undefined;
  return /^\d+$/.test(raw) ? Number(raw) : null;
};

/** A converted value, plus the select option typecast creates once the whole request is valid. */
type Cell = { ok: true; value: unknown; addChoice?: () => void } | { ok: false; res: Response };

const CHECKED = new Set(["true", "yes", "1", "checked", "on"]);
const UNCHECKED = new Set(["false", "no", "0", "unchecked", "off", ""]);

/**
 * A written value as Airtable stores it in `field`. Without typecast a value must already have the field's
 * type (a number for a number field, an existing option for a select); with typecast Airtable converts
 * strings on a best-effort basis ("42" → 42, "true" → true) and creates missing select options.
 */
function cellValue(field: FakeAirtableField, value: unknown, typecast: boolean): Cell {
  const refuse = (): Cell => ({
    ok: false,
    res: typed("INVALID_VALUE_FOR_COLUMN", `Field "${field.name}" cannot accept the provided value`),
  });
  if (value === null) return { ok: true, value: null };
  switch (field.type) {
    case "number":
    case "currency":
    case "percent": {
      if (typeof value === "number") return { ok: true, value };
      if (!typecast || typeof value !== "string") return refuse();
      const text = value.replace(/[\s,$%]/g, "");
      if (text === "") return { ok: true, value: null };
      return /^-?\d+(\.\d+)?$/.test(text) ? { ok: true, value: Number(text) } : refuse();
    }
    case "checkbox": {
      if (typeof value === "boolean") return { ok: true, value };
      if (!typecast || typeof value !== "string") return refuse();
      const text = value.trim().toLowerCase();
      if (CHECKED.has(text)) return { ok: true, value: true };
      return UNCHECKED.has(text) ? { ok: true, value: false } : refuse();
    }
    case "singleSelect": {
      if (typeof value !== "string") return refuse();
      if (value === "") return { ok: true, value: null };
      const choices = (field.options?.choices ?? []) as { id: string; name: string; color?: string }[];
      if (choices.some((c) => c.name === value)) return { ok: true, value };
      if (!typecast) {
        return {
          ok: false,
          res: typed(
            "INVALID_MULTIPLE_CHOICE_OPTIONS",
            `Insufficient permissions to create new select option ""${value}""`,
          ),
        };
      }
      const addChoice = () => {
        const now = (field.options?.choices ?? []) as { name: string }[];
        if (now.some((c) => c.name === value)) return;
        field.options = { ...field.options, choices: [...now, { id: airtableId("sel"), name: value }] };
      };
      return { ok: true, value, addChoice };
    }
    case "singleLineText":
    case "multilineText":
    case "email":
    case "url":
    case "phoneNumber":
      if (typeof value === "string") return { ok: true, value };
      return typecast && (typeof value === "number" || typeof value === "boolean")
        ? { ok: true, value: String(value) }
        : refuse();
    default:
      return { ok: true, value };
  }
}

const MISSING_FIELDS = () =>
  typed("INVALID_REQUEST_MISSING_FIELDS", 'Could not find field "fields" in the request body');

/**
 * A request's `fields` object checked against the table: cells keyed by field NAME, or Airtable's error.
 * Select options typecast creates are queued on `commit`, run only when the whole request is valid.
 */
function writtenCells(
  table: FakeAirtableTable,
  fields: unknown,
  typecast: boolean,
  commit: (() => void)[],
): Record<string, unknown> | Response {
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) return MISSING_FIELDS();
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(fields)) {
    const f = fieldOf(table, key);
    if (!f) return unknownField(key);
    const cell = cellValue(f, raw, typecast);
    if (!cell.ok) return cell.res;
    if (cell.addChoice) commit.push(cell.addChoice);
    out[f.name] = cell.value;
  }
  return out;
}

const objectBody = (body: unknown): Record<string, unknown> =>
  typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};

/**
 * `POST /v0/{baseId}/{table}`: `{ records: [{ fields }], typecast }` (1 to 10) → `{ records: [...] }`, or the
 * single-record form `{ fields }` → the record. All or nothing: any invalid record fails the whole request.
 */
function createRecords(table: FakeAirtableTable, body: unknown): Response {
  const input = objectBody(body);
  const typecast = input.typecast === true;
  const byId = input.returnFieldsByFieldId === true;
  if (input.records === undefined) {
    const commit: (() => void)[] = [];
    const cells = writtenCells(table, input.fields, typecast, commit);
    if (cells instanceof Response) return cells;
    for (const run of commit) run();
    const rec = record(cells);
    table.records.push(rec);
    return json(recordJson(rec, table, byId));
  }
  if (!Array.isArray(input.records) || input.records.length === 0) {
    return typed("INVALID_RECORDS", "You must provide an array of up to 10 record objects.");
  }
  if (input.records.length > 10) {
    return typed(
      "INVALID_RECORDS",
      `A maximum of 10 records can be created per request but you have provided ${input.records.length}.`,
    );
  }
  const created: FakeAirtableRecord[] = [];
  const commit: (() => void)[] = [];
  for (const item of input.records) {
    const cells = writtenCells(table, objectBody(item).fields, typecast, commit);
    if (cells instanceof Response) return cells;
    created.push(record(cells));
  }
  for (const run of commit) run();
  table.records.push(...created);
  return json({ records: created.map((r) => recordJson(r, table, byId)) });
}

const INVALID_UPDATE = () =>
  typed(
    "INVALID_RECORDS",
    'You must provide an array of up to 10 record objects, each with an "id" ID field and a "fields" object for cell values.',
  );

/**
 * `PATCH|PUT /v0/{baseId}/{table}`: `{ records: [{ id, fields }], typecast }` (1 to 10). PATCH changes only the
 * given cells; PUT clears the others. An id not in this table fails the request with 422 ROW_DOES_NOT_EXIST.
 */
function updateRecords(table: FakeAirtableTable, body: unknown, destructive: boolean): Response {
  const input = objectBody(body);
  const typecast = input.typecast === true;
  const { records } = input;
  if (!Array.isArray(records) || records.length === 0 || records.length > 10) return INVALID_UPDATE();
  const changes: { rec: FakeAirtableRecord; cells: Record<string, unknown> }[] = [];
  const commit: (() => void)[] = [];
  for (const item of records) {
    const { id, fields } = objectBody(item);
    if (typeof id !== "string" || typeof fields !== "object" || fields === null) return INVALID_UPDATE();
    const rec = table.records.find((r) => r.id === id);
    if (!rec) return typed("ROW_DOES_NOT_EXIST", `Record ID ${id} does not exist in this table`);
    const cells = writtenCells(table, fields, typecast, commit);
    if (cells instanceof Response) return cells;
    changes.push({ rec, cells });
  }
  for (const run of commit) run();
  for (const { rec, cells } of changes) rec.fields = destructive ? cells : { ...rec.fields, ...cells };
  const byId = input.returnFieldsByFieldId === true;
  return json({ records: changes.map(({ rec }) => recordJson(rec, table, byId)) });
}

/** Starts the fake; `addKey` registers each test user's token. */
export async function startAirtableFake(): Promise<FakeAirtable> {
  const accounts = new Map<string, FakeAirtableAccount>();
  const rawQueries = new WeakMap<RecordedUpstreamRequest, string>();
  /** Live iterators: `offset` → the remaining ids of a listing, and the query it belongs to. */
  const iterators = new Map<string, { ids: string[]; signature: string }>();

  function page<T extends { id: string }>(items: T[], size: number, signature: string) {
    const rest = items.slice(size);
    const shown = items.slice(0, size);
    if (rest.length === 0) return { shown, offset: undefined };
    const offset = `${airtableId("itr")}/${shown.at(-1)?.id ?? ""}`;
    iterators.set(offset, { ids: rest.map((r) => r.id), signature });
    return { shown, offset };
  }

  /** The items after an `offset` from an earlier page of the same listing (same query), or an error. */
  function resume<T extends { id: string }>(
    items: T[],
    offset: string | null,
    signature: string,
  ): T[] | Response {
    if (offset === null) return items;
    const it = iterators.get(offset);
    if (!it || it.signature !== signature) {
      return typed(
        "LIST_RECORDS_ITERATOR_NOT_AVAILABLE",
        "Iterator not available. Please restart the iteration.",
      );
    }
    const wanted = new Set(it.ids);
    return items.filter((i) => wanted.has(i.id));
  }

  function listRecords(table: FakeAirtableTable, q: URLSearchParams): Response {
    const pageSize = intParam(q, "pageSize");
    const maxRecords = intParam(q, "maxRecords");
    if (pageSize === null || (pageSize !== undefined && (pageSize < 1 || pageSize > 100)))
      return AIRTABLE_ERRORS.invalidRequest();
    if (maxRecords === null || maxRecords === 0) return AIRTABLE_ERRORS.invalidRequest();
    let rows = [...table.records];
    const viewName = q.get("view");
    if (viewName !== null) {
      const view = table.views.find((v) => v.name === viewName || v.id === viewName);
      if (!view)
        return typed("VIEW_NAME_NOT_FOUND", `Could not find view ${viewName} in table ${table.name}`);
      if (view.filter) rows = rows.filter((r) => view.filter?.(r.fields));
    }
    const formula = q.get("filterByFormula");
    if (formula !== null) {
      const parsed = parseFormula(formula, table);
      if (!parsed.ok) return parsed.res;
      rows = rows.filter((r) => parsed.test(r.fields));
    }
    for (const sort of sortsOf(q).reverse()) {
      const f = fieldOf(table, sort.field);
      if (!f) return unknownField(sort.field);
      if (sort.direction !== "asc" && sort.direction !== "desc")
        return AIRTABLE_ERRORS.invalidRequest(`Invalid sort direction: "${sort.direction}"`);
      const sign = sort.direction === "desc" ? -1 : 1;
      rows.sort((a, b) => sign * compare(a.fields[f.name], b.fields[f.name]));
    }
    if (maxRecords !== undefined) rows = rows.slice(0, maxRecords);
    const sig = new URLSearchParams(q);
    sig.delete("offset");
    const signature = `${table.id}?${sig.toString()}`;
    const remaining = resume(rows, q.get("offset"), signature);
    if (remaining instanceof Response) return remaining;
    const { shown, offset } = page(remaining, pageSize ?? 100, signature);
    const byId = isTrue(q.get("returnFieldsByFieldId"));
    let records = shown.map((r) => recordJson(r, table, byId));
    // `fields[]=Name&fields[]=Status`: only those cells (by name or id).
    const only = q.getAll("fields[]");
    if (only.length > 0) {
      const keep = new Set<string>();
      for (const nameOrId of only) {
        const f = fieldOf(table, nameOrId);
        if (!f) return unknownField(nameOrId);
        keep.add(byId ? f.id : f.name);
      }
      records = records.map((r) => ({
        ...r,
        fields: Object.fromEntries(Object.entries(r.fields).filter(([k]) => keep.has(k))),
      }));
    }
    return json({ records, ...(offset && { offset }) });
  }

  function schema(base: FakeAirtableBase) {
    return {
      tables: base.tables.map((t) => ({
        id: t.id,
        name: t.name,
        ...(t.description && { description: t.description }),
        primaryFieldId: t.primaryFieldId,
        fields: t.fields,
        views: t.views.map(({ id, name, type }) => ({ id, name, type })),
      })),
    };
  }

  function comments(rec: FakeAirtableRecord, q: URLSearchParams): Response {
    const pageSize = intParam(q, "pageSize");
    if (pageSize === null || (pageSize !== undefined && (pageSize < 1 || pageSize > 100)))
      return AIRTABLE_ERRORS.invalidRequest();
    const newestFirst = [...rec.comments].reverse();
    const signature = `${rec.id}/comments`;
    const remaining = resume(newestFirst, q.get("offset"), signature);
    if (remaining instanceof Response) return remaining;
    const { shown, offset } = page(remaining, pageSize ?? 100, signature);
    // The comments listing answers `offset: null` on its last page.
    return json({ comments: shown, offset: offset ?? null });
  }

  function createComment(account: FakeAirtableAccount, rec: FakeAirtableRecord, body: unknown): Response {
    const input = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
    if (typeof input.text !== "string" || input.text.trim() === "") return AIRTABLE_ERRORS.invalidRequest();
    const parent = input.parentCommentId;
    if (parent !== undefined && !rec.comments.some((c) => c.id === parent)) {
      return typed("INVALID_REQUEST_UNKNOWN", `Could not find a comment with id ${String(parent)}`);
    }
    const comment: FakeAirtableComment = {
      id: airtableId("com"),
      author: { ...account.user },
      text: input.text,
      createdTime: nextTime(),
      lastUpdatedTime: null,
      ...(typeof parent === "string" && { parentCommentId: parent }),
    };
    rec.comments.push(comment);
    return json(comment);
  }

  function route(req: RecordedUpstreamRequest, url: URL): Response {
    rawQueries.set(req, url.search);
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? "");
    const account = auth?.[1] === undefined ? undefined : accounts.get(auth[1]);
    if (!account) return AIRTABLE_ERRORS.authenticationRequired();
    // Segments as sent (percent-encoded): a table name with spaces arrives as `Team%20Members`.
    let parts: string[];
    try {
      parts = url.pathname.split("/").slice(1).map(decodeURIComponent);
    } catch {
      return AIRTABLE_ERRORS.notFound();
    }
    const q = url.searchParams;
    const [v0, a, b, c, d, e] = parts;
    if (v0 !== "v0") return AIRTABLE_ERRORS.notFound();

    if (a === "meta") {
      if (req.method !== "GET") return AIRTABLE_ERRORS.notFound();
      if (b === "whoami" && parts.length === 3) {
        return json({ id: account.user.id, ...(account.emailScope && { email: account.user.email }) });
      }
      if (b === "bases" && parts.length === 3) {
        const signature = `${account.user.id}/bases`;
        const remaining = resume(account.bases, q.get("offset"), signature);
        if (remaining instanceof Response) return remaining;
        const { shown, offset } = page(remaining, 1000, signature);
        const bases = shown.map(({ id, name, permissionLevel }) => ({ id, name, permissionLevel }));
        return json({ bases, ...(offset && { offset }) });
      }
      if (b === "bases" && d === "tables" && parts.length === 5) {
        const base = account.bases.find((x) => x.id === c);
        return base ? json(schema(base)) : AIRTABLE_ERRORS.modelNotFound();
      }
      return AIRTABLE_ERRORS.notFound();
    }

    const base = account.bases.find((x) => x.id === a);
    if (!base) return AIRTABLE_ERRORS.modelNotFound();
    const table = base.tables.find((t) => t.id === b || t.name === b);
    if (!table) return typed("NOT_FOUND", `Could not find table ${b} in application ${base.id}`, 404);
    if (parts.length === 3 && req.method === "GET") return listRecords(table, q);
    if (parts.length === 3 && ["POST", "PATCH", "PUT"].includes(req.method)) {
      if (base.permissionLevel !== "edit" && base.permissionLevel !== "create")
        return AIRTABLE_ERRORS.invalidPermissions();
      if (!req.headers["content-type"]?.startsWith("application/json"))
        return AIRTABLE_ERRORS.invalidRequest();
      return req.method === "POST"
        ? createRecords(table, req.body)
        : updateRecords(table, req.body, req.method === "PUT");
    }
    if (c === undefined || parts.length > 5) return AIRTABLE_ERRORS.notFound();
    // Airtable falls back to a base-wide search for a record id not in the given table.
    const holder = [table, ...base.tables].find((t) => t.records.some((r) => r.id === c));
    const rec = holder?.records.find((r) => r.id === c);
    if (!holder || !rec) return AIRTABLE_ERRORS.notFound();
    if (parts.length === 4 && req.method === "GET") {
      return json(recordJson(rec, holder, isTrue(q.get("returnFieldsByFieldId"))));
    }
    if (parts.length === 4 && req.method === "DELETE") {
      if (base.permissionLevel !== "edit" && base.permissionLevel !== "create")
        return AIRTABLE_ERRORS.invalidPermissions();
      holder.records = holder.records.filter((r) => r.id !== rec.id);
      return json({ deleted: true, id: rec.id });
    }
    if (d === "comments" && e === undefined && req.method === "GET") return comments(rec, q);
    if (d === "comments" && e === undefined && req.method === "POST") {
      if (base.permissionLevel === "read" || base.permissionLevel === "none")
        return AIRTABLE_ERRORS.invalidPermissions();
      if (!req.headers["content-type"]?.startsWith("application/json"))
        return AIRTABLE_ERRORS.invalidRequest();
      return createComment(account, rec, req.body);
    }
    return AIRTABLE_ERRORS.notFound();
  }

  const upstream: FakeUpstream = await startFakeUpstream(route);
  return {
    url: upstream.url,
    requests: upstream.requests,
    addKey(token, name, opts) {
      const account = seedAccount(name, opts);
      accounts.set(token, account);
      return account;
    },
    removeKey: (token) => void accounts.delete(token),
    account: (token) => accounts.get(token),
    rawQuery: (req) => rawQueries.get(req),
    answerNext: upstream.answerNext,
    stop: upstream.stop,
  };
}
