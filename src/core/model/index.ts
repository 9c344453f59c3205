export {
  OwnerId,
  isOwnerId,
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
  MetaKey,
  META_KEY_RULE,
  META_TYPE_RULE,
  META_VALUE_TYPE_RULE,
  KeyPrefix,
  Version,
  REASON_REQUIRED_RULE,
  ExpectedVersion,
  MAX_VALUE_BYTES,
  MAX_META_ENTRIES,
  parseKeyName,
  parseKid,
  parseKeyPrefix,
  isKeyName,
  isKid,
  parseWith,
} from "./names.ts";
export { zod, lazySchema, provideZod } from "./zod-lazy.ts";
export { hasTextFields, isStringRecord, type TextField } from "./string-record.ts";
export { parseTimePoint, TIME_RULE } from "./time.ts";
