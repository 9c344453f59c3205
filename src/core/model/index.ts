export {
  OwnerId,
  OWNER_TYPES,
  SYSTEM_OWNER_ID,
  parseOwner,
  ownerFromColumns,
  ownerType,
  ownerIdColumn,
  formatOwner,
  sameOwner,
} from "./owner.ts";
export type { Owner, OwnerType } from "./owner.ts";
export {
  KeyName,
  Kid,
  KID_RULE,
  KEY_NAME_RULE,
  Meta,
  KeyPrefix,
  MAX_VALUE_BYTES,
  MAX_META_ENTRIES,
  parseKeyName,
  parseKid,
  parseWith,
} from "./names.ts";
export { parseTimePoint, TIME_RULE } from "./time.ts";
