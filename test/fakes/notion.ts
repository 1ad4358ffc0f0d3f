// A fake Notion API, version 2025-09-03, on 127.0.0.1: bearer integration secrets, the Notion-Version header,
// cursor pagination (`start_cursor` in the query for GETs and in the body for POST search/query; `next_cursor` +
// `has_more` in every list), Notion's error objects (`{ object: "error", status, code, message }`), page property
// values checked against the data source's columns (unknown column, wrong type, bad value → 400
// validation_error), and one small workspace per key that writes change.
//
// Shapes, and where they come from:
// - Databases and data sources (https://developers.notion.com/docs/upgrade-guide-2025-09-03): a database is a
//   container of one or more data sources; `GET /v1/databases/{id}` returns `data_sources: [{ id, name }]` and no
//   properties; the schema is `GET /v1/data_sources/{id}` (object "data_source", `parent: { type: "database_id",
//   database_id }`, `database_parent`, `properties`), the rows `POST /v1/data_sources/{id}/query`. Field lists
//   follow makenotion/notion-sdk-js src/api-endpoints/databases.ts (DatabaseObjectResponse) and
//   src/api-endpoints/data-sources.ts (DataSourceObjectResponse, queryDataSource, QueryDataSourceResponse with
//   `type: "page_or_data_source"`); a relation column names both `database_id` and `data_source_id`.
// - Pages in a data source have `parent: { type: "data_source_id", data_source_id, database_id }`
//   (notion-sdk-js DataSourceParentResponse); they are created with `parent: { data_source_id }` (`type` is
//   optional in requests: notion-sdk-js src/api-endpoints/pages.ts CreatePageBodyParameters).
// - Search (upgrade guide, "Search"; notion-sdk-js src/api-endpoints/search.ts): `filter.value` is "page" or
//   "data_source", results are pages and data source objects, every data source of a database listed.
// - Trash: `in_trash` in requests and responses; `archived` is its deprecated alias in 2025-09-03
//   (https://developers.notion.com/reference/archive-a-page), still returned beside it.
// - Versions: a request without Notion-Version gets 400 `missing_version`. With the old 2022-06-28, a database id
//   whose database has several data sources (retrieve, query, or a page created under it) gets the upgrade guide's
//   400 validation_error with `additional_data` (error_type "multiple_data_sources_for_database",
//   child_data_source_ids, minimum_api_version), and `/v1/data_sources/...` gets 400 `invalid_request_url` (what
//   Notion answers an old version there: makenotion/notion-mcp-server#178). Under 2025-09-03 the old
//   `/v1/databases/{id}/query` path is gone (the upgrade guide: "the path of this API changes") → 400
//   invalid_request_url, and a data source route given a database id → 404 object_not_found
//   (makenotion/notion-sdk-js#612), worded "Could not find data_source with ID: …" as Notion's `ntn` CLI prints it.
//   This fake serves 2025-09-03 only: any other request with another version is refused (a 400 validation_error
//   of the header; the real API still serves old versions), so a definition drifting back is caught at once.
import { type FakeUpstream, json, type RecordedUpstreamRequest, startFakeUpstream } from "./upstream.ts";

export const NOTION_VERSION = "2025-09-03";
/** The version before data sources; only its documented failures on a multi-source database are modelled. */
export const OLD_NOTION_VERSION = "2022-06-28";

type Json = Record<string, unknown>;
type RichText = Json;

interface FakePage {
  id: string;
  parent: Json;
  /**
   * For a data source row: its values keyed by column name (the title is in `title`). select/status: the option
   * name; multi_select: option names; rich_text: rich text; date: { start, end }; people/relation: ids.
   */
  values: Record<string, unknown>;
  title: RichText[];
  icon: Json | null;
  inTrash: boolean;
  created: string;
  edited: string;
}

interface FakeBlock {
  id: string;
  parent: Json;
  type: string;
  content: Json;
  hasChildren: boolean;
  created: string;
}

/** A database: the container, with its data sources in order. */
interface FakeDatabase {
  id: string;
  parent: Json;
  title: string;
  dataSourceIds: string[];
  created: string;
}

/** One table of a database: its columns and (through the pages' parents) its rows. */
interface FakeDataSource {
  id: string;
  databaseId: string;
  title: string;
  /** Column name → { id, type, options?, relatedDataSourceId? }. */
  columns: Record<string, FakeColumn>;
  created: string;
}

interface FakeColumn {
  id: string;
  type: string;
  /** select / multi_select / status options. */
  options?: string[];
  /** relation: the data source it points to. */
  relatedDataSourceId?: string;
}

interface FakeComment {
  id: string;
  discussionId: string;
  parent: Json;
  authorId: string;
  richText: RichText[];
  created: string;
}

interface FakeUser {
  id: string;
  name: string;
  type: "person" | "bot";
  email?: string;
}

/** The ids of one key's seeded workspace, for tests. */
export interface NotionSeed {
  botId: string;
  botName: string;
  userIds: string[];
  /** "Team Home", shared at the workspace level; its content is 7 blocks. */
  rootPageId: string;
  rootBlockIds: string[];
  /** "Meeting notes", a sub-page of the root. */
  subPageId: string;
  /** "Tracker", a database under the root holding two data sources: "Tasks" and "Bugs". */
  databaseId: string;
  /**
   * "Tasks", the first data source, with the columns Name (title), Status (select: Not started, In progress,
   * Done), Done (checkbox), Estimate (number), Tags (multi_select: web, api, docs), Stage (status: Not started,
   * In progress, Done), Due (date), Notes (rich_text), Owner (people), Link (url), Contact (email),
   * Phone (phone_number), Related (relation to Tasks itself) and Created (created_time, read-only).
   */
  dataSourceId: string;
  /** Its rows: "Write launch post" (In progress), "Fix login bug" (Done, ticked), "Plan Q3" (Not started). */
  rowIds: string[];
  /**
   * "Bugs", the second data source, with other columns: Name (title), Severity (select: Low, High), Fixed
   * (checkbox) and Task (relation to Tasks).
   */
  bugsDataSourceId: string;
  /** Its rows: "Login button misaligned" (High), "Typo in footer" (Low, fixed). */
  bugIds: string[];
  /** An open discussion on the root page with one comment. */
  discussionId: string;
}

