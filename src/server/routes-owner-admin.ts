import type { FastifyInstance } from "fastify";
import {
  ERASE_PATH,
  EraseOwnerBody,
  EraseReportDto,
  REKEY_PATH,
  RekeyOwnerBody,
  RekeyOwnerDto,
  VALUE_CHECK_PATH,
  ValueCheckDto,
  ValueCheckQuery,
} from "../contract/index.ts";
import { parseRetention, type Core } from "../core/service/index.ts";
import { body, input, output } from "./contract-io.ts";
import { actorOf, ctxOf } from "./routes-secrets.ts";

/**
 * The administrative endpoints behind `coffer keys rekey`, `coffer erase` and `coffer
 * secrets check` in remote mode. Each needs the `admin` scope; a refusal is audited under the
 * action the command would have recorded (`owner.rekey`, `owner.erase`).
 */
export function ownerAdminRoutes(app: FastifyInstance, core: Core): void {
  app.post(REKEY_PATH, async (req) => {
    const b = body(RekeyOwnerBody, req);
    return output(RekeyOwnerDto, await core.admin.rekey.rekey(actorOf(req), ctxOf(req), { owner: b.owner }));
  });

  app.post(ERASE_PATH, async (req) => {
    const b = body(EraseOwnerBody, req);
    const retention = b.backupRetention;
    const report = await core.admin.erase.erase(actorOf(req), ctxOf(req), {
      owner: b.owner,
      confirm: b.confirm,
      ...(retention === undefined ? {} : { backupRetentionMs: parseRetention(retention, "backupRetention") }),
    });
    return output(EraseReportDto, report);
  });

  // Each admin service checks the admin scope itself (and audits a refusal).
  app.get(VALUE_CHECK_PATH, async (req) => {
    const q = input(ValueCheckQuery, req.query, "query");
    const report = await core.admin.valueCheck.check(actorOf(req), ctxOf(req), q.owner === undefined ? {} : { owner: q.owner });
    return output(ValueCheckDto, report);
  });
}
