/**
 * An organization's alert definitions: GET lists them (members, read keys); POST creates one
 * (201); PATCH ?id= changes the fields given; DELETE ?id= removes one (owners and admins).
 * Fields: name, metric, condition (above | below), threshold, windowSeconds (60 to 86400),
 * channel (one of the platform's alert channels), severity, enabled. Another organization's
 * alert and a missing one are the same 404.
 */
import { db, HttpError, json, readJson, serve } from "../../_shared/mod.ts";
import { observaiError, principal } from "../_lib/access.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function alertId(url: URL): string {
  const id = url.searchParams.get("id");
  if (id === null || !UUID.test(id)) throw new HttpError(422, "INVALID_INPUT", "id: a UUID");
  return id;
}

serve(import.meta.url, { callers: ["anon", "user"] }, async (req, ctx) => {
  const who = principal(req, ctx.caller);
  const url = new URL(req.url);
  const as = [who.keyDigest, who.userId, who.organization] as const;
  try {
    switch (req.method) {
      case "GET": {
        const [row] = await db()`
          select observai.list_alerts(${as[0]}::bytea, ${as[1]}::uuid, ${as[2]}) as alerts`;
        return json(200, { alerts: row.alerts });
      }
      case "POST":
      case "PATCH": {
        const id = req.method === "PATCH" ? alertId(url) : null;
        const body = await readJson(req);
        const [row] = await db()`
          select observai.save_alert(${as[0]}::bytea, ${as[1]}::uuid, ${as[2]}, ${id}::uuid,
                                     ${JSON.stringify(body)}::text::jsonb) as alert`;
        return json(id === null ? 201 : 200, row.alert);
      }
      case "DELETE": {
        await db()`
          select observai.delete_alert(${as[0]}::bytea, ${as[1]}::uuid, ${as[2]},
                                       ${alertId(url)}::uuid)`;
        return new Response(null, { status: 204 });
      }
      default:
        throw new HttpError(405, "METHOD_NOT_ALLOWED", "Use GET, POST, PATCH or DELETE");
    }
  } catch (err) {
    throw observaiError(err);
  }
});
