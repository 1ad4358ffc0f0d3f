// A fake Jira Cloud REST API v3 for the Jira service suite, built on the generic fake upstream: Basic auth
// with the account email and an API token, the documented paths, bodies and status codes, the enhanced JQL
// search's `nextPageToken` pages, the project search's `startAt`/`total` pages, and Jira's error bodies
// (`{ errorMessages: [...], errors: { field: message } }`, a plain-text 401 for a rejected token).
import { type FakeUpstream, json, type RecordedUpstreamRequest, startFakeUpstream } from "./upstream.ts";

export interface JiraUser {
  accountId: string;
  displayName: string;
  emailAddress: string;
}

interface Status {
  id: string;
  name: string;
  category: { id: number; key: string; name: string; colorName: string };
}

interface Comment {
  id: string;
  author: JiraUser;
  body: unknown;
  created: string;
}

interface Issue {
  id: string;
  key: string;
  projectKey: string;
  summary: string;
  type: string;
  status: Status;
  priority: string;
  assignee: JiraUser | null;
  reporter: JiraUser;
  labels: string[];
  description: unknown;
  resolution: string | null;
  parent: string | null;
  comments: Comment[];
  created: string;
  updated: string;
}

interface Project {
  id: string;
  key: string;
  name: string;
  projectTypeKey: string;
  /** The caller may browse it but lacks the Assign Issues permission. */
  noAssign?: boolean;
}

/** One account's Jira: what its API token sees. */
interface Tenant {
  me: JiraUser;
  users: JiraUser[];
  projects: Project[];
  issues: Issue[];
  nextId: number;
}

export interface FakeJiraAccount extends JiraUser {
  token: string;
  /** The `Authorization` header Jira expects for this email and token. */
  authorization: string;
}

export interface FakeJira {
  url: string;
  requests: RecordedUpstreamRequest[];
  /** A fresh account with its own site data; its email and API token are accepted from now on. */
  addAccount(opts: { email: string; token: string; displayName: string }): FakeJiraAccount;
  /** The token stops working (revoked upstream): answered 401 from then on. */
  revoke(email: string, token: string): void;
  answerNext: FakeUpstream["answerNext"];
  stop(): void;
}

export const basicAuth = (email: string, token: string): string =>
  `Basic ${Buffer.from(`${email}:${token}`).toString("base64")}`;

const STATUSES: Record<string, Status> = {
  todo: {
    id: "10000",
    name: "To Do",
    category: { id: 2, key: "new", name: "To Do", colorName: "blue-gray" },
  },
  progress: {
    id: "3",
    name: "In Progress",
    category: { id: 4, key: "indeterminate", name: "In Progress", colorName: "yellow" },
  },
  done: { id: "10001", name: "Done", category: { id: 3, key: "done", name: "Done", colorName: "green" } },
};
const TRANSITIONS = [
  { id: "11", name: "To Do", to: STATUSES.todo as Status },
  { id: "21", name: "In Progress", to: STATUSES.progress as Status },
  { id: "31", name: "Done", to: STATUSES.done as Status },
];
const ISSUE_TYPES: Record<string, { id: string; subtask: boolean; hierarchyLevel: number }> = {
  Task: { id: "10001", subtask: false, hierarchyLevel: 0 },
  Bug: { id: "10004", subtask: false, hierarchyLevel: 0 },
  Story: { id: "10002", subtask: false, hierarchyLevel: 0 },
  Epic: { id: "10000", subtask: false, hierarchyLevel: 1 },
  Subtask: { id: "10003", subtask: true, hierarchyLevel: -1 },
};
const PRIORITIES: Record<string, string> = { Highest: "1", High: "2", Medium: "3", Low: "4", Lowest: "5" };
const NAVIGABLE = [
  "summary",
  "status",
  "issuetype",
  "priority",
  "assignee",
  "reporter",
  "project",
  "labels",
  "created",
  "updated",
  "duedate",
  "resolution",
  "parent",
  "description",
  "subtasks",
  "comment",
  "customfield_10020",
  "watches",
];
const NOT_FOUND = "Issue does not exist or you do not have permission to see it.";
const T0 = Date.parse("2026-03-02T09:00:00.000Z");
const when = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString().replace("Z", "+0000");

