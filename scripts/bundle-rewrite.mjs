// The post-processing step of scripts/bundle.mjs, apart so that tests can import it without
// running a build.

/**
 * The chunk's `import … from "node:x"` statements → `const … = require("node:x")`. esbuild emits
 * built-in imports as ESM import statements, each on its own line, in these forms: `import X from`,
 * `import * as X from`, `import { a, b as c } from`, `import X, { a } from`. The requires go on the
 * banner's line, before any other code runs (as an import would), and the import lines are left
 * empty (as many lines as they took), so that the source maps' line numbers stay right. esbuild gives every binding in a chunk
 * its own name, so hoisting them together cannot clash.
 */
const BUILTIN_IMPORT = /^import\s*(?:([\w$]+)\s*,?\s*)?(?:\*\s*as\s*([\w$]+)\s*)?(?:\{([^}]*)\}\s*)?from\s*"(node:[\w/]+)";$/gm;
const BANNER_END = 'const require = __tsbCreateRequire(import.meta.url);';

/** What every chunk starts with: require() for the built-ins and for CommonJS dependencies. */
export const BANNER = `import { createRequire as __tsbCreateRequire } from 'node:module';\n${BANNER_END}`;

export function requireBuiltins(code) {
  const hoisted = [];
  const body = code.replace(BUILTIN_IMPORT, (whole, def, star, named, mod) => {
    const before = hoisted.length;
    if (def !== undefined) hoisted.push(`const ${def} = require("${mod}");`);
    if (star !== undefined) hoisted.push(`const ${star} = require("${mod}");`);
    if (named !== undefined) {
      const parts = named.split(',').map((p) => p.trim()).filter((p) => p !== '').map((p) => p.replace(/\s+as\s+/, ': '));
      hoisted.push(`const { ${parts.join(', ')} } = require("${mod}");`);
    }
    if (hoisted.length === before) throw new Error(`bundle: unexpected built-in import: ${whole}`);
    return '\n'.repeat(whole.split('\n').length - 1); // as many lines as the import took
  });
  if (/^import\b[^;]*"node:/m.test(body)) throw new Error('bundle: a built-in import was not rewritten');
  if (hoisted.length === 0) return body;
  const at = body.indexOf(BANNER_END);
  if (at < 0) throw new Error('bundle: banner not found');
  const end = at + BANNER_END.length;
  return `${body.slice(0, end)} ${hoisted.join(' ')}${body.slice(end)}`;
}
