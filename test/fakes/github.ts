// A fake GitHub REST API (https://docs.github.com/en/rest) for the GitHub service suite, built on the generic
// fake upstream. It answers the endpoints the GitHub definition uses as GitHub documents them: Bearer
// tokens (401 "Bad credentials"), `X-GitHub-Api-Version`, a User-Agent required, full issue / pull request /
// repository objects, RFC 8288 `Link` pagination through `/repositories/{id}/...` URLs with `per_page`/`page`,
// 404 "Not Found", 422 "Validation Failed" with `errors`, fine-grained tokens without write access (403
// "Resource not accessible by personal access token"), and the primary rate limit (403 with
// `x-ratelimit-remaining: 0` and `x-ratelimit-reset`). Every accepted token owns its own small world.
import { type FakeUpstream, type RecordedUpstreamRequest, startFakeUpstream } from "./upstream.ts";

export interface GitHubAccount {
  id: number;
  login: string;
  name: string;
  email: string | null;
}

interface FakeLabel {
  id: number;
  name: string;
  color: string;
}

interface FakePull {
  head: string;
  base: string;
  draft: boolean;
  merged_at: string | null;
  additions: number;
  deletions: number;
  changed_files: number;
  commits: number;
}

interface FakeComment {
  id: number;
  author: GitHubAccount;
  body: string;
  created_at: string;
  updated_at: string;
}

interface FakeIssue {
  id: number;
  number: number;
  title: string;
  body: string | null;
  state: "open" | "closed";
  state_reason: string | null;
  author: GitHubAccount;
  labels: FakeLabel[];
  assignees: GitHubAccount[];
  comments: FakeComment[];
  created_at: string;
  updated_at: string;
  closed_at: string | null;
  closed_by: GitHubAccount | null;
  pull?: FakePull;
}

interface FakeRepo {
  id: number;
  owner: GitHubAccount;
  name: string;
  description: string;
  private: boolean;
  language: string;
  topics: string[];
  stars: number;
  /** How the token's user is related to it (for `affiliation`). */
  affiliation: "owner" | "organization_member";
  push: boolean;
  labels: FakeLabel[];
  issues: FakeIssue[];
  created_at: string;
  pushed_at: string;
}

interface World {
  user: GitHubAccount;
  repos: FakeRepo[];
  /** A fine-grained token without write permissions. */
  readOnly: boolean;
  /** Primary rate limit: requests left this hour, and when it resets (epoch seconds). */
  remaining: number;
  reset: number;
}

export interface GitHubFake extends Omit<FakeUpstream, "requests"> {
  requests: RecordedUpstreamRequest[];
  /**
   * Accepts `token` for a new account `login`, with repositories `<login>/hello-world` (public: issues #1-#5,
   * pull requests #6 and #7, three comments on #1), `<login>/secret-plans` (private) and `octo-org/handbook`.
   */
  addKey(token: string, login: string, opts?: { readOnly?: boolean }): GitHubAccount;
  /** Another token for the same account as `existing` (a regenerated personal access token). */
  addKeyFor(existing: string, token: string): void;
  /** Revokes a token: GitHub answers it 401 "Bad credentials" from then on. */
  removeKey(token: string): void;
  /** Uses up the token's primary rate limit until `resetEpochSeconds` (403, x-ratelimit-remaining: 0). */
  exhaust(token: string, resetEpochSeconds: number): void;
  /** Answers the next request with a secondary rate limit: 403 with `retry-after` (remaining is not 0). */
  secondaryRateLimitNext(retryAfterSeconds: number): void;
}

const DOCS = "https://docs.github.com/rest";
export const SUPPORTED_API_VERSIONS = ["2022-11-28", "2026-03-10"];
const HOUR_LIMIT = 5000;

const error = (status: number, message: string, extra: Record<string, unknown> = {}, doc = DOCS) =>
  Response.json(
    { message, ...extra, documentation_url: doc, status: String(status) },
    { status, headers: { "content-type": "application/json; charset=utf-8" } },
  );
const notFound = (doc = DOCS) => error(404, "Not Found", {}, doc);
const validationFailed = (errors: Record<string, unknown>[], doc: string) =>
  error(422, "Validation Failed", { errors }, doc);

let nextId = 1_000;
const newId = () => ++nextId;
const day = (d: number, h = 9) => new Date(Date.UTC(2026, 0, d, h, 0, 0)).toISOString().replace(".000", "");
const now = () => new Date().toISOString().replace(/\.[0-9]{3}Z$/, "Z");

