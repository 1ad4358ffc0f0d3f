/** Fixture documents shaped like Figma's REST API responses (https://www.figma.com/developers/api). */

export interface FakeUser {
  id: string;
  email: string;
  handle: string;
}

export interface FigmaNode {
  id: string;
  name: string;
  type: string;
  children?: FigmaNode[];
  [extra: string]: unknown;
}

export interface FakeComment {
  id: string;
  file_key: string;
  parent_id: string;
  user: { id: string; handle: string; img_url: string };
  created_at: string;
  resolved_at: null;
  message: string;
  client_meta: unknown;
  order_id: string;
  reactions: unknown[];
}

export const FAKE_FILE_KEY = "FkT3stF1leKey0123456789";

export function avatar(user: FakeUser): string {
  return `https://s3-alpha.figma.com/profile/${user.id}`;
}

/** A small but realistic tree: a page holding a frame (1:2) with a text layer (3:4). */
export function sampleDocument(): FigmaNode {
  const text: FigmaNode = {
    id: "3:4",
    name: "Title",
    type: "TEXT",
    characters: "Hello, Figma",
    absoluteBoundingBox: { x: 24, y: 24, width: 200, height: 32 },
    style: { fontFamily: "Inter", fontWeight: 600, fontSize: 24 },
  };
  const frame: FigmaNode = {
    id: "1:2",
    name: "Landing",
    type: "FRAME",
    absoluteBoundingBox: { x: 0, y: 0, width: 1440, height: 900 },
    backgroundColor: { r: 1, g: 1, b: 1, a: 1 },
    children: [text],
  };
  const page: FigmaNode = {
    id: "0:1",
    name: "Page 1",
    type: "CANVAS",
    backgroundColor: { r: 0.96, g: 0.96, b: 0.96, a: 1 },
    children: [frame],
  };
  return { id: "0:0", name: "Document", type: "DOCUMENT", scrollBehavior: "SCROLLS", children: [page] };
}

/** Figma's `depth`: 1 keeps only the node's direct children. */
export function truncate(node: FigmaNode, depth: number | undefined): FigmaNode {
  if (depth === undefined || !node.children) return node;
  if (depth <= 0) {
    const { children: _dropped, ...rest } = node;
    return rest;
  }
  return { ...node, children: node.children.map((c) => truncate(c, depth - 1)) };
}

export function findNode(node: FigmaNode, id: string): FigmaNode | undefined {
  if (node.id === id) return node;
  for (const child of node.children ?? []) {
    const found = findNode(child, id);
    if (found) return found;
  }
  return undefined;
}