interface Workspace {
  seed: NotionSeed;
  users: FakeUser[];
  pages: Map<string, FakePage>;
  databases: Map<string, FakeDatabase>;
  dataSources: Map<string, FakeDataSource>;
  blocks: Map<string, FakeBlock>;
  /** Parent id (page or block) → child block ids, in order. */
  children: Map<string, string[]>;
  comments: FakeComment[];
}

export interface FakeNotion {
  url: string;
  /** Every request the fake received, in order. */
  requests: RecordedUpstreamRequest[];
  /** Accepts `key` as an integration secret of a fresh workspace named after `who`; returns its ids. */
  addKey(key: string, who: string): NotionSeed;
  /** Stops accepting a key (the integration's secret was rotated or the integration deleted). */
  removeKey(key: string): void;
  answerNext: FakeUpstream["answerNext"];
  stop(): void;
}

const norm = (id: string) => id.replaceAll("-", "").toLowerCase();
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const TEXT_TYPES = [
  "paragraph",
  "heading_1",
  "heading_2",
  "heading_3",
  "bulleted_list_item",
  "numbered_list_item",
  "quote",
  "to_do",
  "toggle",
  "callout",
  "code",
];
const BLOCK_TYPES = [...TEXT_TYPES, "divider"];

// Notion's times are whole minutes.
const now = () => {
  const d = new Date();
  d.setUTCSeconds(0, 0);
  return d.toISOString();
};

const isRecord = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

class NotionError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    /** Notion's `additional_data`, e.g. the data sources of a database an old version cannot address. */
    readonly additionalData?: Json,
  ) {
    super(message);
  }
}

/** Notion's error object, e.g. 401 `unauthorized` "API token is invalid.". */
export function notionError(status: number, code: string, message: string, additionalData?: Json): Json {
  return {
    object: "error",
    status,
    code,
    message,
    ...(additionalData && { additional_data: additionalData }),
    request_id: crypto.randomUUID(),
  };
}

const invalid = (message: string) => new NotionError(400, "validation_error", message);
const notFound = (kind: string, id: string) =>
  new NotionError(
    404,
    "object_not_found",
    `Could not find ${kind} with ID: ${id}. Make sure the relevant pages and databases are shared with your integration.`,
  );

function richText(content: string, link?: string): RichText {
  return {
    type: "text",
    text: { content, link: link ? { url: link } : null },
    annotations: {
      bold: false,
      italic: false,
      strikethrough: false,
      underline: false,
      code: false,
      color: "default",
    },
    plain_text: content,
    href: link ?? null,
  };
}

/** Request rich text (`[{ text: { content, link? }, annotations? }]`) as Notion returns it. */
function readRichText(value: unknown, where: string): RichText[] {
  if (!Array.isArray(value)) throw invalid(`body failed validation: ${where} should be an array.`);
  return value.map((item, i) => {
    const text = isRecord(item) && isRecord(item.text) ? item.text : undefined;
    if (!text || typeof text.content !== "string")
      throw invalid(`body failed validation: ${where}[${i}].text.content should be defined.`);
    if (text.content.length > 2000)
      throw invalid(
        `body failed validation: ${where}[${i}].text.content.length should be ≤ \`2000\`, instead was \`${text.content.length}\`.`,
      );
    const link = isRecord(text.link) && typeof text.link.url === "string" ? text.link.url : undefined;
    const out = richText(text.content, link);
    if (isRecord(item) && isRecord(item.annotations)) {
      out.annotations = { ...(out.annotations as Json), ...item.annotations };
    }
    return out;
  });
}

const plain = (rt: RichText[]) => rt.map((r) => String(r.plain_text)).join("");
const dashed = (id: string) => {
  const n = norm(id);
  return `${n.slice(0, 8)}-${n.slice(8, 12)}-${n.slice(12, 16)}-${n.slice(16, 20)}-${n.slice(20)}`;
};
const pageUrl = (title: string, id: string) =>
  `https://www.notion.so/${title.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "")}-${norm(id)}`;