function account(login: string, name?: string, email?: string | null): GitHubAccount {
  return {
    id: newId(),
    login,
    name: name ?? login,
    email: email === undefined ? `${login}@users.test` : email,
  };
}

function seedWorld(user: GitHubAccount, readOnly: boolean): World {
  const org = { id: newId(), login: "octo-org", name: "Octo Org", email: null };
  const maintainer = account(`${user.login}-friend`, "A Friend");
  const bug = { id: newId(), name: "bug", color: "d73a4a" };
  const docs = { id: newId(), name: "documentation", color: "0075ca" };
  const comment = (body: string, author: GitHubAccount, d: number): FakeComment => ({
    id: newId(),
    author,
    body,
    created_at: day(d, 12),
    updated_at: day(d, 12),
  });
  const issue = (number: number, title: string, more: Partial<FakeIssue> = {}): FakeIssue => ({
    id: newId(),
    number,
    title,
    body: `Details of "${title}".`,
    state: "open",
    state_reason: null,
    author: user,
    labels: [],
    assignees: [],
    comments: [],
    created_at: day(number),
    updated_at: day(number, 10),
    closed_at: null,
    closed_by: null,
    ...more,
  });
  const pull = (head: string, more: Partial<FakePull> = {}): FakePull => ({
    head,
    base: "main",
    draft: false,
    merged_at: null,
    additions: 12,
    deletions: 3,
    changed_files: 2,
    commits: 1,
    ...more,
  });
  const hello: FakeRepo = {
    id: newId(),
    owner: user,
    name: "hello-world",
    description: "My first repository on GitHub",
    private: false,
    language: "TypeScript",
    topics: ["demo", "mcp"],
    stars: 42,
    affiliation: "owner",
    push: true,
    labels: [bug, docs],
    issues: [
      issue(1, "Crash when saving a file", {
        labels: [bug],
        assignees: [user],
        comments: [
          comment("I can reproduce this on Linux.", maintainer, 2),
          comment("Same on macOS.", user, 3),
          comment("Fixed in #6?", maintainer, 4),
        ],
      }),
      issue(2, "Typo in README", {
        labels: [docs],
        state: "closed",
        state_reason: "completed",
        closed_at: day(3),
        closed_by: user,
      }),
      issue(3, "Support dark mode", { author: maintainer }),
      issue(4, "Crash on startup with an empty config", { labels: [bug] }),
      issue(5, "Add a contributing guide", { labels: [docs] }),
      issue(6, "Fix crash when saving", { author: maintainer, pull: pull("fix-save") }),
      issue(7, "Dark mode, first pass", { pull: pull("dark-mode", { draft: true }) }),
    ],
    created_at: day(1, 8),
    pushed_at: day(7, 11),
  };
  const secret: FakeRepo = {
    ...hello,
    id: newId(),
    name: "secret-plans",
    description: "Private notes",
    private: true,
    language: "Markdown",
    topics: [],
    stars: 0,
    labels: [],
    issues: [issue(1, "Plan the launch")],
  };
  const handbook: FakeRepo = {
    ...hello,
    id: newId(),
    owner: org,
    name: "handbook",
    description: "How Octo Org works",
    language: "Markdown",
    topics: ["handbook"],
    stars: 7,
    affiliation: "organization_member",
    push: false,
    labels: [],
    issues: [],
  };
  return { user, repos: [hello, secret, handbook], readOnly, remaining: HOUR_LIMIT, reset: 0 };
}

// ---- GitHub's JSON shapes ----

function simpleUser(api: string, u: GitHubAccount) {
  return {
    login: u.login,
    id: u.id,
    node_id: `U_${u.id}`,
    avatar_url: `https://avatars.githubusercontent.com/u/${u.id}?v=4`,
    gravatar_id: "",
    url: `${api}/users/${u.login}`,
    html_url: `https://github.com/${u.login}`,
    followers_url: `${api}/users/${u.login}/followers`,
    repos_url: `${api}/users/${u.login}/repos`,
    type: u.login === "octo-org" ? "Organization" : "User",
    site_admin: false,
  };
}

