// Parses each file named on the command line with Mermaid's own parser (mermaid.parse, the
// parser the renderers use), and prints `FILE: TYPE` or `FILE: ERROR`. Exit 1 if any fails
// to parse, 2 when called without files. Mermaid sanitises labels with DOMPurify, which needs
// a DOM: jsdom stands in for the browser.
import fs from 'node:fs';
import { JSDOM } from 'jsdom';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node scripts/mermaid/check.mjs FILE.mmd…');
  process.exit(2);
}
const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
for (const k of ['Element', 'HTMLElement', 'Node', 'NodeFilter', 'DocumentFragment', 'DOMParser']) {
  globalThis[k] ??= dom.window[k];
}
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false });
let bad = 0;
for (const f of files) {
  try {
    const r = await mermaid.parse(fs.readFileSync(f, 'utf8'));
    console.log(`${f}: ${r.diagramType}`);
  } catch (e) {
    bad += 1;
    console.log(`${f}: ${String(e.message ?? e).split('\n').join(' | ')}`);
  }
}
process.exit(bad ? 1 : 0);
