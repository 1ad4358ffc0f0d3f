/** Dot paths into JSON values, as definitions write them: `user.login`, `errors.0.message`, `data.-1.id`. */

const segments = (path: string): string[] => (path === "" ? [] : path.split("."));

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The value at `path`; a numeric segment indexes a list (-1 = the last element). */
export function getPath(value: unknown, path: string): unknown {
  let current = value;
  for (const seg of segments(path)) {
    if (Array.isArray(current) && /^-?[0-9]+$/.test(seg)) {
      const i = Number(seg);
      current = current[i < 0 ? current.length + i : i];
    } else if (isRecord(current) && Object.hasOwn(current, seg)) {
      current = current[seg];
    } else {
      return undefined;
    }
  }
  return current;
}

const isIndex = (seg: string | undefined): boolean => seg !== undefined && /^[0-9]{1,3}$/.test(seg);

/**
 * Sets `path` in a plain object, creating what is missing on the way: a list where the next segment is an
 * index (`title.0.text.content` builds Notion's rich-text list), else an object. Never a prototype key.
 */
export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const segs = segments(path);
  if (segs.some((seg) => seg === "__proto__" || seg === "constructor" || seg === "prototype")) return;
  let current: Record<string, unknown> | unknown[] = target;
  for (const [i, seg] of segs.entries()) {
    const last = i === segs.length - 1;
    if (Array.isArray(current)) {
      if (!isIndex(seg)) return;
      const index = Number(seg);
      if (last) {
        current[index] = value;
        return;
      }
      const next = current[index];
      if (typeof next !== "object" || next === null) current[index] = isIndex(segs[i + 1]) ? [] : {};
      current = current[index] as Record<string, unknown> | unknown[];
      continue;
    }
    if (last) {
      current[seg] = value;
      return;
    }
    const next = current[seg];
    if (typeof next !== "object" || next === null) current[seg] = isIndex(segs[i + 1]) ? [] : {};
    current = current[seg] as Record<string, unknown> | unknown[];
  }
}

type FieldTree = Map<string, FieldTree | true>;

function fieldTree(fields: readonly string[]): FieldTree {
  const root: FieldTree = new Map();
  for (const field of fields) {
    let node = root;
    const segs = segments(field);
    for (const [i, seg] of segs.entries()) {
      const existing = node.get(seg);
      if (existing === true) break;
      if (i === segs.length - 1) {
        node.set(seg, true);
        break;
      }
      const child: FieldTree = existing ?? new Map();
      node.set(seg, child);
      node = child;
    }
  }
  return root;
}

function pickTree(value: unknown, tree: FieldTree): unknown {
  if (Array.isArray(value)) return value.map((item) => pickTree(item, tree));
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, sub] of tree) {
    if (!Object.hasOwn(value, key)) continue;
    out[key] = sub === true ? value[key] : pickTree(value[key], sub);
  }
  return out;
}

/** A copy holding only `fields` (dot paths); lists on the way are mapped, so `labels.name` keeps each name. */
export function pickFields(value: unknown, fields: readonly string[]): unknown {
  return pickTree(value, fieldTree(fields));
}