function privateUser(api: string, w: World) {
  const u = w.user;
  return {
    ...simpleUser(api, u),
    name: u.name,
    company: "@octo-org",
    blog: "",
    location: "Earth",
    email: u.email,
    hireable: null,
    bio: null,
    twitter_username: null,
    public_repos: w.repos.filter((r) => !r.private && r.owner === u).length,
    public_gists: 0,
    followers: 3,
    following: 1,
    created_at: day(1, 0),
    updated_at: day(20, 0),
    private_gists: 0,
    total_private_repos: w.repos.filter((r) => r.private && r.owner === u).length,
    owned_private_repos: w.repos.filter((r) => r.private && r.owner === u).length,
    disk_usage: 1234,
    collaborators: 0,
    two_factor_authentication: true,
    plan: { name: "free", space: 976562499, private_repos: 10000, collaborators: 0 },
  };
}

const fullName = (r: FakeRepo) => `${r.owner.login}/${r.name}`;

function repoJson(api: string, r: FakeRepo, full = false) {
  const url = `${api}/repos/${fullName(r)}`;
  const open = r.issues.filter((i) => i.state === "open").length;
  const base = {
    id: r.id,
    node_id: `R_${r.id}`,
    name: r.name,
    full_name: fullName(r),
    private: r.private,
    owner: simpleUser(api, r.owner),
    html_url: `https://github.com/${fullName(r)}`,
    description: r.description,
    fork: false,
    url,
    issues_url: `${url}/issues{/number}`,
    pulls_url: `${url}/pulls{/number}`,
    clone_url: `https://github.com/${fullName(r)}.git`,
    created_at: r.created_at,
    updated_at: r.pushed_at,
    pushed_at: r.pushed_at,
    homepage: null,
    size: 108,
    stargazers_count: r.stars,
    watchers_count: r.stars,
    language: r.language,
    has_issues: true,
    has_projects: true,
    has_wiki: true,
    has_discussions: false,
    forks_count: 1,
    archived: false,
    disabled: false,
    open_issues_count: open,
    license: {
      key: "mit",
      name: "MIT License",
      spdx_id: "MIT",
      url: `${api}/licenses/mit`,
      node_id: "MDc6TGljZW5zZTEz",
    },
    topics: r.topics,
    visibility: r.private ? "private" : "public",
    forks: 1,
    open_issues: open,
    watchers: r.stars,
    default_branch: "main",
    permissions: { admin: r.push, maintain: r.push, push: r.push, triage: r.push, pull: true },
  };
  return full ? { ...base, network_count: 1, subscribers_count: 2, temp_clone_token: "" } : base;
}

function labelJson(api: string, r: FakeRepo, l: FakeLabel) {
  return {
    id: l.id,
    node_id: `LA_${l.id}`,
    url: `${api}/repos/${fullName(r)}/labels/${encodeURIComponent(l.name)}`,
    name: l.name,
    color: l.color,
    default: l.name === "bug",
    description: null,
  };
}

function issueJson(api: string, r: FakeRepo, i: FakeIssue) {
  const url = `${api}/repos/${fullName(r)}/issues/${i.number}`;
  const html = `https://github.com/${fullName(r)}/${i.pull ? "pull" : "issues"}/${i.number}`;
  return {
    url,
    repository_url: `${api}/repos/${fullName(r)}`,
    labels_url: `${url}/labels{/name}`,
    comments_url: `${url}/comments`,
    events_url: `${url}/events`,
    html_url: html,
    id: i.id,
    node_id: `I_${i.id}`,
    number: i.number,
    title: i.title,
    user: simpleUser(api, i.author),
    labels: i.labels.map((l) => labelJson(api, r, l)),
    state: i.state,
    locked: false,
    assignee: i.assignees[0] ? simpleUser(api, i.assignees[0]) : null,
    assignees: i.assignees.map((a) => simpleUser(api, a)),
    milestone: null,
    comments: i.comments.length,
    created_at: i.created_at,
    updated_at: i.updated_at,
    closed_at: i.closed_at,
    author_association: i.author === r.owner ? "OWNER" : "CONTRIBUTOR",
    active_lock_reason: null,
    ...(i.pull && {
      draft: i.pull.draft,
      pull_request: {
        url: `${api}/repos/${fullName(r)}/pulls/${i.number}`,
        html_url: html,
        diff_url: `${html}.diff`,
        patch_url: `${html}.patch`,
        merged_at: i.pull.merged_at,
      },
    }),
    body: i.body,
    closed_by: i.closed_by ? simpleUser(api, i.closed_by) : null,
    reactions: { url: `${url}/reactions`, total_count: 0, "+1": 0, "-1": 0, laugh: 0, hooray: 0 },
    timeline_url: `${url}/timeline`,
    performed_via_github_app: null,
    state_reason: i.state_reason,
  };
}

