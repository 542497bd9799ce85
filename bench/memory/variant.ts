// One variant of `bench/memory-ab.ts`: "NAME[; flags=NODE FLAGS][; env=K=V K=V][; cli=PATH]".
export interface Variant {
  readonly name: string;
  readonly flags: string[];
  readonly env: Record<string, string>;
  readonly cli?: string;
}

export function parseVariant(text: string): Variant {
  const [name, ...parts] = text.split(';').map((p) => p.trim());
  if (!name) throw new Error(`--variant "${text}": a name first`);
  const v: { name: string; flags: string[]; env: Record<string, string>; cli?: string } = { name, flags: [], env: {} };
  for (const p of parts) {
    const eq = p.indexOf('=');
    const key = eq < 0 ? p : p.slice(0, eq);
    const value = eq < 0 ? '' : p.slice(eq + 1).trim();
    if (key === 'flags') v.flags = value.split(' ').filter(Boolean);
    else if (key === 'cli') v.cli = value;
    else if (key === 'env') {
      for (const kv of value.split(' ').filter(Boolean)) {
        const e = kv.indexOf('=');
        if (e <= 0) throw new Error(`--variant "${text}": env wants K=V, got "${kv}"`);
        v.env[kv.slice(0, e)] = kv.slice(e + 1);
      }
    } else throw new Error(`--variant "${text}": unknown part "${key}" (flags=, env=, cli=)`);
  }
  return v;
}