function seedWorkspace(who: string): Workspace {
  const t = now();
  const ws: Workspace = {
    seed: {} as NotionSeed,
    users: [],
    pages: new Map(),
    databases: new Map(),
    dataSources: new Map(),
    blocks: new Map(),
    children: new Map(),
    comments: [],
  };
  const bot: FakeUser = { id: crypto.randomUUID(), name: `${who} MCP`, type: "bot" };
  const people: FakeUser[] = ["ada", "grace", "linus"].map((n) => ({
    id: crypto.randomUUID(),
    name: `${n} ${who}`,
    type: "person",
    email: `${n}.${who}@example.test`,
  }));
  ws.users.push(...people, bot);

  const root = crypto.randomUUID();
  const sub = crypto.randomUUID();
  const db = crypto.randomUUID();
  const tasks = crypto.randomUUID();
  const bugs = crypto.randomUUID();
  ws.pages.set(norm(root), {
    id: root,
    parent: { type: "workspace", workspace: true },
    values: {},
    title: [richText(`${who} Team Home`)],
    icon: { type: "emoji", emoji: "🏠" },
    inTrash: false,
    created: t,
    edited: t,
  });
  ws.pages.set(norm(sub), {
    id: sub,
    parent: { type: "page_id", page_id: root },
    values: {},
    title: [richText("Meeting notes")],
    icon: null,
    inTrash: false,
    created: t,
    edited: t,
  });
  ws.databases.set(norm(db), {
    id: db,
    parent: { type: "page_id", page_id: root },
    title: "Tracker",
    dataSourceIds: [tasks, bugs],
    created: t,
  });
  ws.dataSources.set(norm(tasks), {
    id: tasks,
    databaseId: db,
    title: "Tasks",
    columns: {
      Name: { id: "title", type: "title" },
      Status: { id: "Zs%3Fh", type: "select", options: ["Not started", "In progress", "Done"] },
      Done: { id: "k%5D%60a", type: "checkbox" },
      Estimate: { id: "a%3Bq%7D", type: "number" },
      Tags: { id: "Tg%3Fs", type: "multi_select", options: ["web", "api", "docs"] },
      Stage: { id: "St%40g", type: "status", options: ["Not started", "In progress", "Done"] },
      Due: { id: "D%5Ee", type: "date" },
      Notes: { id: "N%7Bt", type: "rich_text" },
      Owner: { id: "Ow%3Dn", type: "people" },
      Link: { id: "L%3Ak", type: "url" },
      Contact: { id: "C%40t", type: "email" },
      Phone: { id: "P%23h", type: "phone_number" },
      Related: { id: "R%7Cl", type: "relation", relatedDataSourceId: tasks },
      Created: { id: "Cr%3At", type: "created_time" },
    },
    created: t,
  });
  ws.dataSources.set(norm(bugs), {
    id: bugs,
    databaseId: db,
    title: "Bugs",
    columns: {
      Name: { id: "title", type: "title" },
      Severity: { id: "Sv%3Fy", type: "select", options: ["Low", "High"] },
      Fixed: { id: "Fx%5Dd", type: "checkbox" },
      Task: { id: "Tk%7Cr", type: "relation", relatedDataSourceId: tasks },
    },
    created: t,
  });
  const row = (dataSourceId: string, values: Record<string, unknown>, name: string): string => {
    const id = crypto.randomUUID();
    ws.pages.set(norm(id), {
      id,
      parent: { type: "data_source_id", data_source_id: dataSourceId, database_id: db },
      values: { Name: [richText(name)], ...values },
      title: [richText(name)],
      icon: null,
      inTrash: false,
      created: t,
      edited: t,
    });
    return id;
  };
  const rowIds = [
    row(tasks, { Status: "In progress", Done: false }, "Write launch post"),
    row(tasks, { Status: "Done", Done: true }, "Fix login bug"),
    row(tasks, { Status: "Not started", Done: false }, "Plan Q3"),
  ];
  const bugIds = [
    row(bugs, { Severity: "High", Fixed: false }, "Login button misaligned"),
    row(bugs, { Severity: "Low", Fixed: true }, "Typo in footer"),
  ];
  const rootBlocks: [string, Json][] = [
    ["heading_1", { rich_text: [richText("Welcome")], is_toggleable: false, color: "default" }],
    [
      "paragraph",
      {
        rich_text: [richText("Read the "), richText("handbook", "https://example.test/handbook")],
        color: "default",
      },
    ],
    ["to_do", { rich_text: [richText("Set up your laptop")], checked: true, color: "default" }],
    ["bulleted_list_item", { rich_text: [richText("Say hello in #general")], color: "default" }],
    ["bulleted_list_item", { rich_text: [richText("Book an intro call")], color: "default" }],
    ["child_page", { title: "Meeting notes" }],
    ["child_database", { title: "Tracker" }],
  ];
  const rootBlockIds = rootBlocks.map(([type, content]) => {
    const id = type === "child_page" ? sub : type === "child_database" ? db : crypto.randomUUID();
    ws.blocks.set(norm(id), {
      id,
      parent: { type: "page_id", page_id: root },
      type,
      content,
      hasChildren: type === "child_page" || type === "child_database",
      created: t,
    });
    return id;
  });
  ws.children.set(norm(root), [...rootBlockIds]);
  ws.children.set(norm(sub), []);
  const discussionId = crypto.randomUUID();
  ws.comments.push({
    id: crypto.randomUUID(),
    discussionId,
    parent: { type: "page_id", page_id: root },
    authorId: people[0]?.id ?? bot.id,
    richText: [richText("Can someone update the onboarding list?")],
    created: t,
  });
  ws.seed = {
    botId: bot.id,
    botName: bot.name,
    userIds: ws.users.map((u) => u.id),
    rootPageId: root,
    rootBlockIds,
    subPageId: sub,
    databaseId: db,
    dataSourceId: tasks,
    rowIds,
    bugsDataSourceId: bugs,
    bugIds,
    discussionId,
  };
  return ws;
}

// ---- Serialization, as the API (2025-09-03) returns its objects. ----

const userRef = (id: string) => ({ object: "user", id });

function userObject(u: FakeUser, workspaceName: string): Json {
  const base = { object: "user", id: u.id, name: u.name, avatar_url: null, type: u.type };
  return u.type === "person"
    ? { ...base, person: { email: u.email } }
    : { ...base, bot: { owner: { type: "workspace", workspace: true }, workspace_name: workspaceName } };
}

const option = (name: string) => ({ id: `opt-${norm(name)}`, name, color: "default" });

/** A stored column value as the page object shows it (empty columns are null or []). */
function propertyValue(col: FakeColumn, v: unknown, p: FakePage): unknown {
  switch (col.type) {
    case "checkbox":
      return v === true;
    case "select":
    case "status":
      return typeof v === "string" ? option(v) : null;
    case "multi_select":
      return Array.isArray(v) ? v.map((n) => option(String(n))) : [];
    case "rich_text":
      return Array.isArray(v) ? v : [];
    case "people":
      return Array.isArray(v) ? v.map((id) => ({ object: "user", id })) : [];
    case "relation":
      return Array.isArray(v) ? v.map((id) => ({ id })) : [];
    case "date":
      return isRecord(v) ? { start: v.start, end: v.end ?? null, time_zone: null } : null;
    case "created_time":
      return p.created;
    default:
      return v ?? null;
  }
}

/** The data source a page is a row of, if it is one. */
function sourceOf(ws: Workspace, p: FakePage): FakeDataSource | undefined {
  return p.parent.type === "data_source_id"
    ? ws.dataSources.get(norm(String(p.parent.data_source_id)))
    : undefined;
}

function pageObject(ws: Workspace, p: FakePage): Json {
  const ds = sourceOf(ws, p);
  let properties: Json;
  if (ds) {
    properties = Object.fromEntries(
      Object.entries(ds.columns).map(([name, col]) => {
        const value = col.type === "title" ? p.title : propertyValue(col, p.values[name], p);
        const extra = col.type === "relation" ? { has_more: false } : {};
        return [name, { id: col.id, type: col.type, [col.type]: value, ...extra }];
      }),
    );
  } else {
    properties = { title: { id: "title", type: "title", title: p.title } };
  }
  const bot = ws.seed.botId;
  return {
    object: "page",
    id: p.id,
    created_time: p.created,
    last_edited_time: p.edited,
    created_by: userRef(bot),
    last_edited_by: userRef(bot),
    cover: null,
    icon: p.icon,
    parent: p.parent,
    // `archived` is the deprecated alias of `in_trash`, still returned by 2025-09-03.
    archived: p.inTrash,
    in_trash: p.inTrash,
    properties,
    url: pageUrl(plain(p.title), p.id),
    public_url: null,
  };
}