function branchJson(api: string, r: FakeRepo, ref: string) {
  return {
    label: `${r.owner.login}:${ref}`,
    ref,
    sha: `${ref.length}`.padStart(40, "a"),
    user: simpleUser(api, r.owner),
    repo: repoJson(api, r),
  };
}

function pullJson(api: string, r: FakeRepo, i: FakeIssue & { pull: FakePull }, full = false) {
  const url = `${api}/repos/${fullName(r)}/pulls/${i.number}`;
  const html = `https://github.com/${fullName(r)}/pull/${i.number}`;
  const base = {
    url,
    id: i.id + 500_000,
    node_id: `PR_${i.id}`,
    html_url: html,
    diff_url: `${html}.diff`,
    patch_url: `${html}.patch`,
    issue_url: `${api}/repos/${fullName(r)}/issues/${i.number}`,
    number: i.number,
    state: i.state,
    locked: false,
    title: i.title,
    user: simpleUser(api, i.author),
    body: i.body,
    labels: i.labels.map((l) => labelJson(api, r, l)),
    milestone: null,
    active_lock_reason: null,
    created_at: i.created_at,
    updated_at: i.updated_at,
    closed_at: i.closed_at,
    merged_at: i.pull.merged_at,
    merge_commit_sha: "e5bd3914e2e596debea16f433f57875b5b90bcd6",
    assignee: i.assignees[0] ? simpleUser(api, i.assignees[0]) : null,
    assignees: i.assignees.map((a) => simpleUser(api, a)),
    requested_reviewers: [simpleUser(api, r.owner)],
    requested_teams: [],
    head: branchJson(api, r, i.pull.head),
    base: branchJson(api, r, i.pull.base),
    _links: { self: { href: url }, html: { href: html } },
    author_association: i.author === r.owner ? "OWNER" : "CONTRIBUTOR",
    auto_merge: null,
    draft: i.pull.draft,
  };
  if (!full) return base;
  return {
    ...base,
    merged: i.pull.merged_at !== null,
    mergeable: true,
    rebaseable: true,
    mergeable_state: "clean",
    merged_by: null,
    comments: i.comments.length,
    review_comments: 0,
    maintainer_can_modify: false,
    commits: i.pull.commits,
    additions: i.pull.additions,
    deletions: i.pull.deletions,
    changed_files: i.pull.changed_files,
  };
}

function commentJson(api: string, r: FakeRepo, i: FakeIssue, c: FakeComment) {
  return {
    id: c.id,
    node_id: `IC_${c.id}`,
    url: `${api}/repos/${fullName(r)}/issues/comments/${c.id}`,
    html_url: `https://github.com/${fullName(r)}/issues/${i.number}#issuecomment-${c.id}`,
    body: c.body,
    user: simpleUser(api, c.author),
    created_at: c.created_at,
    updated_at: c.updated_at,
    issue_url: `${api}/repos/${fullName(r)}/issues/${i.number}`,
    author_association: c.author === r.owner ? "OWNER" : "CONTRIBUTOR",
    reactions: { url: `${api}/repos/${fullName(r)}/issues/comments/${c.id}/reactions`, total_count: 0 },
    performed_via_github_app: null,
  };
}

// ---- Pagination: `per_page` (default 30, at most 100) and `page`, with an RFC 8288 Link header ----

function paginate<T>(
  items: T[],
  url: URL,
  linkPath: string,
  body: (page: T[]) => unknown = (page) => page,
): Response {
  const perPage = Math.min(Math.max(Number(url.searchParams.get("per_page") ?? 30) || 30, 1), 100);
  const page = Math.max(Number(url.searchParams.get("page") ?? 1) || 1, 1);
  const last = Math.max(Math.ceil(items.length / perPage), 1);
  const link = (p: number) => {
    const target = new URL(linkPath, url.origin);
    for (const [k, v] of url.searchParams) if (k !== "page") target.searchParams.set(k, v);
    target.searchParams.set("page", String(p));
    return `<${target.toString()}>`;
  };
  const rels: string[] = [];
  if (page > 1) rels.push(`${link(page - 1)}; rel="prev"`);
  if (page < last) rels.push(`${link(page + 1)}; rel="next"`, `${link(last)}; rel="last"`);
  if (page > 1) rels.push(`${link(1)}; rel="first"`);
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8" };
  if (rels.length > 0) headers.link = rels.join(", ");
  return Response.json(body(items.slice((page - 1) * perPage, page * perPage)), { headers });
}

