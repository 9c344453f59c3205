// Preloaded (`node --import`) into the CLI child processes of the rotation bench: reports the
// child's own peak RSS on stderr when it exits, since a parent cannot read a child's maxRSS.
import { CHILD_RSS_PREFIX } from "./common.ts";

process.on("exit", () => {
  process.stderr.write(`${CHILD_RSS_PREFIX}${String(process.resourceUsage().maxRSS)}\n`);
});
