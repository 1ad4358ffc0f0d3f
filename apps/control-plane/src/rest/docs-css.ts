/** The reference page's stylesheet: served by us, since the CSP allows no inline style. */
export const DOCS_CSS = `
:root { color-scheme: light dark; --muted: #6b7280; --line: #d1d5db; --ok: #15803d; --err: #b91c1c; }
body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 60rem; padding: 1rem 1.5rem 4rem; }
h1 small, h4 small { color: var(--muted); font-weight: normal; }
code { font: 0.9em ui-monospace, monospace; }
nav h2 { font-size: 1rem; margin: 1rem 0 0.25rem; text-transform: capitalize; }
nav ul { list-style: none; margin: 0; padding: 0; }
main > section > h2 { border-bottom: 1px solid var(--line); margin-top: 3rem; text-transform: capitalize; }
.op { border: 1px solid var(--line); border-radius: 6px; margin: 1.5rem 0; padding: 0 1rem 0.5rem; }
.op h3 { font-size: 1.05rem; }
.summary { font-weight: 600; }
.meta, .type, small { color: var(--muted); }
.method { border-radius: 4px; color: #fff; font: 600 0.75rem ui-monospace, monospace; padding: 0.1rem 0.4rem; }
.method.get { background: #2563eb; } .method.post { background: #15803d; }
.method.put { background: #b45309; } .method.delete { background: #b91c1c; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
dt { font: 600 0.9rem ui-monospace, monospace; margin-top: 0.5rem; }
dt.ok { color: var(--ok); } dt.err { color: var(--err); }
dd { margin-left: 1.5rem; }
ul.fields { margin: 0.25rem 0; padding-left: 1.25rem; }
.t { color: var(--muted); font-style: italic; }
`;