// ---- Search: keywords plus the qualifiers the tests use ----

interface Query {
  words: string[];
  qualifiers: [string, string][];
}

function parseQuery(q: string): Query {
  const words: string[] = [];
  const qualifiers: [string, string][] = [];
  for (const token of q.split(/\s+/).filter(Boolean)) {
    const m = /^([a-z-]+):(.+)$/.exec(token);
    if (m?.[1] && m[2]) qualifiers.push([m[1], m[2].toLowerCase()]);
    else words.push(token.toLowerCase());
  }
  return { words, qualifiers };
}

function repoMatches(r: FakeRepo, q: Query): boolean {
  const text = `${r.name} ${r.description} ${r.topics.join(" ")}`.toLowerCase();
  if (!q.words.every((w) => text.includes(w))) return false;
  return q.qualifiers.every(([k, v]) => {
    if (k === "user" || k === "org") return r.owner.login.toLowerCase() === v;
    if (k === "repo") return fullName(r).toLowerCase() === v;
    if (k === "language") return r.language.toLowerCase() === v;
    if (k === "topic") return r.topics.includes(v);
    if (k === "is") return v === (r.private ? "private" : "public");
    return true;
  });
}

function issueMatches(r: FakeRepo, i: FakeIssue, q: Query): boolean {
  const text = `${i.title} ${i.body ?? ""}`.toLowerCase();
  if (!q.words.every((w) => text.includes(w))) return false;
  return q.qualifiers.every(([k, v]) => {
    if (k === "repo") return fullName(r).toLowerCase() === v;
    if (k === "user" || k === "org") return r.owner.login.toLowerCase() === v;
    if (k === "is" && (v === "issue" || v === "pr" || v === "pull-request"))
      return (v === "issue") === !i.pull;
    if (k === "is" || k === "state") return v === i.state || !["open", "closed"].includes(v);
    if (k === "label") return i.labels.some((l) => l.name.toLowerCase() === v);
    if (k === "author") return i.author.login.toLowerCase() === v;
    return true;
  });
}

// ---- Routes ----

const byNumberDesc = (a: FakeIssue, b: FakeIssue) => b.number - a.number;

function stateFilter(state: string | null): (i: FakeIssue) => boolean {
  const want = state ?? "open";
  return (i) => want === "all" || i.state === want;
}

interface Ctx {
  req: RecordedUpstreamRequest;
  url: URL;
  api: string;
  world: World;
}

function listIssues(ctx: Ctx, repo: FakeRepo): Response {
  const q = ctx.url.searchParams;
  const labels = (q.get("labels") ?? "").split(",").filter(Boolean);
  const assignee = q.get("assignee");
  const creator = q.get("creator");
  const since = q.get("since");
  let items = repo.issues
    .filter(stateFilter(q.get("state")))
    .filter((i) => labels.every((l) => i.labels.some((x) => x.name === l)))
    .filter((i) => creator === null || i.author.login.toLowerCase() === creator.toLowerCase())
    .filter((i) => since === null || i.updated_at >= since)
    .filter((i) => {
      if (assignee === null) return true;
      if (assignee === "none") return i.assignees.length === 0;
      if (assignee === "*") return i.assignees.length > 0;
      return i.assignees.some((a) => a.login.toLowerCase() === assignee.toLowerCase());
    })
    .sort(byNumberDesc);
  if (q.get("direction") === "asc") items = items.reverse();
  return paginate(items, ctx.url, `/repositories/${repo.id}/issues`, (page) =>
    page.map((i) => issueJson(ctx.api, repo, i)),
  );
}

function listPulls(ctx: Ctx, repo: FakeRepo): Response {
  const q = ctx.url.searchParams;
  const head = q.get("head");
  const base = q.get("base");
  let items = repo.issues
    .filter((i): i is FakeIssue & { pull: FakePull } => i.pull !== undefined)
    .filter(stateFilter(q.get("state")))
    .filter((i) => head === null || `${repo.owner.login}:${i.pull.head}`.toLowerCase() === head.toLowerCase())
    .filter((i) => base === null || i.pull.base === base)
    .sort(byNumberDesc);
  if (q.get("direction") === "asc") items = items.reverse();
  return paginate(items, ctx.url, `/repositories/${repo.id}/pulls`, (page) =>
    page.map((i) => pullJson(ctx.api, repo, i)),
  );
}

