// PostGraphile 5.1.5 as bench/postgraphile.go runs it against the bench's
// database: the Amber preset (PostGraphile V5's defaults), the public schema,
// no authentication, no watch mode. DATABASE_URL and PORT come from the bench.
//
// PgIndexBehaviorsPlugin is disabled so that unindexed columns can be ordered
// on (memberships.last_active_at has no index; V4's ignoreIndexes: false did
// the same), and pgOrderByNullsLast (V4's orderByNullsLast) puts members
// never active last, as auditgraph does.
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
  schema: { pgOrderByNullsLast: true },
  grafserv: { host: "127.0.0.1", port: Number(process.env.PORT), graphiql: false },
};
