// Lets TypeScript accept the stylesheet import that esbuild bundles.
declare module '*.css';
