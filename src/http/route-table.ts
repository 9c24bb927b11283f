/**
 * The API's paths in one table, a tree of their segments: a request is matched by walking its
 * path once, instead of trying each path's pattern in turn as Express's router does (one regular
 * expression per path, some thirty, for every request).
 *
 * Matching keeps Express's defaults, which the API was built and tested on: a literal segment
 * compares case-insensitively, one trailing slash is ignored, a parameter is one non-empty
 * segment, percent-decoded (malformed encoding: a URIError with status 400, as Express's own).
 * Where a literal and a parameter both fit, the literal is tried first, and the parameter only
 * when no path goes on from the literal: `/v1/change-requests/moderate` before
 * `/v1/change-requests/{changeRequestId}`.
 */
export interface Match<T> {
  value: T;
  params: Record<string, string>;
}

interface Node<T> {
  literals: Map<string, Node<T>>;
  param: Node<T> | null;
  /** A path ends here: its value and the names of its parameters, in order. */
  end: { value: T; names: string[] } | null;
}

const newNode = <T>(): Node<T> => ({ literals: new Map(), param: null, end: null });

export class RouteTable<T> {
  private readonly root: Node<T> = newNode();

  /** `template`: an OpenAPI path, `/v1/bunits/{bunitId}/referrals`. */
  add(template: string, value: T): void {
    let node = this.root;
    const names: string[] = [];
    for (const segment of template.split('/').slice(1)) {
      const param = /^\{(\w+)\}$/.exec(segment);
      if (param) {
        names.push(param[1]!);
        node = node.param ??= newNode();
      } else {
        const literal = segment.toLowerCase();
        let next = node.literals.get(literal);
        if (!next) node.literals.set(literal, (next = newNode()));
        node = next;
      }
    }
    if (node.end) throw new Error(`two routes for one path: ${template}`);
    node.end = { value, names };
  }

  /** The path (no query) of a request; null when no route has it. */
  match(path: string): Match<T> | null {
    const segments = path.split('/');
    // A path starts with "/", so the first segment is empty; one trailing slash is no segment.
    const last = segments.length > 2 && segments[segments.length - 1] === '' ? segments.length - 1 : segments.length;
    const values: string[] = [];
    const end = walk(this.root, segments, 1, last, values);
    if (!end) return null;
    const params: Record<string, string> = {};
    for (let i = 0; i < end.names.length; i++) params[end.names[i]!] = decodeParam(values[i]!);
    return { value: end.value, params };
  }
}

function walk<T>(node: Node<T>, segments: string[], i: number, last: number, values: string[]): Node<T>['end'] {
  if (i === last) return node.end;
  const segment = segments[i]!;
  const literal = node.literals.get(segment) ?? node.literals.get(segment.toLowerCase());
  if (literal) {
    const end = walk(literal, segments, i + 1, last, values);
    if (end) return end;
  }
  if (node.param && segment !== '') {
    values.push(segment);
    const end = walk(node.param, segments, i + 1, last, values);
    if (end) return end;
    values.pop();
  }
  return null;
}

function decodeParam(raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch (err) {
    throw Object.assign(err as URIError, { status: 400, message: `Failed to decode param '${raw}'` });
  }
}