/** `GET /v1/databases/{id}` in 2025-09-03: the container and its data sources, no properties. */
function databaseObject(ws: Workspace, d: FakeDatabase): Json {
  return {
    object: "database",
    id: d.id,
    title: [richText(d.title)],
    description: [],
    parent: d.parent,
    is_inline: true,
    in_trash: false,
    archived: false,
    created_time: d.created,
    last_edited_time: d.created,
    data_sources: d.dataSourceIds.map((id) => ({
      id,
      name: ws.dataSources.get(norm(id))?.title ?? "",
    })),
    icon: null,
    cover: null,
    url: `https://www.notion.so/${norm(d.id)}`,
    public_url: null,
  };
}

/** The schema of one column, as a data source's `properties` shows it. */
function columnSchema(ws: Workspace, name: string, col: FakeColumn): Json {
  let config: Json = {};
  if (col.options) config = { options: col.options.map(option) };
  if (col.type === "relation") {
    const target = ws.dataSources.get(norm(col.relatedDataSourceId ?? ""));
    config = {
      database_id: target?.databaseId,
      data_source_id: target?.id,
      type: "single_property",
      single_property: {},
    };
  }
  if (col.type === "number") config = { format: "number" };
  return { id: col.id, name, description: null, type: col.type, [col.type]: config };
}

/** `GET /v1/data_sources/{id}`, and a data source in search results. */
function dataSourceObject(ws: Workspace, ds: FakeDataSource): Json {
  const db = ws.databases.get(norm(ds.databaseId)) as FakeDatabase;
  const bot = ws.seed.botId;
  return {
    object: "data_source",
    id: ds.id,
    title: [richText(ds.title)],
    description: [],
    parent: { type: "database_id", database_id: ds.databaseId },
    database_parent: db.parent,
    is_inline: true,
    in_trash: false,
    archived: false,
    created_time: ds.created,
    last_edited_time: ds.created,
    created_by: userRef(bot),
    last_edited_by: userRef(bot),
    properties: Object.fromEntries(
      Object.entries(ds.columns).map(([name, col]) => [name, columnSchema(ws, name, col)]),
    ),
    icon: null,
    cover: null,
    url: `https://www.notion.so/${norm(ds.id)}`,
    public_url: null,
  };
}

function blockObject(ws: Workspace, b: FakeBlock): Json {
  const bot = ws.seed.botId;
  return {
    object: "block",
    id: b.id,
    parent: b.parent,
    created_time: b.created,
    last_edited_time: b.created,
    created_by: userRef(bot),
    last_edited_by: userRef(bot),
    has_children: b.hasChildren,
    archived: false,
    in_trash: false,
    type: b.type,
    [b.type]: b.content,
  };
}

function commentObject(c: FakeComment): Json {
  return {
    object: "comment",
    id: c.id,
    parent: c.parent,
    discussion_id: c.discussionId,
    created_time: c.created,
    last_edited_time: c.created,
    created_by: userRef(c.authorId),
    rich_text: c.richText,
  };
}

// ---- Request helpers. ----

function pageSizeOf(raw: unknown, where: string): number {
  if (raw === undefined || raw === null) return 100;
  const n = typeof raw === "string" ? Number(raw) : raw;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1)
    throw invalid(`${where} failed validation: ${where}.page_size should be a positive integer.`);
  if (n > 100)
    throw invalid(
      `${where} failed validation: ${where}.page_size should be ≤ \`100\`, instead was \`${n}\`.`,
    );
  return n;
}

/** One page of `items` (objects with an `id`): the cursor is the id of the first item of the next page. */
function paginate<T extends { id: string }>(
  items: T[],
  cursor: unknown,
  size: number,
  type: string,
  render: (item: T) => Json,
): Json {
  let start = 0;
  if (cursor !== undefined && cursor !== null) {
    start = typeof cursor === "string" ? items.findIndex((i) => norm(i.id) === norm(cursor)) : -1;
    if (start < 0) throw invalid(`The start_cursor provided is invalid: ${String(cursor)}`);
  }
  const slice = items.slice(start, start + size);
  const next = items[start + size];
  return {
    object: "list",
    results: slice.map(render),
    next_cursor: next ? next.id : null,
    has_more: next !== undefined,
    type,
    [type]: {},
  };
}

function pathId(raw: string | undefined, name: string): string {
  const id = decodeURIComponent(raw ?? "");
  if (!UUID.test(id))
    throw invalid(`path failed validation: path.${name} should be a valid uuid, instead was \`"${id}"\`.`);
  return id;
}

function bodyOf(req: RecordedUpstreamRequest): Json {
  if (req.text === "") return {};
  if (!isRecord(req.body)) throw new NotionError(400, "invalid_json", "Error parsing JSON body.");
  return req.body;
}

function readBlocks(value: unknown, where: string): { type: string; content: Json }[] {
  if (!Array.isArray(value)) throw invalid(`body failed validation: ${where} should be an array.`);
  if (value.length > 100)
    throw invalid(
      `body failed validation: ${where}.length should be ≤ \`100\`, instead was \`${value.length}\`.`,
    );
  return value.map((raw, i) => {
    if (!isRecord(raw)) throw invalid(`body failed validation: ${where}[${i}] should be an object.`);
    const type =
      typeof raw.type === "string" ? raw.type : (BLOCK_TYPES.find((t) => Object.hasOwn(raw, t)) ?? "");
    const content = raw[type];
    if (!BLOCK_TYPES.includes(type) || !isRecord(content))
      throw invalid(`body failed validation: ${where}[${i}] should be a block with a known type.`);
    if (type === "divider") return { type, content: {} };
    const out: Json = { rich_text: readRichText(content.rich_text, `${where}[${i}].${type}.rich_text`) };
    if (type === "to_do") out.checked = content.checked === true;
    if (type === "code") {
      out.language = typeof content.language === "string" ? content.language : "plain text";
      out.caption = [];
    } else out.color = "default";
    return { type, content: out };
  });
}

