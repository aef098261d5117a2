// Module hooks that let Node 20 run the checkout's TypeScript with no build step:
// each .ts file is compiled on load by esbuild, one file at a time, with the
// project's tsconfig semantics. Unlike tsx, no `keepNames` helper is injected: it
// wrapped every closure created on a hot path in a defineProperty call and made
// some model paths several times slower (see docs/architecture.md, "Scale").
import { transform } from 'esbuild';
import { fileURLToPath } from 'node:url';

const TSCONFIG = { compilerOptions: { target: 'ES2022', verbatimModuleSyntax: true, useDefineForClassFields: true } };

/** load hook: compile project .ts files; everything else goes to Node's loader. */
export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  const { source } = await nextLoad(url, { ...context, format: 'module' });
  const { code } = await transform(String(source), {
    loader: 'ts',
    format: 'esm',
    target: 'node20',
    sourcemap: 'inline',
    sourcefile: fileURLToPath(url),
    tsconfigRaw: TSCONFIG,
  });
  return { format: 'module', source: code, shortCircuit: true };
}