function listComments(ctx: Ctx, repo: FakeRepo, issue: FakeIssue): Response {
  const since = ctx.url.searchParams.get("since");
  const items = issue.comments.filter((c) => since === null || c.updated_at >= since);
  return paginate(items, ctx.url, `/repositories/${repo.id}/issues/${issue.number}/comments`, (page) =>
    page.map((c) => commentJson(ctx.api, repo, issue, c)),
  );
}

const ISSUE_DOC = "https://docs.github.com/rest/issues/issues#create-an-issue";
const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function ensureLabels(repo: FakeRepo, names: unknown): FakeLabel[] | undefined {
  if (!Array.isArray(names)) return undefined;
  return names.map((n) => {
    const name = String(n);
    let label = repo.labels.find((l) => l.name.toLowerCase() === name.toLowerCase());
    if (!label) {
      label = { id: newId(), name, color: "ededed" };
      repo.labels.push(label);
    }
    return label;
  });
}

/** Assignees must be able to push to the repository; here, its owner. */
function assigneesOf(repo: FakeRepo, logins: unknown): GitHubAccount[] | Record<string, unknown> {
  if (!Array.isArray(logins)) return [];
  const bad = logins.find((l) => String(l).toLowerCase() !== repo.owner.login.toLowerCase());
  if (bad !== undefined) return { value: bad, resource: "Issue", field: "assignees", code: "invalid" };
  return logins.length > 0 ? [repo.owner] : [];
}

function createIssue(ctx: Ctx, repo: FakeRepo): Response {
  const body = isRecord(ctx.req.body) ? ctx.req.body : {};
  if (typeof body.title !== "string" || body.title === "") {
    return validationFailed([{ resource: "Issue", code: "missing_field", field: "title" }], ISSUE_DOC);
  }
  const assignees = assigneesOf(repo, body.assignees);
  if (!Array.isArray(assignees)) return validationFailed([assignees], ISSUE_DOC);
  const issue: FakeIssue = {
    id: newId(),
    number: repo.issues.reduce((n, i) => Math.max(n, i.number), 0) + 1,
    title: body.title,
    body: typeof body.body === "string" ? body.body : null,
    state: "open",
    state_reason: null,
    author: ctx.world.user,
    labels: ensureLabels(repo, body.labels) ?? [],
    assignees,
    comments: [],
    created_at: now(),
    updated_at: now(),
    closed_at: null,
    closed_by: null,
  };
  repo.issues.push(issue);
  const json = issueJson(ctx.api, repo, issue);
  return Response.json(json, { status: 201, headers: { location: json.url } });
}

function updateIssue(ctx: Ctx, repo: FakeRepo, issue: FakeIssue): Response {
  const doc = "https://docs.github.com/rest/issues/issues#update-an-issue";
  const body = isRecord(ctx.req.body) ? ctx.req.body : {};
  if (body.state !== undefined && body.state !== "open" && body.state !== "closed") {
    return validationFailed([{ resource: "Issue", code: "invalid", field: "state", value: body.state }], doc);
  }
  const assignees = body.assignees === undefined ? issue.assignees : assigneesOf(repo, body.assignees);
  if (!Array.isArray(assignees)) return validationFailed([assignees], doc);
  if (typeof body.title === "string") issue.title = body.title;
  if (typeof body.body === "string") issue.body = body.body;
  issue.labels = ensureLabels(repo, body.labels) ?? issue.labels;
  issue.assignees = assignees;
  if (body.state === "closed" && issue.state === "open") {
    issue.state = "closed";
    issue.closed_at = now();
    issue.closed_by = ctx.world.user;
    issue.state_reason = typeof body.state_reason === "string" ? body.state_reason : "completed";
  } else if (body.state === "open" && issue.state === "closed") {
    issue.state = "open";
    issue.closed_at = null;
    issue.closed_by = null;
    issue.state_reason = "reopened";
  }
  issue.updated_at = now();
  return Response.json(issueJson(ctx.api, repo, issue));
}

function addComment(ctx: Ctx, repo: FakeRepo, issue: FakeIssue): Response {
  const doc = "https://docs.github.com/rest/issues/comments#create-an-issue-comment";
  const body = isRecord(ctx.req.body) ? ctx.req.body : {};
  if (typeof body.body !== "string" || body.body === "") {
    return validationFailed([{ resource: "IssueComment", code: "missing_field", field: "body" }], doc);
  }
  const comment: FakeComment = {
    id: newId(),
    author: ctx.world.user,
    body: body.body,
    created_at: now(),
    updated_at: now(),
  };
  issue.comments.push(comment);
  issue.updated_at = comment.created_at;
  const json = commentJson(ctx.api, repo, issue, comment);
  return Response.json(json, { status: 201, headers: { location: json.url } });
}