function addBlocks(
  ws: Workspace,
  parentId: string,
  parentType: string,
  list: { type: string; content: Json }[],
  after?: string,
): FakeBlock[] {
  const ids = ws.children.get(norm(parentId)) ?? [];
  let at = ids.length;
  if (after !== undefined) {
    at = ids.findIndex((id) => norm(id) === norm(after));
    if (at < 0) throw invalid(`Could not find block with ID: ${after} among the children of ${parentId}.`);
    at += 1;
  }
  const created = list.map(({ type, content }) => ({
    id: crypto.randomUUID(),
    parent: { type: parentType, [parentType]: parentId },
    type,
    content,
    hasChildren: false,
    created: now(),
  }));
  for (const b of created) ws.blocks.set(norm(b.id), b);
  ids.splice(at, 0, ...created.map((b) => b.id));
  ws.children.set(norm(parentId), ids);
  const parentBlock = ws.blocks.get(norm(parentId));
  if (parentBlock && created.length > 0) parentBlock.hasChildren = true;
  return created;
}

const DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/;
/** Types an integration cannot write (computed by Notion). */
const READ_ONLY_TYPES = new Set([
  "formula",
  "rollup",
  "created_time",
  "created_by",
  "last_edited_time",
  "last_edited_by",
  "unique_id",
]);

const shown = (v: unknown) => (v === undefined ? "`undefined`" : `\`${JSON.stringify(v)}\``);

/** `[{ name }]` or `[{ id }]` items, as select options, people and relations are written. */
function readRefs(value: unknown, where: string, key: "name" | "id"): string[] {
  if (!Array.isArray(value))
    throw invalid(`body failed validation: ${where} should be an array, instead was ${shown(value)}.`);
  if (value.length > 100)
    throw invalid(
      `body failed validation: ${where}.length should be ≤ \`100\`, instead was \`${value.length}\`.`,
    );
  return value.map((item, i) => readRef(item, `${where}[${i}]`, key));
}

function readRef(item: unknown, where: string, key: "name" | "id"): string {
  const v = isRecord(item) ? item[key] : undefined;
  if (typeof v !== "string" || v === "")
    throw invalid(`body failed validation: ${where}.${key} should be defined, instead was ${shown(v)}.`);
  if (key === "id" && !UUID.test(v))
    throw invalid(`body failed validation: ${where}.id should be a valid uuid, instead was ${shown(v)}.`);
  if (key === "name" && v.length > 100)
    throw invalid(
      `body failed validation: ${where}.name.length should be ≤ \`100\`, instead was \`${v.length}\`.`,
    );
  return key === "id" ? dashed(v) : v;
}

function readString(value: unknown, where: string, max: number): string | null {
  if (value === null) return null;
  if (typeof value !== "string")
    throw invalid(
      `body failed validation: ${where} should be a string or \`null\`, instead was ${shown(value)}.`,
    );
  if (value.length > max)
    throw invalid(
      `body failed validation: ${where}.length should be ≤ \`${max}\`, instead was \`${value.length}\`.`,
    );
  return value;
}

/** One column's value as a create/update request writes it, checked against the column's type. */
function readValue(col: [string, FakeColumn], key: string, raw: unknown): unknown {
  const [, c] = col;
  const where = `body.properties.${key}`;
  if (READ_ONLY_TYPES.has(c.type))
    throw invalid(`Cannot update ${key} of type ${c.type}: it is computed by Notion.`);
  if (!isRecord(raw)) throw invalid(`body failed validation: ${where} should be an object.`);
  const given = Object.keys(raw).filter((k) => k !== "type" && k !== "id");
  if (given.length !== 1 || given[0] !== c.type || (raw.type !== undefined && raw.type !== c.type))
    throw invalid(`${key} is expected to be ${c.type}.`);
  const v = raw[c.type];
  const at = `${where}.${c.type}`;
  switch (c.type) {
    case "title":
    case "rich_text":
      return readRichText(v, at);
    case "number":
      if (v !== null && (typeof v !== "number" || !Number.isFinite(v)))
        throw invalid(
          `body failed validation: ${at} should be a number or \`null\`, instead was ${shown(v)}.`,
        );
      return v;
    case "checkbox":
      if (typeof v !== "boolean")
        throw invalid(`body failed validation: ${at} should be a boolean, instead was ${shown(v)}.`);
      return v;
    case "select":
      return v === null ? null : readRef(v, at, "name");
    case "status": {
      if (v === null) return null;
      const name = readRef(v, at, "name");
      if (!c.options?.includes(name))
        throw invalid(`Invalid status option. Status option "${name}" does not exist.`);
      return name;
    }
    case "multi_select":
      return readRefs(v, at, "name");
    case "people":
    case "relation":
      return readRefs(v, at, "id");
    case "date": {
      if (v === null) return null;
      const start = isRecord(v) ? v.start : undefined;
      const end = isRecord(v) ? (v.end ?? null) : null;
      if (typeof start !== "string" || !DATE.test(start))
        throw invalid(
          `body failed validation: ${at}.start should be a valid ISO 8601 date string, instead was ${shown(start)}.`,
        );
      if (end !== null && (typeof end !== "string" || !DATE.test(end)))
        throw invalid(
          `body failed validation: ${at}.end should be a valid ISO 8601 date string, instead was ${shown(end)}.`,
        );
      return { start, end };
    }
    case "url":
      return readString(v, at, 2000);
    case "email":
    case "phone_number":
      return readString(v, at, 200);
    default:
      throw invalid(`${key} is expected to be ${c.type}.`);
  }
}

/**
 * Applies `properties` of a create/update request as Notion does: keys are column names or property ids (the
 * title's id is always "title"; a page outside a database has only that one), each value must be of the
 * column's type, and nothing is written unless every value is valid. select/multi_select add unknown options.
 */
function page(ws: Workspace, id: string): FakePage {
  const p = ws.pages.get(norm(id));
  if (!p) throw notFound("page", id);
  return p;
}

function database(ws: Workspace, id: string): FakeDatabase {
  const d = ws.databases.get(norm(id));
  if (!d) throw notFound("database", id);
  return d;
}

/** A data source by its id; a database id is not one (404, as Notion answers it). */
function source(ws: Workspace, id: string): FakeDataSource {
  const ds = ws.dataSources.get(norm(id));
  if (!ds) throw notFound("data_source", id);
  return ds;
}

