-- Supabase Vault's interface (supabase/vault 0.3: vault.secrets, vault.create_secret,
-- vault.update_secret, vault.decrypted_secrets) on pgcrypto. Values are encrypted at rest with
-- a key that lives in a file outside the database (like pgsodium's server key): the server reads
-- it through `supastack.vault_key_file`, so neither a dump nor a SELECT on vault.secrets
-- reveals a value. Only the definer functions and the view ever see the key.
CREATE SCHEMA IF NOT EXISTS vault;

CREATE TABLE IF NOT EXISTS vault.secrets (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text,
  description text NOT NULL DEFAULT '',
  secret text NOT NULL,
  key_id uuid,
  nonce bytea,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS secrets_name_idx ON vault.secrets (name) WHERE name IS NOT NULL;

CREATE OR REPLACE FUNCTION vault._crypto_key() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  select pg_catalog.btrim(
    pg_catalog.pg_read_file(pg_catalog.current_setting('supastack.vault_key_file')), E' \n'
  )
$$;
REVOKE ALL ON FUNCTION vault._crypto_key() FROM PUBLIC;

CREATE OR REPLACE FUNCTION vault._encrypt(plaintext text) RETURNS text
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
  select pg_catalog.encode(
    extensions.pgp_sym_encrypt(plaintext, vault._crypto_key(), 'cipher-algo=aes256'), 'base64'
  )
$$;
REVOKE ALL ON FUNCTION vault._encrypt(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION vault.create_secret(
  new_secret text,
  new_name text = NULL,
  new_description text = '',
  new_key_id uuid = NULL
) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  new_id uuid;
BEGIN
  INSERT INTO vault.secrets (secret, name, description, key_id)
  VALUES (vault._encrypt(new_secret), new_name, coalesce(new_description, ''), new_key_id)
  RETURNING id INTO new_id;
  RETURN new_id;
END
$$;

CREATE OR REPLACE FUNCTION vault.update_secret(
  secret_id uuid,
  new_secret text = NULL,
  new_name text = NULL,
  new_description text = NULL,
  new_key_id uuid = NULL
) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  UPDATE vault.secrets s SET
    secret = CASE WHEN new_secret IS NULL THEN s.secret ELSE vault._encrypt(new_secret) END,
    name = coalesce(new_name, s.name),
    description = coalesce(new_description, s.description),
    key_id = coalesce(new_key_id, s.key_id),
    updated_at = now()
  WHERE s.id = secret_id;
END
$$;

CREATE OR REPLACE VIEW vault.decrypted_secrets AS
SELECT
  s.id,
  s.name,
  s.description,
  s.secret,
  extensions.pgp_sym_decrypt(pg_catalog.decode(s.secret, 'base64'), vault._crypto_key())
    AS decrypted_secret,
  s.key_id,
  s.nonce,
  s.created_at,
  s.updated_at
FROM vault.secrets s;

REVOKE ALL ON FUNCTION vault.create_secret(text, text, text, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION vault.update_secret(uuid, text, text, text, uuid) FROM PUBLIC;
REVOKE ALL ON vault.secrets, vault.decrypted_secrets FROM PUBLIC;
GRANT USAGE ON SCHEMA vault TO postgres WITH GRANT OPTION;
GRANT SELECT, DELETE ON vault.secrets, vault.decrypted_secrets TO postgres WITH GRANT OPTION;
GRANT EXECUTE ON FUNCTION vault.create_secret(text, text, text, uuid),
  vault.update_secret(uuid, text, text, text, uuid) TO postgres WITH GRANT OPTION;
