// PostGraphile 5.1.5 as bench/postgraphile.go runs it against the bench's
// database: the Amber preset (PostGraphile V5's defaults), the public schema,
// no authentication, no watch mode. DATABASE_URL and PORT come from the bench.
//
// PgIndexBehaviorsPlugin is disabled so that every column can be ordered on
// (V4's ignoreIndexes: false did the same). The bench sets
// AUDITGRAPH_BENCH_NULLS_LAST=1 for the members page only: pgOrderByNullsLast
// (V4's orderByNullsLast) puts members never active last, as auditgraph does,
// but it applies to every ordering, and on the events page it turns
// "ts DESC" into "ts DESC NULLS LAST", which no index of audit_events serves
// (the columns are NOT NULL, which the planner does not use to match the
// index's order): PostgreSQL then reads and sorts every event of the action.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";

export default {
  extends: [PostGraphileAmberPreset],
  disablePlugins: ["PgIndexBehaviorsPlugin"],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["public"],
    }),
  ],
  schema: { pgOrderByNullsLast: process.env.AUDITGRAPH_BENCH_NULLS_LAST === "1" ? true : undefined },
  grafserv: { host: "127.0.0.1", port: Number(process.env.PORT), graphiql: false },
};
