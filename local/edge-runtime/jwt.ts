/** HS256 verification of the `Authorization: Bearer` JWT, as Supabase's gateway does it. */
import { errors, jwtVerify } from "jose";
import { HttpError } from "./http.ts";

export class JwtVerifier {
  #key: Uint8Array;

  constructor(secret: string) {
    this.#key = new TextEncoder().encode(secret);
  }

  /** The verified claims, or an HttpError 401 that says what is wrong. */
  async verify(authorization: string | null): Promise<Record<string, unknown>> {
    const match = authorization?.match(/^Bearer\s+(\S+)$/i);
    if (!match) {
      throw new HttpError(401, "Missing authorization header", "UNAUTHORIZED_NO_AUTH_HEADER");
    }
    try {
      const { payload } = await jwtVerify(match[1], this.#key, { algorithms: ["HS256"] });
      return payload as Record<string, unknown>;
    } catch (err) {
      const reason = err instanceof errors.JWTExpired ? "JWT expired" : "Invalid JWT";
      throw new HttpError(401, reason, "UNAUTHORIZED_INVALID_JWT_FORMAT");
    }
  }
}