function search(ctx: Ctx, kind: "repositories" | "issues"): Response {
  const q = ctx.url.searchParams.get("q");
  const doc = `https://docs.github.com/rest/search/search#search-${kind}`;
  if (!q) return validationFailed([{ resource: "Search", field: "q", code: "missing" }], doc);
  const query = parseQuery(q);
  const wrap = (items: unknown[], total: number) => ({
    total_count: total,
    incomplete_results: false,
    items,
  });
  if (kind === "repositories") {
    const repos = ctx.world.repos.filter((r) => repoMatches(r, query));
    if (ctx.url.searchParams.get("sort") === "stars") repos.sort((a, b) => b.stars - a.stars);
    return paginate(repos, ctx.url, "/search/repositories", (page) =>
      wrap(
        page.map((r) => ({ ...repoJson(ctx.api, r), score: 1 })),
        repos.length,
      ),
    );
  }
  const hits = ctx.world.repos.flatMap((r) =>
    r.issues.filter((i) => issueMatches(r, i, query)).map((i) => ({ r, i })),
  );
  return paginate(hits, ctx.url, "/search/issues", (page) =>
    wrap(
      page.map(({ r, i }) => ({ ...issueJson(ctx.api, r, i), score: 1 })),
      hits.length,
    ),
  );
}

const WRITE_DOCS: Record<string, string> = {
  POST: ISSUE_DOC,
  PATCH: "https://docs.github.com/rest/issues/issues#update-an-issue",
};

function route(ctx: Ctx): Response {
  const { req, world } = ctx;
  const parts = ctx.url.pathname.split("/").slice(1).map(decodeURIComponent);
  const method = req.method;
  if (method !== "GET" && world.readOnly) {
    return error(403, "Resource not accessible by personal access token", {}, WRITE_DOCS[method] ?? DOCS);
  }
  if (parts[0] === "user" && parts.length === 1 && method === "GET") {
    return Response.json(privateUser(ctx.api, world));
  }
  if (parts[0] === "user" && parts[1] === "repos" && parts.length === 2 && method === "GET") {
    const q = ctx.url.searchParams;
    const visibility = q.get("visibility") ?? "all";
    const affiliation = (q.get("affiliation") ?? "owner,collaborator,organization_member").split(",");
    const repos = world.repos
      .filter((r) => visibility === "all" || (visibility === "private") === r.private)
      .filter((r) => affiliation.includes(r.affiliation))
      .sort((a, b) => fullName(a).localeCompare(fullName(b)));
    if (q.get("direction") === "desc") repos.reverse();
    return paginate(repos, ctx.url, "/user/repos", (page) => page.map((r) => repoJson(ctx.api, r)));
  }
  if (parts[0] === "search" && parts.length === 2 && method === "GET") {
    if (parts[1] === "repositories" || parts[1] === "issues") return search(ctx, parts[1]);
    return notFound();
  }
  // /repos/{owner}/{repo}/... or /repositories/{id}/... (the form GitHub's Link headers use).
  let repo: FakeRepo | undefined;
  let rest: string[];
  if (parts[0] === "repos" && parts.length >= 3) {
    const name = `${parts[1]}/${parts[2]}`.toLowerCase();
    repo = world.repos.find((r) => fullName(r).toLowerCase() === name);
    rest = parts.slice(3);
  } else if (parts[0] === "repositories" && parts.length >= 2) {
    repo = world.repos.find((r) => String(r.id) === parts[1]);
    rest = parts.slice(2);
  } else {
    return notFound();
  }
  if (!repo) return notFound("https://docs.github.com/rest/repos/repos#get-a-repository");
  const [kind, num, sub, ...extra] = rest;
  if (kind === undefined && method === "GET") return Response.json(repoJson(ctx.api, repo, true));
  if (extra.length > 0) return notFound();
  if (kind === "issues" && num === undefined) {
    if (method === "GET") return listIssues(ctx, repo);
    if (method === "POST") return createIssue(ctx, repo);
    return notFound();
  }
  if (kind === "pulls" && num === undefined && method === "GET") return listPulls(ctx, repo);
  const issue = /^[0-9]+$/.test(num ?? "") ? repo.issues.find((i) => i.number === Number(num)) : undefined;
  if (!issue) return notFound();
  if (kind === "issues" && sub === undefined && method === "GET")
    return Response.json(issueJson(ctx.api, repo, issue));
  if (kind === "issues" && sub === undefined && method === "PATCH") return updateIssue(ctx, repo, issue);
  if (kind === "issues" && sub === "comments" && method === "GET") return listComments(ctx, repo, issue);
  if (kind === "issues" && sub === "comments" && method === "POST") return addComment(ctx, repo, issue);
  if (kind === "pulls" && sub === undefined && method === "GET" && issue.pull) {
    return Response.json(pullJson(ctx.api, repo, { ...issue, pull: issue.pull }, true));
  }
  return notFound();
}