/**
 * The upgrade guide's answer to a database id that no longer names one table: 400 validation_error with
 * `additional_data` listing the data sources to use instead.
 */
function multipleDataSources(d: FakeDatabase): NotionError {
  return new NotionError(
    400,
    "validation_error",
    "Databases with multiple data sources are not supported in this API version.",
    {},
    {
      error_type: "multiple_data_sources_for_database",
      database_id: d.id,
      child_data_source_ids: [...d.dataSourceIds],
      minimum_api_version: NOTION_VERSION,
    },
  );
}

const unknownRoute = () => new NotionError(400, "invalid_request_url", "Invalid request URL.");

// ---- Filters of POST /v1/data_sources/{id}/query (the subset the fake data can answer). ----

function matches(ws: Workspace, ds: FakeDataSource, p: FakePage, filter: Json): boolean {
  if (Array.isArray(filter.and)) return filter.and.every((f) => isRecord(f) && matches(ws, ds, p, f));
  if (Array.isArray(filter.or)) return filter.or.some((f) => isRecord(f) && matches(ws, ds, p, f));
  const name = typeof filter.property === "string" ? filter.property : undefined;
  if (name === undefined) throw invalid("body failed validation: body.filter.property should be defined.");
  const entry = Object.entries(ds.columns).find(([n, c]) => n === name || c.id === name);
  if (!entry) throw invalid(`Could not find property with name or id: ${name}`);
  const [colName, col] = entry;
  const cond = filter[col.type];
  if (!isRecord(cond))
    throw invalid(
      `body failed validation: body.filter.${col.type} should be defined, instead was \`undefined\`.`,
    );
  const value = col.type === "title" ? plain(p.title) : p.values[colName];
  if (col.type === "checkbox") {
    if ("equals" in cond) return value === cond.equals;
    return value !== cond.does_not_equal;
  }
  if (cond.is_empty === true) return value === undefined || value === null || value === "";
  if (cond.is_not_empty === true) return !(value === undefined || value === null || value === "");
  const s = String(value ?? "");
  if (typeof cond.equals === "string") return s === cond.equals;
  if (typeof cond.does_not_equal === "string") return s !== cond.does_not_equal;
  if (typeof cond.contains === "string") return s.toLowerCase().includes(cond.contains.toLowerCase());
  if (typeof cond.does_not_contain === "string")
    return !s.toLowerCase().includes(cond.does_not_contain.toLowerCase());
  if (typeof cond.starts_with === "string") return s.startsWith(cond.starts_with);
  if (typeof cond.ends_with === "string") return s.endsWith(cond.ends_with);
  throw invalid(`body failed validation: body.filter.${col.type} has no known condition.`);
}

function queryDataSource(ws: Workspace, ds: FakeDataSource, body: Json): Json {
  let rows = [...ws.pages.values()].filter(
    (p) => !p.inTrash && norm(String(p.parent.data_source_id ?? "")) === norm(ds.id),
  );
  if (body.filter !== undefined) {
    if (!isRecord(body.filter)) throw invalid("body failed validation: body.filter should be an object.");
    const f = body.filter;
    rows = rows.filter((p) => matches(ws, ds, p, f));
  }
  if (Array.isArray(body.sorts)) {
    for (const s of [...body.sorts].reverse()) {
      if (!isRecord(s)) continue;
      const dir = s.direction === "descending" ? -1 : 1;
      const key = (p: FakePage) =>
        s.timestamp === "created_time"
          ? p.created
          : s.timestamp === "last_edited_time"
            ? p.edited
            : s.property === "Name" || s.property === "title"
              ? plain(p.title)
              : String(p.values[String(s.property)] ?? "");
      rows = rows.sort((a, b) => dir * key(a).localeCompare(key(b)));
    }
  }
  return paginate(rows, body.start_cursor, pageSizeOf(body.page_size, "body"), "page_or_data_source", (p) =>
    pageObject(ws, p),
  );
}

// ---- Routes (2025-09-03). ----

