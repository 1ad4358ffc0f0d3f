import {
  avatar,
  type FakeComment,
  type FakeUser,
  type FigmaNode,
  findNode,
  sampleDocument,
  truncate,
} from "./figma-data.ts";

/** Handlers for the fake's endpoints, answering as Figma's REST API documents. */

export const json = (status: number, body: unknown) => Response.json(body, { status });
export const notFound = () => json(404, { status: 404, err: "Not found" });

const FILE_META = {
  name: "Marketing site",
  role: "owner",
  lastModified: "2026-01-15T10:00:00Z",
  editorType: "figma",
  thumbnailUrl: "https://s3-alpha.figma.com/thumbnails/fake-thumbnail",
  version: "4242424242",
};

function depthOf(q: URLSearchParams): number | undefined {
  const raw = q.get("depth");
  return raw === null ? undefined : Number(raw);
}

export function getFile(_key: string, q: URLSearchParams): Response {
  const document = truncate(sampleDocument(), depthOf(q));
  return json(200, {
    ...FILE_META,
    document,
    components: {},
    componentSets: {},
    schemaVersion: 0,
    styles: {},
  });
}

export function getNodes(q: URLSearchParams): Response {
  const ids = q.get("ids");
  if (!ids) return json(400, { status: 400, err: "Missing ids" });
  const doc = sampleDocument();
  const nodes: Record<string, unknown> = {};
  for (const id of ids.split(",")) {
    const node: FigmaNode | undefined = findNode(doc, id);
    nodes[id] = node
      ? { document: truncate(node, depthOf(q)), components: {}, schemaVersion: 0, styles: {} }
      : null;
  }
  const { name, lastModified, thumbnailUrl, version, role, editorType } = FILE_META;
  return json(200, { name, role, lastModified, editorType, thumbnailUrl, version, nodes });
}

export function getImages(q: URLSearchParams): Response {
  const ids = q.get("ids");
  if (!ids) return json(400, { status: 400, err: "Missing ids" });
  const format = q.get("format") ?? "png";
  if (!["jpg", "png", "svg", "pdf"].includes(format))
    return json(400, { status: 400, err: "Invalid format" });
  const scale = Number(q.get("scale") ?? 1);
  if (!(scale >= 0.01 && scale <= 4)) return json(400, { status: 400, err: "Invalid scale" });
  const doc = sampleDocument();
  const images = Object.fromEntries(
    ids
      .split(",")
      .map((id) => [
        id,
        findNode(doc, id)
          ? `https://figma-alpha-api.s3.us-west-2.amazonaws.com/images/${encodeURIComponent(id)}.${format}`
          : null,
      ]),
  );
  return json(200, { err: null, images });
}

export function postComment(fileKey: string, list: FakeComment[], user: FakeUser, body: unknown): Response {
  const input: Record<string, unknown> = typeof body === "object" && body !== null ? { ...body } : {};
  if (typeof input.message !== "string" || input.message === "") {
    return json(400, { status: 400, err: "message is required" });
  }
  const comment: FakeComment = {
    id: String(900_000 + list.length + 1),
    file_key: fileKey,
    parent_id: typeof input.comment_id === "string" ? input.comment_id : "",
    user: { id: user.id, handle: user.handle, img_url: avatar(user) },
    created_at: new Date().toISOString(),
    resolved_at: null,
    message: input.message,
    client_meta: input.client_meta ?? null,
    order_id: String(list.length + 1),
    reactions: [],
  };
  list.push(comment);
  return json(200, comment);
}
