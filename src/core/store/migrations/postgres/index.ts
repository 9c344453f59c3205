import type { Migration } from "kysely/migration";
import * as m0001 from "./0001-initial.ts";
import * as m0002 from "./0002-rotation-jobs.ts";
import * as m0003 from "./0003-server.ts";
import * as m0004 from "./0004-integrity.ts";
import * as m0005 from "./0005-leases.ts";
import * as m0006 from "./0006-templates.ts";
import * as m0007 from "./0007-console-sessions.ts";
import * as m0008 from "./0008-state-mac-format-2.ts";

/** PostgreSQL migrations, in order; names match the SQLite migrations one for one. */
export const postgresMigrations: Readonly<Record<string, Migration>> = Object.freeze({
  "0001-initial": m0001,
  "0002-rotation-jobs": m0002,
  "0003-server": m0003,
  "0004-integrity": m0004,
  "0005-leases": m0005,
  "0006-templates": m0006,
  "0007-console-sessions": m0007,
  "0008-state-mac-format-2": m0008,
});
