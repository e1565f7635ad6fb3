import { assertEquals } from "../../tests/assert.ts";
import { Logger } from "../log.ts";
import { CredentialsWatch } from "./credentials_watch.ts";

Deno.test("CredentialsWatch says once that there are none, reports it, and clears it once they resolve", async () => {
  const lines: string[] = [];
  let answer: string | undefined = "CredentialsProviderError: Could not load credentials from any providers";
  const watch = new CredentialsWatch(
    { check: () => Promise.resolve(answer), sources: () => ["environment", "EC2 instance metadata"] },
    new Logger({ write: (l) => lines.push(l) }),
  );
  try {
    await watch.check();
    await watch.check();
    assertEquals(watch.problem, answer);
    assertEquals(lines.filter((l) => l.includes("No AWS credentials from any provider")).length, 1);
    assertEquals(lines.some((l) => l.includes("environment, EC2 instance metadata")), true);
    answer = undefined;
    await watch.check();
    assertEquals(watch.problem, undefined);
    assertEquals(lines.filter((l) => l.includes("AWS credentials resolved")).length, 1);
  } finally {
    watch.close();
  }
});