/** `token <t>` (classic) and `Bearer <t>` are both accepted, as GitHub does. */
function tokenOf(req: RecordedUpstreamRequest): string | undefined {
  const m = /^(?:bearer|token) (\S+)$/i.exec(req.headers.authorization ?? "");
  return m?.[1];
}

function rateHeaders(res: Response, w: World, resource: string, limit: number): Response {
  const headers = new Headers(res.headers);
  headers.set("x-ratelimit-limit", String(limit));
  headers.set("x-ratelimit-remaining", String(w.remaining));
  headers.set("x-ratelimit-reset", String(w.reset));
  headers.set("x-ratelimit-used", String(limit - w.remaining));
  headers.set("x-ratelimit-resource", resource);
  headers.set("x-github-api-version-selected", "2022-11-28");
  return new Response(res.body, { status: res.status, headers });
}

/** Starts the fake GitHub API on 127.0.0.1. */
export async function startGitHubFake(): Promise<GitHubFake> {
  const worlds = new Map<string, World>();

  function answer(req: RecordedUpstreamRequest, url: URL): Response {
    if (!req.headers["user-agent"]) {
      return new Response(
        "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.\n",
        { status: 403, headers: { "content-type": "text/plain" } },
      );
    }
    const version = req.headers["x-github-api-version"];
    if (version !== undefined && !SUPPORTED_API_VERSIONS.includes(version)) {
      return error(400, `API version ${version} is not supported.`);
    }
    const token = tokenOf(req);
    if (token === undefined) return error(401, "Requires authentication");
    const world = worlds.get(token);
    if (!world) return error(401, "Bad credentials");
    // One budget per token (GitHub keeps a separate, per-minute one for search; not modelled here).
    const resource = url.pathname.startsWith("/search/") ? "search" : "core";
    const limit = HOUR_LIMIT;
    const nowSeconds = Math.floor(Date.now() / 1000);
    if (world.reset <= nowSeconds) {
      world.remaining = limit;
      world.reset = nowSeconds + 3600;
    }
    if (world.remaining <= 0) {
      const limited = error(
        403,
        `API rate limit exceeded for user ID ${world.user.id}. If you reach out to GitHub Support for help, please include the request ID 0000:FAKE.`,
        {},
        "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
      );
      return rateHeaders(limited, world, resource, limit);
    }
    world.remaining -= 1;
    const api = url.origin;
    return rateHeaders(route({ req, url, api, world }), world, resource, limit);
  }

  const upstream = await startFakeUpstream(answer);
  return {
    ...upstream,
    addKey(token, login, opts = {}) {
      const user = account(login, `${login[0]?.toUpperCase() ?? ""}${login.slice(1)} Tester`);
      worlds.set(token, seedWorld(user, opts.readOnly ?? false));
      return user;
    },
    addKeyFor(existing, token) {
      const world = worlds.get(existing);
      if (!world) throw new Error("addKeyFor: unknown token");
      worlds.set(token, world);
    },
    removeKey: (token) => void worlds.delete(token),
    secondaryRateLimitNext(retryAfterSeconds) {
      upstream.answerNext(() =>
        Response.json(
          {
            message:
              "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:FAKE.",
            documentation_url:
              "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
            status: "403",
          },
          {
            status: 403,
            headers: {
              "retry-after": String(retryAfterSeconds),
              "x-ratelimit-limit": String(HOUR_LIMIT),
              "x-ratelimit-remaining": "4900",
              "x-ratelimit-resource": "core",
            },
          },
        ),
      );
    },
    exhaust(token, resetEpochSeconds) {
      const world = worlds.get(token);
      if (!world) throw new Error("unknown token");
      world.remaining = 0;
      world.reset = resetEpochSeconds;
    },
  };
}
