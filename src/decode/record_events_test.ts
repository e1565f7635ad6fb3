import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { recordEvents, RecordShapeError } from "./record_events.ts";

Deno.test("recordEvents() gives each event its record's logGroup and logStream", () => {
  const text = JSON.stringify({
    owner: "123456789012",
    logGroup: "/kinesyslog/syslog/514",
    logStream: "10.1.2.3",
    subscriptionFilters: ["/kinesyslog/syslog/514"],
    messageType: "DATA_MESSAGE",
    logEvents: [
      { id: "a", timestamp: 1700000000123, message: "<134>1 first" },
      { id: "b", timestamp: 1700000000124, message: "second" },
    ],
  });
  assertEquals(recordEvents(text), [
    {
      logGroup: "/kinesyslog/syslog/514",
      logStream: "10.1.2.3",
      id: "a",
      timestamp: 1700000000123,
      message: "<134>1 first",
    },
    { logGroup: "/kinesyslog/syslog/514", logStream: "10.1.2.3", id: "b", timestamp: 1700000000124, message: "second" },
  ]);
});

Deno.test("recordEvents() reads a CloudWatch Logs control message as no events", () => {
  assertEquals(
    recordEvents('{"messageType":"CONTROL_MESSAGE","logEvents":[{"id":"","timestamp":1,"message":"x"}]}'),
    [],
  );
});

Deno.test("recordEvents() names what is wrong with text that is not a record", async (t) => {
  const cases: [string, string][] = [
    ['{"logGroup":', "not valid JSON"],
    ["[1]", "not a JSON object"],
    ['{"logGroup":"g","logEvents":[]}', "logGroup, logStream and logEvents are required"],
    ['{"logGroup":"g","logStream":"s","logEvents":[{"id":"a","timestamp":"1","message":"m"}]}', "event 1 lacks"],
    ['{"logGroup":"g","logStream":"s","logEvents":[null]}', "event 1 lacks"],
  ];
  for (const [text, message] of cases) {
    await t.step(text, () => assertThrows(() => recordEvents(text), RecordShapeError, message));
  }
});