function route(ws: Workspace, req: RecordedUpstreamRequest, url: URL): Json {
  const parts = url.pathname.split("/").slice(1);
  const [v1, kind, rawId, sub, ...rest] = parts;
  const m = req.method;
  if (v1 !== "v1" || rest.length > 0) throw unknownRoute();
  const q = url.searchParams;
  const workspaceName = `${ws.seed.botName.replace(/ MCP$/, "")}'s Notion`;

  if (kind === "users" && rawId === "me" && sub === undefined && m === "GET") {
    const bot = ws.users.find((u) => u.type === "bot");
    return userObject(bot as FakeUser, workspaceName);
  }
  if (kind === "users" && rawId === undefined && m === "GET") {
    return paginate(
      ws.users,
      q.get("start_cursor") ?? undefined,
      pageSizeOf(q.get("page_size") ?? undefined, "query"),
      "user",
      (u) => userObject(u, workspaceName),
    );
  }
  if (kind === "search" && rawId === undefined && m === "POST") {
    const body = bodyOf(req);
    const query = typeof body.query === "string" ? body.query.toLowerCase() : "";
    let only: string | undefined;
    if (body.filter !== undefined) {
      const f = body.filter;
      if (!isRecord(f) || f.property !== "object" || (f.value !== "page" && f.value !== "data_source"))
        throw invalid(
          `body failed validation: body.filter.value should be \`"page"\` or \`"data_source"\`, instead was ${shown(isRecord(f) ? f.value : f)}.`,
        );
      only = String(f.value);
    }
    // Every data source is its own result, so a database with two data sources appears twice.
    type Hit = { id: string; object: string; title: string; edited: string };
    let hits: Hit[] = [
      ...[...ws.pages.values()]
        .filter((p) => !p.inTrash)
        .map((p) => ({ id: p.id, object: "page", title: plain(p.title), edited: p.edited })),
      ...[...ws.dataSources.values()].map((d) => ({
        id: d.id,
        object: "data_source",
        title: d.title,
        edited: d.created,
      })),
    ].filter((h) => (only === undefined || h.object === only) && h.title.toLowerCase().includes(query));
    if (isRecord(body.sort)) {
      const dir = body.sort.direction === "ascending" ? 1 : -1;
      hits = hits.sort((a, b) => dir * a.edited.localeCompare(b.edited));
    }
    return paginate(
      hits,
      body.start_cursor,
      pageSizeOf(body.page_size, "body"),
      "page_or_data_source",
      (h) =>
        h.object === "page"
          ? pageObject(ws, page(ws, h.id))
          : dataSourceObject(ws, ws.dataSources.get(norm(h.id)) as FakeDataSource),
    );
  }
  if (kind === "pages" && rawId === undefined && m === "POST") return createPage(ws, bodyOf(req));
  if (kind === "pages" && sub === undefined && m === "GET")
    return pageObject(ws, page(ws, pathId(rawId, "page_id")));
  if (kind === "pages" && sub === undefined && m === "PATCH") {
    const p = page(ws, pathId(rawId, "page_id"));
    const body = bodyOf(req);
    const restore = body.in_trash === false || body.archived === false;
    if (p.inTrash && !restore)
      throw invalid("Can't edit block that is archived. You must unarchive the block before editing.");
    if (body.properties !== undefined) setProperties(ws, p, body.properties);
    if (isRecord(body.icon)) p.icon = { type: "emoji", emoji: body.icon.emoji };
    if (typeof body.archived === "boolean") p.inTrash = body.archived;
    if (typeof body.in_trash === "boolean") p.inTrash = body.in_trash;
    p.edited = now();
    return pageObject(ws, p);
  }
  if (kind === "blocks" && sub === "children") {
    const id = pathId(rawId, "block_id");
    const ids = ws.children.get(norm(id));
    if (!ids) throw notFound("block", id);
    if (m === "GET") {
      const blocks = ids.map((b) => ws.blocks.get(norm(b)) as FakeBlock);
      return paginate(
        blocks,
        q.get("start_cursor") ?? undefined,
        pageSizeOf(q.get("page_size") ?? undefined, "query"),
        "block",
        (b) => blockObject(ws, b),
      );
    }
    if (m === "PATCH") {
      const body = bodyOf(req);
      const list = readBlocks(body.children, "body.children");
      if (body.after !== undefined && typeof body.after !== "string")
        throw invalid("body failed validation: body.after should be a string.");
      const parentType = ws.pages.has(norm(id)) ? "page_id" : "block_id";
      const created = addBlocks(ws, id, parentType, list, body.after as string | undefined);
      return paginate(created, undefined, 100, "block", (b) => blockObject(ws, b));
    }
  }
  if (kind === "databases" && sub === undefined && m === "GET")
    return databaseObject(ws, database(ws, pathId(rawId, "database_id")));
  // `POST /v1/databases/{id}/query` is 2022-06-28's; from 2025-09-03 a query names a data source.
  if (kind === "data_sources" && sub === undefined && m === "GET")
    return dataSourceObject(ws, source(ws, pathId(rawId, "data_source_id")));
  if (kind === "data_sources" && sub === "query" && m === "POST")
    return queryDataSource(ws, source(ws, pathId(rawId, "data_source_id")), bodyOf(req));
  if (kind === "comments" && rawId === undefined && m === "GET") {
    const blockId = q.get("block_id");
    if (!blockId || !UUID.test(blockId))
      throw invalid("query failed validation: query.block_id should be a valid uuid.");
    if (!ws.pages.has(norm(blockId)) && !ws.blocks.has(norm(blockId))) throw notFound("block", blockId);
    const list = ws.comments.filter(
      (c) => norm(String(c.parent.page_id ?? c.parent.block_id ?? "")) === norm(blockId),
    );
    return paginate(
      list,
      q.get("start_cursor") ?? undefined,
      pageSizeOf(q.get("page_size") ?? undefined, "query"),
      "comment",
      commentObject,
    );
  }
  if (kind === "comments" && rawId === undefined && m === "POST") return createComment(ws, bodyOf(req));
  throw unknownRoute();
}

/**
 * A request sent with 2022-06-28: the failures the upgrade guide documents once a database has a second data
 * source (retrieve, query, or create a page with the database as parent), and no `/v1/data_sources` routes.
 * Anything else is refused: this fake serves only 2025-09-03.
 */
function oldVersionRoute(ws: Workspace, req: RecordedUpstreamRequest, url: URL): Json {
  const [, kind, rawId, sub] = url.pathname.split("/").slice(1);
  let databaseId: string | undefined;
  if (kind === "data_sources") throw unknownRoute();
  if (kind === "databases" && rawId !== undefined) {
    if ((sub === undefined && req.method === "GET") || (sub === "query" && req.method === "POST"))
      databaseId = pathId(rawId, "database_id");
  }
  if (kind === "pages" && rawId === undefined && req.method === "POST") {
    const parent = bodyOf(req).parent;
    if (isRecord(parent) && typeof parent.database_id === "string") databaseId = parent.database_id;
  }
  if (databaseId !== undefined) {
    const d = database(ws, databaseId);
    if (d.dataSourceIds.length > 1) throw multipleDataSources(d);
  }
  throw unsupportedVersion(OLD_NOTION_VERSION);
}

/** Not Notion's: this fake answers one version, so a definition sending another is caught at once. */
const unsupportedVersion = (version: string) =>
  new NotionError(
    400,
    "validation_error",
    `Notion-Version header failed validation: this fake serves only \`"${NOTION_VERSION}"\`, instead was \`"${version}"\`.`,
  );

/**
 * Applies `properties` of a create/update request as Notion does: keys are column names or property ids (the
 * title's id is always "title"; a page outside a data source has only that one), each value must be of the
 * column's type, and nothing is written unless every value is valid. select/multi_select add unknown options.
 */
function setProperties(ws: Workspace, p: FakePage, properties: unknown): void {
  if (!isRecord(properties)) throw invalid("body failed validation: body.properties should be an object.");
  const ds = sourceOf(ws, p);
  const updates: [string, FakeColumn, unknown][] = [];
  for (const [key, value] of Object.entries(properties)) {
    const col: [string, FakeColumn] | undefined = ds
      ? Object.entries(ds.columns).find(([n, c]) => n === key || c.id === key)
      : key === "title"
        ? ["title", { id: "title", type: "title" }]
        : undefined;
    if (!col) throw invalid(`${key} is not a property that exists.`);
    updates.push([col[0], col[1], readValue(col, key, value)]);
  }
  for (const [name, col, value] of updates) {
    if (col.type === "title") p.title = value as RichText[];
    else p.values[name] = value;
    const names = col.type === "select" ? [value] : col.type === "multi_select" ? (value as unknown[]) : [];
    for (const n of names)
      if (typeof n === "string" && col.options && !col.options.includes(n)) col.options.push(n);
  }
}

