-- pg_net's interface (supabase/pg_net: net.http_post, net.http_get, net.http_delete and the
-- net._http_response table) implemented in PL/Python for the local target.
-- Difference from pg_net, on purpose and documented: pg_net queues the request and sends it
-- after COMMIT (nothing is sent if the transaction rolls back); this implementation sends
-- synchronously, inside the calling transaction. The signatures, the request id it returns,
-- and the response row it records are the same, so SQL written against one runs on the other.
CREATE SCHEMA IF NOT EXISTS net;
GRANT USAGE ON SCHEMA net TO postgres, anon, authenticated, service_role;

CREATE SEQUENCE IF NOT EXISTS net.http_request_queue_id_seq;

CREATE UNLOGGED TABLE IF NOT EXISTS net._http_response (
  id bigint,
  status_code integer,
  content_type text,
  headers jsonb,
  content text,
  timed_out boolean,
  error_msg text,
  created timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS _http_response_created_idx ON net._http_response (created);

CREATE OR REPLACE FUNCTION net._send(
  method text, url text, body bytea, params jsonb, headers jsonb, timeout_milliseconds integer
) RETURNS bigint
LANGUAGE plpython3u VOLATILE SECURITY DEFINER SET search_path = '' AS $py$
import json
import urllib.error
import urllib.parse
import urllib.request

request_id = plpy.execute("select nextval('net.http_request_queue_id_seq') as id")[0]["id"]
query = urllib.parse.urlencode(json.loads(params or "{}"))
target = url + (("&" if "?" in url else "?") + query if query else "")
request = urllib.request.Request(
    target, data=body, method=method, headers=json.loads(headers or "{}")
)
status = content_type = content = error = None
response_headers = {}
timed_out = False
try:
    with urllib.request.urlopen(request, timeout=timeout_milliseconds / 1000) as response:
        status, response_headers = response.status, dict(response.headers)
        content = response.read().decode("utf-8", "replace")
except urllib.error.HTTPError as exc:
    status, response_headers = exc.code, dict(exc.headers)
    content = exc.read().decode("utf-8", "replace")
except TimeoutError as exc:
    timed_out, error = True, f"Timeout of {timeout_milliseconds} ms reached: {exc}"
except (urllib.error.URLError, OSError, ValueError) as exc:
    error = str(getattr(exc, "reason", exc))
content_type = response_headers.get("Content-Type") or response_headers.get("content-type")
plan = plpy.prepare(
    "insert into net._http_response "
    "(id, status_code, content_type, headers, content, timed_out, error_msg) "
    "values ($1, $2, $3, $4, $5, $6, $7)",
    ["bigint", "integer", "text", "jsonb", "text", "boolean", "text"],
)
plpy.execute(plan, [request_id, status, content_type, json.dumps(response_headers), content,
                    timed_out, error])
return request_id
$py$;
REVOKE ALL ON FUNCTION net._send(text, text, bytea, jsonb, jsonb, integer) FROM PUBLIC;

CREATE OR REPLACE FUNCTION net.http_post(
  url text,
  body jsonb DEFAULT '{}'::jsonb,
  params jsonb DEFAULT '{}'::jsonb,
  headers jsonb DEFAULT '{"Content-Type": "application/json"}'::jsonb,
  timeout_milliseconds integer DEFAULT 5000
) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  content_type text;
BEGIN
  SELECT value INTO content_type FROM pg_catalog.jsonb_each_text(headers)
  WHERE pg_catalog.lower(key) = 'content-type';
  IF content_type IS NULL THEN
    headers := headers || '{"Content-Type": "application/json"}'::jsonb;
  ELSIF content_type <> 'application/json' THEN
    RAISE EXCEPTION 'Content-Type header must be "application/json"';
  END IF;
  RETURN net._send('POST', url, pg_catalog.convert_to(body::text, 'UTF8'), params, headers,
                   timeout_milliseconds);
END
$$;

CREATE OR REPLACE FUNCTION net.http_get(
  url text,
  params jsonb DEFAULT '{}'::jsonb,
  headers jsonb DEFAULT '{}'::jsonb,
  timeout_milliseconds integer DEFAULT 5000
) RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
  select net._send('GET', url, null, params, headers, timeout_milliseconds)
$$;

CREATE OR REPLACE FUNCTION net.http_delete(
  url text,
  params jsonb DEFAULT '{}'::jsonb,
  headers jsonb DEFAULT '{}'::jsonb,
  timeout_milliseconds integer DEFAULT 5000
) RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
  select net._send('DELETE', url, null, params, headers, timeout_milliseconds)
$$;

REVOKE ALL ON FUNCTION net.http_post(text, jsonb, jsonb, jsonb, integer),
  net.http_get(text, jsonb, jsonb, integer), net.http_delete(text, jsonb, jsonb, integer)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION net.http_post(text, jsonb, jsonb, jsonb, integer),
  net.http_get(text, jsonb, jsonb, integer), net.http_delete(text, jsonb, jsonb, integer)
  TO postgres, anon, authenticated, service_role;
GRANT SELECT ON net._http_response TO postgres, service_role;