const jiraError = (status: number, errorMessages: string[], errors: Record<string, string> = {}) =>
  json({ errorMessages, errors }, status);
const noContent = () => new Response(null, { status: 204 });

const paragraph = (text: string) => ({
  type: "doc",
  version: 1,
  content: [{ type: "paragraph", content: [{ type: "text", text }] }],
});

/** Jira v3 takes rich text only as an Atlassian Document Format `doc`. */
const isAdf = (v: unknown): boolean =>
  typeof v === "object" &&
  v !== null &&
  (v as { type?: unknown }).type === "doc" &&
  (v as { version?: unknown }).version === 1 &&
  Array.isArray((v as { content?: unknown }).content);

function seedTenant(me: JiraUser, n: number): Tenant {
  const hex = (i: number) => `${n.toString(16).padStart(6, "0")}${i.toString(16).padStart(4, "0")}`;
  const users = [
    me,
    { accountId: `5b10ac8d82e0${hex(2)}ab`, displayName: "Grace Hopper", emailAddress: "grace@example.com" },
    { accountId: `5b10ac8d82e0${hex(3)}ab`, displayName: "Alan Turing", emailAddress: "alan@example.com" },
    {
      accountId: `5b10ac8d82e0${hex(4)}ab`,
      displayName: "Alonzo Church",
      emailAddress: "alonzo@example.com",
    },
  ];
  const projects: Project[] = [
    { id: "10000", key: "ACME", name: "Acme Web", projectTypeKey: "software" },
    { id: "10001", key: "OPS", name: "Operations", projectTypeKey: "business" },
    { id: "10002", key: "SEC", name: "Security", projectTypeKey: "software", noAssign: true },
  ];
  const tenant: Tenant = { me, users, projects, issues: [], nextId: 10_100 };
  const add = (projectKey: string, summary: string, extra: Partial<Issue> = {}) => {
    const number = tenant.issues.filter((i) => i.projectKey === projectKey).length + 1;
    const i = tenant.issues.length;
    tenant.issues.push({
      id: String(tenant.nextId++),
      key: `${projectKey}-${number}`,
      projectKey,
      summary,
      type: "Task",
      status: STATUSES.todo as Status,
      priority: "Medium",
      assignee: null,
      reporter: me,
      labels: [],
      description: paragraph(`Details of: ${summary}`),
      resolution: null,
      parent: null,
      comments: [],
      created: when(i * 60),
      updated: when(i * 60 + 5),
      ...extra,
    });
  };
  add("ACME", "Login page rejects valid passwords", { type: "Bug", priority: "High", assignee: me });
  add("ACME", "Add dark mode", { type: "Story", labels: ["frontend"] });
  add("ACME", "Upgrade the database driver", { status: STATUSES.progress as Status, assignee: me });
  add("ACME", "Write the release notes");
  add("ACME", "Remove the legacy API", { priority: "Low" });
  add("OPS", "Rotate the TLS certificates", { assignee: users[1] as JiraUser });
  add("SEC", "Quarterly access review");
  const first = tenant.issues[0];
  if (first)
    first.comments.push({
      id: "10200",
      author: users[1] as JiraUser,
      body: paragraph("I can reproduce it."),
      created: when(30),
    });
  return tenant;
}

function userJson(u: JiraUser, origin: string) {
  return {
    self: `${origin}/rest/api/3/user?accountId=${u.accountId}`,
    accountId: u.accountId,
    accountType: "atlassian",
    emailAddress: u.emailAddress,
    avatarUrls: { "48x48": `https://avatar-management.example/${u.accountId}/48` },
    displayName: u.displayName,
    active: true,
    timeZone: "Europe/London",
    locale: "en_GB",
  };
}

function statusJson(s: Status, origin: string) {
  return {
    self: `${origin}/rest/api/3/status/${s.id}`,
    description: "",
    iconUrl: `${origin}/images/icons/statuses/generic.png`,
    name: s.name,
    id: s.id,
    statusCategory: { self: `${origin}/rest/api/3/statuscategory/${s.category.id}`, ...s.category },
  };
}

