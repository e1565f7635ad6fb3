import fc from "fast-check";
import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { JsonTextError, JsonTextSplitter, JsonTextStream } from "./json_text_stream.ts";

function split(chunks: string[]): string[] {
  const s = new JsonTextSplitter();
  const out = chunks.flatMap((c) => s.push(c));
  s.end();
  return out;
}

Deno.test("JsonTextSplitter splits concatenated texts, with braces and quotes inside strings", async (t) => {
  const cases: [string[], string[]][] = [
    [['{"a":1}{"b":2}'], ['{"a":1}', '{"b":2}']],
    [['{"a":"}{"}\n\n {"b":"\\"}"}'], ['{"a":"}{"}', '{"b":"\\"}"}']],
    [['{"a":[{"b":[]}]}', "[1,2]"], ['{"a":[{"b":[]}]}', "[1,2]"]],
    [['{"a', '":"\\', '"', '"}'], ['{"a":"\\""}']],
    [["", " \n", '{"x":"\\\\"}'], ['{"x":"\\\\"}']],
    [["  "], []],
  ];
  for (const [chunks, texts] of cases) {
    await t.step(JSON.stringify(chunks), () => assertEquals(split(chunks), texts));
  }
});

Deno.test("JsonTextSplitter refuses what is not a sequence of JSON objects", () => {
  assertThrows(() => split(['{"a":1} x']), JsonTextError, "expected '{' between JSON texts");
  assertThrows(() => split(["\x1f\x8b"]), JsonTextError, "expected '{'");
  assertThrows(() => split(['{"a":1}{"b"']), JsonTextError, "the input ends inside a JSON text");
});

Deno.test("JsonTextSplitter yields the same texts however the input is cut (property)", () => {
  const value = fc.jsonValue({ maxDepth: 3 }).map((v) => ({ v, s: '}{"\\' }));
  fc.assert(
    fc.property(fc.array(value, { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 }), (values, cuts) => {
      const texts = values.map((v) => JSON.stringify(v));
      const whole = texts.join(cuts.length % 2 === 0 ? "" : "\n");
      const points = [...new Set(cuts.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b);
      const chunks: string[] = [];
      let at = 0;
      for (const p of points) {
        chunks.push(whole.slice(at, p));
        at = p;
      }
      chunks.push(whole.slice(at));
      assertEquals(split(chunks), texts);
    }),
    { numRuns: 500 },
  );
});

Deno.test("JsonTextStream passes texts through a web stream", async () => {
  const texts = await Array.fromAsync(ReadableStream.from(['{"a":1}{', '"b":2}']).pipeThrough(new JsonTextStream()));
  assertEquals(texts, ['{"a":1}', '{"b":2}']);
});