const PARENT_KEYS = ["page_id", "data_source_id", "database_id"] as const;

/**
 * `POST /v1/pages`: the parent is `{ page_id }`, `{ data_source_id }` or (older integrations) `{ database_id }`,
 * each with an optional matching `type`. A database parent is only precise enough while the database has one
 * data source; with several the fake answers the upgrade guide's 2022-06-28 error (an assumption for 2025-09-03,
 * which the definition never relies on: it always sends a data source id).
 */
function createPage(ws: Workspace, body: Json): Json {
  const parent = body.parent;
  if (!isRecord(parent))
    throw invalid("body failed validation: body.parent should be defined, instead was `undefined`.");
  const given = PARENT_KEYS.filter((k) => parent[k] !== undefined);
  const key = given[0];
  if (given.length !== 1 || key === undefined || (parent.type !== undefined && parent.type !== key))
    throw invalid(
      "body failed validation. Fix one: body.parent.page_id should be defined, instead was `undefined`. body.parent.data_source_id should be defined, instead was `undefined`. body.parent.database_id should be defined, instead was `undefined`.",
    );
  const id = parent[key];
  if (typeof id !== "string" || !UUID.test(id))
    throw invalid(
      `body failed validation: body.parent.${key} should be a valid uuid, instead was ${shown(id)}.`,
    );
  let pageParent: Json;
  let rowOf: FakeDataSource | undefined;
  if (key === "page_id") {
    page(ws, id);
    pageParent = { type: "page_id", page_id: dashed(id) };
  } else {
    if (key === "database_id") {
      const d = database(ws, id);
      if (d.dataSourceIds.length > 1) throw multipleDataSources(d);
      rowOf = source(ws, d.dataSourceIds[0] ?? "");
    } else rowOf = source(ws, id);
    pageParent = { type: "data_source_id", data_source_id: rowOf.id, database_id: rowOf.databaseId };
  }
  const children = body.children === undefined ? [] : readBlocks(body.children, "body.children");
  const t = now();
  const p: FakePage = {
    id: crypto.randomUUID(),
    parent: pageParent,
    values: {},
    title: [],
    icon: isRecord(body.icon) ? { type: "emoji", emoji: body.icon.emoji } : null,
    inTrash: false,
    created: t,
    edited: t,
  };
  if (body.properties !== undefined) setProperties(ws, p, body.properties);
  ws.pages.set(norm(p.id), p);
  ws.children.set(norm(p.id), []);
  if (key === "page_id") {
    const block: FakeBlock = {
      id: p.id,
      parent: pageParent,
      type: "child_page",
      content: { title: plain(p.title) },
      hasChildren: true,
      created: t,
    };
    ws.blocks.set(norm(p.id), block);
    ws.children.get(norm(id))?.push(p.id);
  }
  addBlocks(ws, p.id, "page_id", children);
  return pageObject(ws, p);
}

function createComment(ws: Workspace, body: Json): Json {
  const parentId =
    isRecord(body.parent) && typeof body.parent.page_id === "string" ? body.parent.page_id : undefined;
  const discussion = typeof body.discussion_id === "string" ? body.discussion_id : undefined;
  if ((parentId === undefined) === (discussion === undefined))
    throw invalid(
      "body failed validation. Fix one: body.parent should be defined, instead was `undefined`. body.discussion_id should be defined, instead was `undefined`.",
    );
  const rich = readRichText(body.rich_text, "body.rich_text");
  let parent: Json;
  let discussionId: string;
  if (parentId !== undefined) {
    page(ws, parentId);
    parent = { type: "page_id", page_id: dashed(parentId) };
    discussionId = crypto.randomUUID();
  } else {
    const first = ws.comments.find((c) => norm(c.discussionId) === norm(discussion ?? ""));
    if (!first) throw notFound("discussion", discussion ?? "");
    parent = first.parent;
    discussionId = first.discussionId;
  }
  const comment: FakeComment = {
    id: crypto.randomUUID(),
    discussionId,
    parent,
    authorId: ws.seed.botId,
    richText: rich,
    created: now(),
  };
  ws.comments.push(comment);
  return commentObject(comment);
}

/** Starts the fake; add each test user's key with `addKey`. */
export async function startNotionFake(): Promise<FakeNotion> {
  const workspaces = new Map<string, Workspace>();
  const upstream = await startFakeUpstream((req, url) => {
    const reply = (status: number, body: Json, headers: Record<string, string> = {}) =>
      json(status < 300 ? { ...body, request_id: crypto.randomUUID() } : body, status, headers);
    const auth = req.headers.authorization ?? "";
    const ws = auth.startsWith("Bearer ") ? workspaces.get(auth.slice(7)) : undefined;
    if (!ws) return reply(401, notionError(401, "unauthorized", "API token is invalid."));
    const version = req.headers["notion-version"];
    if (version === undefined)
      return reply(
        400,
        notionError(
          400,
          "missing_version",
          "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.",
        ),
      );
    try {
      if (version === NOTION_VERSION) return reply(200, route(ws, req, url));
      if (version === OLD_NOTION_VERSION) return reply(200, oldVersionRoute(ws, req, url));
      throw unsupportedVersion(version);
    } catch (err) {
      if (!(err instanceof NotionError)) throw err;
      return reply(
        err.status,
        notionError(err.status, err.code, err.message, err.additionalData),
        err.headers,
      );
    }
  });
  return {
    url: upstream.url,
    requests: upstream.requests,
    addKey(key, who) {
      const ws = seedWorkspace(who);
      workspaces.set(key, ws);
      return ws.seed;
    },
    removeKey: (key) => void workspaces.delete(key),
    answerNext: upstream.answerNext,
    stop: upstream.stop,
  };
}

/** Notion's 429 answer, with Retry-After in seconds. */
export function rateLimited(retryAfterSeconds: number): Response {
  return json(
    notionError(429, "rate_limited", "You have been rate limited. Please try again in a few minutes."),
    429,
    { "retry-after": String(retryAfterSeconds) },
  );
}
