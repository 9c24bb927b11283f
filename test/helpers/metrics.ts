import { registry } from '../../src/metrics';

/** The samples of a Prometheus text exposition: `name{labels}` → value. */
export function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** This process's metrics now; `delta(key)` on the result of `since()` is how much a sample grew since. */
export async function metricsNow(): Promise<{ since(): Promise<(key: string) => number> }> {
  const before = samples(await registry.metrics());
  return {
    async since() {
      const after = samples(await registry.metrics());
      return (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
    },
  };
}
