// Report one conversion to the function's URL, signed as the README's "Signing" section says.
//   URL=https://... REPORT_SIGNING_SECRET=... node report.mjs '{"SmsSdkAppId": "1400006666", "SerialNo": "..."}'
// Node.js 18+ (fetch), standard library only. Exit status: 0 for a 2xx answer, 1 otherwise, 2 when it could not ask.
import { createHmac } from "node:crypto";

const url = process.env.URL;
const secret = process.env.REPORT_SIGNING_SECRET;
const body = process.argv[2];
if (!url || !secret || body === undefined) {
  console.error("usage: URL=... REPORT_SIGNING_SECRET=... node report.mjs '<json body>'");
  process.exit(2);
}
const bytes = Buffer.from(body, "utf8");
const timestamp = Math.floor(Date.now() / 1000).toString();
// The signed bytes: the X-Timestamp value, a dot, then the raw body exactly as sent.
const digest = createHmac("sha256", secret).update(`${timestamp}.`).update(bytes).digest("hex");
try {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Timestamp": timestamp, "X-Signature": `sha256=${digest}` },
    body: bytes,
    signal: AbortSignal.timeout(30000),
  });
  console.log(`HTTP ${response.status}`);
  console.log(await response.text());
  process.exit(response.ok ? 0 : 1);
} catch (error) {
  console.error(`could not reach ${url}: ${error.cause?.message ?? error.message}`);
  process.exit(2);
}