function projectJson(p: Project, origin: string) {
  return {
    expand: "description,lead,issueTypes,url,projectKeys,permissions,insight",
    self: `${origin}/rest/api/3/project/${p.id}`,
    id: p.id,
    key: p.key,
    name: p.name,
    avatarUrls: { "48x48": `${origin}/rest/api/3/universal_avatar/view/type/project/avatar/10400` },
    projectTypeKey: p.projectTypeKey,
    simplified: false,
    style: "classic",
    isPrivate: false,
    properties: {},
  };
}

function commentJson(c: Comment, issue: Issue, origin: string) {
  const author = userJson(c.author, origin);
  return {
    self: `${origin}/rest/api/3/issue/${issue.id}/comment/${c.id}`,
    id: c.id,
    author,
    body: c.body,
    updateAuthor: author,
    created: c.created,
    updated: c.created,
    jsdPublic: true,
  };
}

function allFields(t: Tenant, issue: Issue, origin: string): Record<string, unknown> {
  const type = ISSUE_TYPES[issue.type] ?? { id: "10001", subtask: false, hierarchyLevel: 0 };
  const project = t.projects.find((p) => p.key === issue.projectKey) as Project;
  const parent = issue.parent ? t.issues.find((i) => i.key === issue.parent) : undefined;
  const ref = (i: Issue) => ({
    id: i.id,
    key: i.key,
    self: `${origin}/rest/api/3/issue/${i.id}`,
    fields: { summary: i.summary, status: statusJson(i.status, origin) },
  });
  return {
    summary: issue.summary,
    status: statusJson(issue.status, origin),
    issuetype: {
      self: `${origin}/rest/api/3/issuetype/${type.id}`,
      id: type.id,
      description: "",
      iconUrl: `${origin}/rest/api/2/universal_avatar/view/type/issuetype/avatar/10318`,
      name: issue.type,
      subtask: type.subtask,
      avatarId: 10318,
      hierarchyLevel: type.hierarchyLevel,
    },
    priority: {
      self: `${origin}/rest/api/3/priority/${PRIORITIES[issue.priority]}`,
      iconUrl: `${origin}/images/icons/priorities/${issue.priority.toLowerCase()}.svg`,
      name: issue.priority,
      id: PRIORITIES[issue.priority],
    },
    assignee: issue.assignee ? userJson(issue.assignee, origin) : null,
    reporter: userJson(issue.reporter, origin),
    project: projectJson(project, origin),
    labels: issue.labels,
    created: issue.created,
    updated: issue.updated,
    duedate: null,
    resolution: issue.resolution
      ? {
          self: `${origin}/rest/api/3/resolution/10000`,
          id: "10000",
          description: "",
          name: issue.resolution,
        }
      : null,
    ...(parent && { parent: ref(parent) }),
    description: issue.description,
    subtasks: t.issues.filter((i) => i.parent === issue.key).map(ref),
    comment: {
      comments: issue.comments.map((c) => commentJson(c, issue, origin)),
      self: `${origin}/rest/api/3/issue/${issue.id}/comment`,
      maxResults: issue.comments.length,
      total: issue.comments.length,
      startAt: 0,
    },
    customfield_10020: null,
    watches: { self: `${origin}/rest/api/3/issue/${issue.key}/watchers`, watchCount: 1, isWatching: true },
  };
}

/** `fields` as Jira reads it: a comma list; `*all`/`*navigable` for every field; `defaults` when absent. */
function issueJson(
  t: Tenant,
  issue: Issue,
  origin: string,
  fieldsParam: string | undefined,
  defaults: string[],
) {
  const wanted = fieldsParam === undefined ? defaults : fieldsParam.split(",").map((f) => f.trim());
  const all = allFields(t, issue, origin);
  const fields: Record<string, unknown> = {};
  for (const name of wanted.includes("*all") || wanted.includes("*navigable") ? NAVIGABLE : wanted) {
    if (name in all) fields[name] = all[name];
  }
  return {
    expand: "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
    id: issue.id,
    self: `${origin}/rest/api/3/issue/${issue.id}`,
    key: issue.key,
    ...(wanted.length === 1 && wanted[0] === "id" ? {} : { fields }),
  };
}

const findIssue = (t: Tenant, idOrKey: string) =>
  t.issues.find((i) => i.id === idOrKey || i.key.toLowerCase() === idOrKey.toLowerCase());

