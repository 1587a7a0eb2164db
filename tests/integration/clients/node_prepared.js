// node-postgres against linkpool in transaction pooling
// (test_prepared_clients.py): many clients, each running named queries
// ({name, text, values}: Parse once per connection, then Bind/Execute only)
// in autocommit and in explicit transactions, with a named query that fails
// in the middle of a transaction. Every result is checked.
//
//   node node_prepared.js HOST PORT DB USER PASSWORD CLIENTS ROUNDS
//
// Prints "OK clients=N queries=Q" and exits 0, or the first failure and 1.
'use strict';
const { Client } = require('pg');

const [host, port, database, user, password, nclients, nrounds] = process.argv.slice(2);
let queries = 0;

function check(ok, what) {
  if (!ok) throw new Error('check failed: ' + what);
}

const NAMED = [
  { name: 'plus', text: 'SELECT $1::int + $2::int AS v', args: (i, j) => [i, j], want: (i, j) => i + j },
  { name: 'concat', text: "SELECT $1::text || '/' || $2::text AS v", args: (i, j) => ['c' + i, 'r' + j], want: (i, j) => `c${i}/r${j}` },
  { name: 'series', text: 'SELECT count(*)::int AS v FROM generate_series(1, $1::int)', args: (i, j) => [j % 9 + 1], want: (i, j) => j % 9 + 1 },
  { name: 'json', text: "SELECT json_build_object('i', $1::int) ->> 'i' AS v", args: (i) => [i], want: (i) => String(i) },
];

async function one(c, q, values) {
  const r = await c.query({ name: q.name, text: q.text, values });
  queries++;
  check(r.rows.length === 1, `${q.name}: one row`);
  return r.rows[0].v;
}

async function client(i, rounds) {
  const c = new Client({ host, port: Number(port), database, user, password, ssl: false });
  await c.connect();
  try {
    for (let j = 0; j < rounds; j++) {
      const q = NAMED[(i + j) % NAMED.length];
      check((await one(c, q, q.args(i, j))) === q.want(i, j), `${q.name} ${i} ${j}`);
      if (j % 4 === 1) {
        await c.query('BEGIN');
        for (const q2 of NAMED)
          check((await one(c, q2, q2.args(i, j))) === q2.want(i, j), `${q2.name} in tx`);
        await c.query('COMMIT');
      }
      if (j % 7 === 3) {
        // fails at Execute: the transaction is rolled back, the name stays
        await c.query('BEGIN');
        let failed = null;
        try {
          await c.query({ name: 'div', text: 'SELECT 10 / $1::int AS v', values: [0] });
        } catch (e) {
          failed = e;
        }
        check(failed && failed.code === '22012', 'division by zero: ' + failed);
        await c.query('ROLLBACK');
        const r = await c.query({ name: 'div', text: 'SELECT 10 / $1::int AS v', values: [5] });
        check(r.rows[0].v === 2, 'div after the error');
        queries += 2;
      }
    }
  } finally {
    await c.end();
  }
}

async function main() {
  const n = Number(nclients), rounds = Number(nrounds);
  const runs = [];
  for (let i = 0; i < n; i++) runs.push(client(i, rounds));
  const results = await Promise.allSettled(runs);
  const bad = results.find((r) => r.status === 'rejected');
  if (bad) {
    console.log('FAILED: ' + (bad.reason && bad.reason.stack ? bad.reason.stack : bad.reason));
    process.exit(1);
  }
  console.log(`OK clients=${n} queries=${queries}`);
}

main().catch((e) => {
  console.log('FAILED: ' + e.stack);
  process.exit(1);
});
