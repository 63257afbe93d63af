/**
 * The functions' pools pipeline their queries (postgres.js's default): many requests' queries
 * share a connection at once. What a request must still be able to count on, against a real
 * Postgres: its answer is its own, and a query that fails (another request's) neither fails
 * it nor undoes its write.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { db } from "./db.ts";

const QUERIES = 400; // on a pool of 8: dozens in flight on each connection
const fails = (n: number) => n % 7 === 3;

Deno.test("pipelined queries: each answer is its own, a failure fails only its query", async () => {
  const answers = await Promise.allSettled(
    Array.from(
      { length: QUERIES },
      (_, n) =>
        fails(n)
          ? db()<{ n: number }[]>`select ${n}::int / 0 as n`
          : db()<{ n: number }[]>`select ${n}::int as n`,
    ),
  );
  const right = (answer: PromiseSettledResult<{ n: number }[]>, n: number) =>
    fails(n)
      ? answer.status === "rejected" && (answer.reason as { code?: string }).code === "22012"
      : answer.status === "fulfilled" && answer.value[0].n === n;
  const wrong = answers.flatMap((answer, n) => right(answer, n) ? [] : [n]);
  assertEquals(wrong, []);
});

Deno.test("pipelined writes: one that fails undoes no other", async () => {
  const sql = db();
  await sql`create table pipelined_writes (n int primary key check (n % 7 <> 3))`;
  try {
    const written = await Promise.allSettled(
      Array.from({ length: QUERIES }, (_, n) => sql`insert into pipelined_writes values (${n})`),
    );
    const refused = written.flatMap((w, n) => w.status === "rejected" ? [n] : []);
    assertEquals(refused, [...Array(QUERIES).keys()].filter(fails));
    const kept = await sql<{ n: number }[]>`select n from pipelined_writes order by n`;
    assertEquals(kept.map((r) => r.n), [...Array(QUERIES).keys()].filter((n) => !fails(n)));
  } finally {
    await sql`drop table pipelined_writes`;
  }
});