/** A small part of JQL: `a = b AND c != "d" ORDER BY x` over project, key, status, assignee. */
function runJql(t: Tenant, jql: string): Issue[] | { error: string } {
  const where = jql.replace(/\s+order\s+by\s+.*$/i, "").trim();
  if (where === "" || /^order\s+by/i.test(where)) {
    return {
      error: "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.",
    };
  }
  let result = t.issues;
  for (const clause of where.split(/\s+and\s+/i)) {
    const m = /^(\w+)\s*(!=|=)\s*(?:"([^"]*)"|'([^']*)'|([\w().-]+))$/.exec(clause.trim());
    if (!m) return { error: `Error in the JQL Query: Expecting operator but got '${clause.slice(0, 40)}'.` };
    const [, field = "", op, q1, q2, q3] = m;
    const value = (q1 ?? q2 ?? q3 ?? "").toLowerCase();
    const get: Record<string, (i: Issue) => string> = {
      project: (i) => i.projectKey.toLowerCase(),
      key: (i) => i.key.toLowerCase(),
      status: (i) => i.status.name.toLowerCase(),
      assignee: (i) => (i.assignee?.accountId ?? "").toLowerCase(),
    };
    const read = get[field.toLowerCase()];
    if (!read) return { error: `Field '${field}' does not exist or you do not have permission to view it.` };
    const target = value === "currentuser()" ? t.me.accountId.toLowerCase() : value;
    if (field.toLowerCase() === "project" && !t.projects.some((p) => p.key.toLowerCase() === value)) {
      return { error: `The value '${q1 ?? q2 ?? q3}' does not exist for the field 'project'.` };
    }
    result = result.filter((i) => (op === "=" ? read(i) === target : read(i) !== target));
  }
  return [...result].sort((a, b) => Number(b.id) - Number(a.id));
}

const pageSize = (raw: string | undefined, max: number) =>
  Math.min(max, Math.max(1, Number.parseInt(raw ?? "50", 10) || 50));

function searchJql(t: Tenant, q: Record<string, string>, origin: string): Response {
  if (!q.jql) return jiraError(400, ["The JQL query is required."]);
  const found = runJql(t, q.jql);
  if ("error" in found) return jiraError(400, [found.error]);
  let start = 0;
  if (q.nextPageToken !== undefined) {
    const m = /^o:([0-9]+)$/.exec(Buffer.from(q.nextPageToken, "base64url").toString("utf8"));
    if (!m) return jiraError(400, ["The provided next page token is invalid or expired."]);
    start = Number(m[1]);
  }
  const size = pageSize(q.maxResults, 100);
  const page = found.slice(start, start + size);
  const isLast = start + size >= found.length;
  return json({
    issues: page.map((i) => issueJson(t, i, origin, q.fields, ["id"])),
    // The last page has no token at all (not null): JRACLOUD-92184.
    ...(!isLast && { nextPageToken: Buffer.from(`o:${start + size}`).toString("base64url") }),
    isLast,
  });
}

function createIssue(t: Tenant, body: unknown): Response | Issue {
  const fields = (body as { fields?: Record<string, unknown> } | undefined)?.fields ?? {};
  const get = (k: string, sub: string) => (fields[k] as Record<string, unknown> | undefined)?.[sub];
  const errors: Record<string, string> = {};
  const projectKey = String(get("project", "key") ?? "").toUpperCase();
  const project = t.projects.find((p) => p.key === projectKey || p.id === get("project", "id"));
  if (!project) errors.project = "Specify a valid project ID or key";
  if (typeof fields.summary !== "string" || fields.summary.trim() === "")
    errors.summary = "You must specify a summary of the issue.";
  const typeName = String(get("issuetype", "name") ?? "");
  if (!ISSUE_TYPES[typeName]) errors.issuetype = "Specify an issue type";
  if (fields.description !== undefined && !isAdf(fields.description))
    errors.description = "Operation value must be an Atlassian Document (see the Atlassian Document Format)";
  const priority = get("priority", "name");
  if (priority !== undefined && !PRIORITIES[String(priority)])
    errors.priority = `Priority name '${String(priority)}' is not valid`;
  const assigneeId = get("assignee", "id");
  const assignee = assigneeId === undefined ? null : t.users.find((u) => u.accountId === assigneeId);
  if (assignee === undefined) errors.assignee = `User '${String(assigneeId)}' cannot be assigned issues.`;
  const parentKey = get("parent", "key");
  const parent = parentKey === undefined ? undefined : findIssue(t, String(parentKey));
  if (parentKey !== undefined && !parent) errors.parent = "Could not find issue by id or key.";
  if (Object.keys(errors).length > 0 || !project) return jiraError(400, [], errors);
  const number = t.issues.filter((i) => i.projectKey === project.key).length + 1;
  const now = new Date().toISOString().replace("Z", "+0000");
  const issue: Issue = {
    id: String(t.nextId++),
    key: `${project.key}-${number}`,
    projectKey: project.key,
    summary: String(fields.summary),
    type: typeName,
    status: STATUSES.todo as Status,
    priority: priority === undefined ? "Medium" : String(priority),
    assignee: assignee ?? null,
    reporter: t.me,
    labels: Array.isArray(fields.labels) ? fields.labels.map(String) : [],
    description: fields.description ?? null,
    resolution: null,
    parent: parent?.key ?? null,
    comments: [],
    created: now,
    updated: now,
  };
  t.issues.push(issue);
  return issue;
}

