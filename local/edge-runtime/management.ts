/**
 * The subset of Supabase's Management API that supastack uses, at the real paths and with the
 * real request and response shapes, so one client drives the local runtime and Supabase alike:
 *
 *   POST   /v1/projects/{ref}/functions/deploy?slug=   multipart: metadata + file parts
 *   GET    /v1/projects/{ref}/functions
 *   GET    /v1/projects/{ref}/functions/{slug}
 *   DELETE /v1/projects/{ref}/functions/{slug}
 *   GET    /v1/projects/{ref}/secrets                  names and sha256 digests, never values
 *   POST   /v1/projects/{ref}/secrets                  [{name, value}] upsert
 *   DELETE /v1/projects/{ref}/secrets                  [name, ...]
 *   GET    /v1/projects/{ref}/postgrest                the Data API's config
 *   PATCH  /v1/projects/{ref}/postgrest                {db_schema, max_rows, ...}
 *   GET    /v1/projects/{ref}/config/database/pooler   [{pool_mode, default_pool_size, ...}]
 *   PATCH  /v1/projects/{ref}/config/database/pooler   {pool_mode?, default_pool_size?}
 *   GET    /v1/projects/{ref}/ssl-enforcement          {currentConfig: {database}, ...}
 *   PUT    /v1/projects/{ref}/ssl-enforcement          {requestedConfig: {database}}
 *   GET    /v1/projects/{ref}/network-restrictions     {config: {dbAllowedCidrs, ...}, status}
 *   POST   /v1/projects/{ref}/network-restrictions/apply  {dbAllowedCidrs?, dbAllowedCidrsV6?}
 *   GET    /v1/projects/{ref}/config/realtime          {max_concurrent_users, ...}
 *   PATCH  /v1/projects/{ref}/config/realtime          {max_concurrent_users?, ...} (204)
 */
import { HttpError, json, readLimited } from "./http.ts";
import {
  type DeployMetadata,
  type FunctionStore,
  MAX_DEPLOY_BYTES,
  type UploadedFile,
} from "./functions.ts";
import type { ProjectConfigStore } from "./project_config.ts";
import type { SecretStore } from "./secrets.ts";

export interface ManagementContext {
  projectRef: string;
  accessToken: string;
  functions: FunctionStore;
  secrets: SecretStore;
  projectConfig: ProjectConfigStore;
  /** Called after a function is deployed or deleted, so its old handler is dropped. */
  onFunctionChange(slug: string): void;
}

/** The pooler, SSL enforcement, network restrictions and Realtime (project_config.ts). */
async function projectSetting(
  req: Request,
  path: string,
  ctx: ManagementContext,
): Promise<Response> {
  const store = ctx.projectConfig;
  const method = `${req.method} ${path}`;
  if (method === "GET config/database/pooler") return json(200, store.pooler(ctx.projectRef));
  if (method === "PATCH config/database/pooler") {
    return json(200, await store.updatePooler(await jsonBody(req, "Pooler config")));
  }
  if (method === "GET ssl-enforcement") return json(200, store.ssl());
  if (method === "PUT ssl-enforcement") {
    return json(200, await store.updateSsl(await jsonBody(req, "SSL enforcement")));
  }
  if (method === "GET config/realtime") return json(200, store.realtime());
  if (method === "PATCH config/realtime") {
    await store.updateRealtime(await jsonBody(req, "Realtime config"));
    return new Response(null, { status: 204 });
  }
  if (method === "GET network-restrictions") return json(200, store.network());
  if (method === "POST network-restrictions/apply") {
    return json(201, await store.applyNetwork(await jsonBody(req, "Network restrictions")));
  }
  return json(405, { message: `${req.method} is not supported on ${path}` });
}

function constantTimeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

async function jsonBody(req: Request, what: string): Promise<unknown> {
  try {
    return await req.json();
  } catch {
    throw new HttpError(400, `${what}: request body is not valid JSON`);
  }
}

/** Room for the metadata part and the multipart boundaries around the files' bytes. */
const MULTIPART_OVERHEAD_BYTES = 1024 * 1024;

