/**
 * Set by scripts/bundle.mjs to the bundle's one copy of zod/mini (`./zod-mini.js`, beside every
 * chunk), which the chunks that import zod statically (the HTTP contract, the files) share with
 * this loader. Undefined when running from source: the package's own ES module.
 */
declare const BUNDLED_ZOD: string | undefined;

type ZodMini = typeof import("zod/mini");
/** What this file uses of Node's modules (typed here: the browser console's build has no Node types). */
type NodeModules = {
  "node:module": { createRequire(from: string): (id: string) => unknown };
  "node:url": { fileURLToPath(url: string): string };
};
let loaded: ZodMini | undefined;

/**
 * zod/mini for the core's schemas, from a module that imports it anyway (the HTTP contract does,
 * before it builds on them): the only way in a browser, where the SDK's contract runs.
 */
export function provideZod(z: ZodMini): void {
  loaded ??= z;
}

/**
 * zod/mini, loaded on first use. The core's schemas are built by `lazySchema` and the inputs
 * `coffer run` parses (its configuration, owner, prefix, reason, key manifest, stored metadata)
 * are checked without zod when they are valid, so a run loads none of it (start-up is a target,
 * docs/benchmarks.md; test/e2e/run-startup.test.ts). On Node, unless provided: synchronous —
 * `require` of an ES module, Node ≥ 22.12 — and the same module instance as a static
 * `import "zod/mini"` (from source the ES module's own file is required, not the package's
 * CommonJS build). Node's modules through `process.getBuiltinModule`, so that browsers
 * importing the contract (which provides zod) never see a `node:` import.
 */
export function zod(): ZodMini {
  if (loaded !== undefined) return loaded;
  const node = <K extends keyof NodeModules>(id: K): NodeModules[K] =>
    (globalThis as unknown as { process: { getBuiltinModule: (id: K) => NodeModules[K] } }).process.getBuiltinModule(id);
  const file = typeof BUNDLED_ZOD === "string" ? BUNDLED_ZOD : node("node:url").fileURLToPath(import.meta.resolve("zod/mini"));
  loaded = node("node:module").createRequire(import.meta.url)(file) as ZodMini;
  return loaded;
}

/**
 * A zod schema built (and zod loaded) on first use: every property read (`safeParse`, `_zod`, …) goes to the
 * schema `make` returns, built once. Modules define their schemas with it so importing them
 * builds nothing (and loads no zod); the HTTP contract composes them like any schema.
 */
export function lazySchema<T extends object>(make: (z: ZodMini) => T): T {
  let real: T | undefined;
  const get = (): T => (real ??= make(zod()));
  return new Proxy({} as T, {
    get: (_target, prop) => Reflect.get(get(), prop) as unknown,
    has: (_target, prop) => Reflect.has(get(), prop),
    ownKeys: () => Reflect.ownKeys(get()),
    getOwnPropertyDescriptor: (_target, prop) => {
      const d = Reflect.getOwnPropertyDescriptor(get(), prop);
      // A proxy may only report an own property as non-configurable if its target has it so.
      return d === undefined ? undefined : { ...d, configurable: true };
    },
    getPrototypeOf: () => Reflect.getPrototypeOf(get()),
    set: (_target, prop, value) => Reflect.set(get(), prop, value),
  });
}