export async function startJiraFake(): Promise<FakeJira> {
  const tenants = new Map<string, Tenant>();
  let accounts = 0;

  function tenantOf(req: RecordedUpstreamRequest): Tenant | undefined {
    const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(req.headers.authorization ?? "");
    return m ? tenants.get(Buffer.from(m[1] ?? "", "base64").toString("utf8")) : undefined;
  }

  function route(req: RecordedUpstreamRequest, url: URL): Response {
    const t = tenantOf(req);
    if (!t) {
      // What Jira Cloud answers a missing or rejected API token: a plain-text 401.
      return new Response("Client must be authenticated to access this resource.", {
        status: 401,
        headers: {
          "content-type": "text/plain;charset=UTF-8",
          "www-authenticate": `OAuth realm="${encodeURIComponent(url.origin)}"`,
          "x-seraph-loginreason": "AUTHENTICATED_FAILED",
        },
      });
    }
    const origin = url.origin;
    const q = req.query;
    const m = req.method;
    const parts = req.path.split("/").slice(1).map(decodeURIComponent);
    if (parts[0] !== "rest" || parts[1] !== "api" || parts[2] !== "3") return jiraError(404, ["Not found"]);
    const [resource, id, sub, ...rest] = parts.slice(3);
    if (resource === "myself" && id === undefined && m === "GET") {
      return json({
        ...userJson(t.me, origin),
        groups: { size: 1, items: [] },
        applicationRoles: { size: 1, items: [] },
        expand: "groups,applicationRoles",
      });
    }
    if (resource === "search" && id === "jql" && sub === undefined && m === "GET")
      return searchJql(t, q, origin);
    if (resource === "project" && id === "search" && sub === undefined && m === "GET") {
      const filter = (q.query ?? "").toLowerCase();
      const all = t.projects.filter(
        (p) => p.key.toLowerCase().includes(filter) || p.name.toLowerCase().includes(filter),
      );
      const startAt = Math.max(0, Number.parseInt(q.startAt ?? "0", 10) || 0);
      const maxResults = pageSize(q.maxResults, 100);
      const values = all.slice(startAt, startAt + maxResults);
      const isLast = startAt + maxResults >= all.length;
      const self = `${origin}/rest/api/3/project/search?startAt=${startAt}&maxResults=${maxResults}`;
      return json({
        self,
        ...(!isLast && {
          nextPage: `${origin}/rest/api/3/project/search?startAt=${startAt + maxResults}&maxResults=${maxResults}`,
        }),
        maxResults,
        startAt,
        total: all.length,
        isLast,
        values: values.map((p) => projectJson(p, origin)),
      });
    }
    if (resource === "user" && id === "assignable" && sub === "search" && m === "GET") {
      if (!q.issueKey && !q.project)
        return jiraError(400, ["The issue key or project key must be provided."]);
      const issue = q.issueKey ? findIssue(t, q.issueKey) : undefined;
      if (q.issueKey && !issue) return jiraError(404, [NOT_FOUND]);
      const filter = (q.query ?? "").toLowerCase();
      const match = (u: JiraUser) =>
        u.emailAddress.toLowerCase().startsWith(filter) ||
        u.displayName
          .toLowerCase()
          .split(" ")
          .some((w) => w.startsWith(filter));
      const startAt = Math.max(0, Number.parseInt(q.startAt ?? "0", 10) || 0);
      const list = t.users.filter(match).slice(startAt, startAt + pageSize(q.maxResults, 1000));
      return json(list.map((u) => userJson(u, origin)));
    }
    if (resource === "issue" && id === undefined && m === "POST") {
      const issue = createIssue(t, req.body);
      if (issue instanceof Response) return issue;
      return json({ id: issue.id, key: issue.key, self: `${origin}/rest/api/3/issue/${issue.id}` }, 201);
    }
    if (resource !== "issue" || id === undefined || rest.length > 0) return jiraError(404, ["Not found"]);
    const issue = findIssue(t, id);
    if (!issue) return jiraError(404, [NOT_FOUND]);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const touch = () => {
      issue.updated = new Date().toISOString().replace("Z", "+0000");
    };
    if (sub === undefined && m === "GET") return json(issueJson(t, issue, origin, q.fields, NAVIGABLE));
    if (sub === "comment" && m === "POST") {
      if (!isAdf(body.body)) {
        return jiraError(400, [], { comment: "Comment body can not be empty!" });
      }
      const comment: Comment = {
        id: String(10_300 + issue.comments.length + t.issues.indexOf(issue) * 100),
        author: t.me,
        body: body.body,
        created: new Date().toISOString().replace("Z", "+0000"),
      };
      issue.comments.push(comment);
      touch();
      return json(commentJson(comment, issue, origin), 201);
    }
    if (sub === "transitions" && m === "GET") {
      return json({
        expand: "transitions",
        transitions: TRANSITIONS.filter((tr) => tr.to.id !== issue.status.id).map((tr) => ({
          id: tr.id,
          name: tr.name,
          to: statusJson(tr.to, origin),
          hasScreen: false,
          isGlobal: true,
          isInitial: false,
          isAvailable: true,
          isConditional: false,
          isLooped: false,
        })),
      });
    }
    if (sub === "transitions" && m === "POST") {
      const transitionId = (body.transition as { id?: unknown } | undefined)?.id;
      const tr = TRANSITIONS.find((x) => x.id === String(transitionId) && x.to.id !== issue.status.id);
      if (!tr)
        return jiraError(400, [`Transition id '${String(transitionId)}' is not valid for this issue.`]);
      const resolution = (body.fields as { resolution?: { name?: unknown } } | undefined)?.resolution?.name;
      issue.status = tr.to;
      issue.resolution = tr.to.category.key === "done" ? String(resolution ?? "Done") : null;
      touch();
      return noContent();
    }
    if (sub === "assignee" && m === "PUT") {
      const project = t.projects.find((p) => p.key === issue.projectKey);
      if (project?.noAssign) return jiraError(403, ["You do not have permission to assign issues."]);
      if (!("accountId" in body)) return jiraError(400, [], { accountId: "accountId is required." });
      const accountId = body.accountId;
      if (accountId === null) issue.assignee = null;
      else if (accountId === "-1") issue.assignee = t.me;
      else {
        const user = t.users.find((u) => u.accountId === accountId);
        if (!user)
          return jiraError(400, [], { assignee: `User '${String(accountId)}' cannot be assigned issues.` });
        issue.assignee = user;
      }
      touch();
      return noContent();
    }
    return jiraError(405, ["Method Not Allowed"]);
  }

  const upstream = await startFakeUpstream(route);
  return {
    url: upstream.url,
    requests: upstream.requests,
    addAccount({ email, token, displayName }) {
      accounts += 1;
      const accountId = `712020:${crypto.randomUUID()}`;
      const me = { accountId, displayName, emailAddress: email };
      tenants.set(`${email}:${token}`, seedTenant(me, accounts));
      return { ...me, token, authorization: basicAuth(email, token) };
    },
    revoke: (email, token) => void tenants.delete(`${email}:${token}`),
    answerNext: upstream.answerNext,
    stop: upstream.stop,
  };
}
