/** What every chunk starts with (scripts/bundle-rewrite.mjs). */
export declare const BANNER: string;
/** A chunk's built-in ESM imports → require() calls on the banner's line (scripts/bundle-rewrite.mjs). */
export declare function requireBuiltins(code: string): string;