async function deploy(req: Request, url: URL, ctx: ManagementContext): Promise<Response> {
  // the slug, when the query names it (as supastack's client always does), names the function
  // in an oversized upload's refusal, before any of the body is read
  const named = url.searchParams.get("slug");
  const what = named ? `Deploy of function '${named}'` : "Deploy";
  const body = await readLimited(req, MAX_DEPLOY_BYTES + MULTIPART_OVERHEAD_BYTES, what);
  let form: FormData;
  try {
    const type = req.headers.get("content-type") ?? "";
    form = await new Response(body, { headers: { "content-type": type } }).formData();
  } catch {
    throw new HttpError(400, "Deploy: expected a multipart/form-data body");
  }
  const rawMeta = form.get("metadata");
  if (typeof rawMeta !== "string") {
    throw new HttpError(400, "Deploy: the 'metadata' part is required");
  }
  let meta: DeployMetadata;
  try {
    meta = JSON.parse(rawMeta);
  } catch {
    throw new HttpError(400, "Deploy: the 'metadata' part is not valid JSON");
  }
  const slug = url.searchParams.get("slug") ?? meta.name;
  if (!slug) throw new HttpError(400, "Deploy: the 'slug' query parameter is required");
  const files: UploadedFile[] = [];
  for (const part of form.getAll("file")) {
    if (typeof part === "string") {
      throw new HttpError(400, `Function '${slug}': 'file' parts must be files`);
    }
    files.push({ path: part.name, data: new Uint8Array(await part.arrayBuffer()) });
  }
  const version = await ctx.functions.deploy(slug, meta, files);
  ctx.onFunctionChange(slug);
  return json(201, version);
}

export async function handleManagement(
  req: Request,
  url: URL,
  ctx: ManagementContext,
): Promise<Response> {
  const token = req.headers.get("authorization")?.match(/^Bearer\s+(\S+)$/i)?.[1];
  if (!token || !constantTimeEqual(token, ctx.accessToken)) {
    return json(401, { message: "Unauthorized" });
  }
  const settings = url.pathname.match(
    /^\/v1\/projects\/([^/]+)\/(config\/database\/pooler|config\/realtime|ssl-enforcement|network-restrictions(?:\/apply)?)\/?$/,
  );
  if (settings) {
    if (settings[1] !== ctx.projectRef) {
      return json(404, { message: `Project '${settings[1]}' not found` });
    }
    return await projectSetting(req, settings[2], ctx);
  }
  const match = url.pathname.match(
    /^\/v1\/projects\/([^/]+)\/(functions|secrets|postgrest)(?:\/([^/]+))?\/?$/,
  );
  if (!match) return json(404, { message: "Not found" });
  const [, ref, kind, rest] = match;
  if (ref !== ctx.projectRef) return json(404, { message: `Project '${ref}' not found` });

  if (kind === "secrets" && rest === undefined) {
    if (req.method === "GET") return json(200, await ctx.secrets.digests());
    if (req.method === "POST") {
      const body = await jsonBody(req, "Secrets");
      if (!Array.isArray(body)) {
        throw new HttpError(400, "Secrets: expected an array of {name, value}");
      }
      await ctx.secrets.upsert(body);
      return new Response(null, { status: 201 });
    }
    if (req.method === "DELETE") {
      const body = await jsonBody(req, "Secrets");
      if (!Array.isArray(body) || body.some((n) => typeof n !== "string")) {
        throw new HttpError(400, "Secrets: expected an array of secret names");
      }
      await ctx.secrets.delete(body);
      return new Response(null, { status: 200 });
    }
  }
  if (kind === "postgrest" && rest === undefined) {
    if (req.method === "GET") return json(200, ctx.projectConfig.postgrest());
    if (req.method === "PATCH") {
      return json(200, await ctx.projectConfig.updatePostgrest(await jsonBody(req, "PostgREST")));
    }
  }
  if (kind === "functions") {
    if (rest === "deploy" && req.method === "POST") return await deploy(req, url, ctx);
    if (rest === undefined && req.method === "GET") return json(200, ctx.functions.list());
    if (rest !== undefined && req.method === "GET") {
      const fn = ctx.functions.get(rest);
      if (!fn) throw new HttpError(404, `Function '${rest}' not found`);
      return json(200, fn);
    }
    if (rest !== undefined && req.method === "DELETE") {
      await ctx.functions.delete(rest);
      ctx.onFunctionChange(rest);
      return new Response(null, { status: 200 });
    }
  }
  return json(405, { message: `${req.method} is not supported on ${url.pathname}` });
}
