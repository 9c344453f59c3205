import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { encryptFile, openFile } from "./sops-file.ts";

describe("INI files (best effort: no age vector exists)", () => {
  it("round-trips sections, comments and values as sops (go-ini) writes them, with section:key: as AAD", async () => {
    const id = await generateX25519Identity();
    const plain = "; top\n\n[db]\nuser = admin\npass = s3cret\n\n[app]\n# c\nport = 80\n";
    const enc = await encryptFile(Buffer.from(plain), "ini", {
      groups: [[{ type: "age", recipient: await identityToRecipient(id) }]],
      shamirThreshold: 0,
      rule: null,
      macOnlyEncrypted: false,
    });
    const text = Buffer.from(enc.bytes).toString();
    // A comment above [db] belongs to [db] (AAD `db:`), written `; …` right above the header.
    assert.match(text, /^; ENC\[[^\]]+type:comment\]\n\[db\]\nuser = ENC\[/);
    assert.match(text, /\n\[sops\]\nage__list_0__map_enc +=  ?-----BEGIN AGE ENCRYPTED FILE-----\\n/);
    const opened = await openFile(enc.bytes, "ini", [id], { ignoreMac: false });
    assert.equal(Buffer.from(opened.doc.serialize()).toString(), "; top\n[db]\nuser = admin\npass = s3cret\n\n[app]\n; c\nport = 80\n\n");
  });
});
