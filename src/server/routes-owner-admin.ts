import type { FastifyInstance } from "fastify";
import {
  ERASE_PATH,
  EraseOwnerBody,
  REKEY_PATH,
  RETIRE_PATH,
  RekeyOwnerBody,
  RetireKidBody,
  VALUE_CHECK_PATH,
  ValueCheckQuery,
  type EraseReportDto,
  type RekeyOwnerDto,
  type RetireKidDto,
  type ValueCheckDto,
} from "../contract/index.ts";
import { parseWith } from "../core/model/index.ts";
import { CryptoErase, KekRotation, OwnerRekey, ValueCheck, parseRetention } from "../core/service/index.ts";
import type { Core } from "../core/service/index.ts";
import { actorOf, body, ctxOf } from "./routes-secrets.ts";

/**
 * The administrative endpoints behind `coffer keys rekey|retire`, `coffer erase` and `coffer
 * secrets check` in remote mode. Each needs the `admin` scope; a refusal is audited under the
 * action the command would have recorded (`owner.rekey`, `keys.retire`, `owner.erase`).
 */
export function ownerAdminRoutes(app: FastifyInstance, core: Core): void {
  app.post(RETIRE_PATH, async (req): Promise<RetireKidDto> => {
    await core.tokens.authorizeAdmin(actorOf(req), ctxOf(req), "keys.retire");
    const b = body(RetireKidBody, req);
    return new KekRotation(core).retire(actorOf(req), ctxOf(req), { kid: b.kid });
  });

  app.post(REKEY_PATH, async (req): Promise<RekeyOwnerDto> => {
    await core.tokens.authorizeAdmin(actorOf(req), ctxOf(req), "owner.rekey");
    const b = body(RekeyOwnerBody, req);
    return new OwnerRekey(core).rekey(actorOf(req), ctxOf(req), { owner: b.owner });
  });

  app.post(ERASE_PATH, async (req): Promise<EraseReportDto> => {
    await core.tokens.authorizeAdmin(actorOf(req), ctxOf(req), "owner.erase");
    const b = body(EraseOwnerBody, req);
    const retention = b.backupRetention;
    const backupRetentionMs = retention === undefined ? core.policy.backupRetentionMs : parseRetention(retention, "backupRetention");
    return new CryptoErase(core, { backupRetentionMs }).erase(actorOf(req), ctxOf(req), { owner: b.owner, confirm: b.confirm });
  });

  // ValueCheck checks the admin scope itself (and audits a refusal).
  app.get(VALUE_CHECK_PATH, async (req): Promise<ValueCheckDto> => {
    const q = parseWith(ValueCheckQuery, req.query, "query");
    return new ValueCheck(core).check(actorOf(req), ctxOf(req), q.owner === undefined ? {} : { owner: q.owner });
  });
}
